"""Signing in and out: `/login` (a link by e-mail), `/login/continue` (the page the link opens, whose
POST signs in), `/auth/oidc` (single sign-on, when configured) and `/logout`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.background import BackgroundTask

from ideaflow.i18n import N_
from ideaflow.signin import SingleSignOnFailed
from states.errors import BadInput, Refused
from web import auth, pages
from web.forms import NOT_AN_ADDRESS, Form, PostedForm
from web.security import SESSION_COOKIE, cookie_attributes

router = APIRouter()
log = logging.getLogger("ideaflow.web")

OIDC_STATE_COOKIE = "ideaflow_oidc_state"


def _now(request: Request):
    return request.app.state.clock()


def _terms(request: Request) -> dict:
    """What the sign-in pages say of signing in here: single sign-on or not, and the configured minutes."""
    settings = request.app.state.settings
    return {"oidc": request.app.state.single_sign_on is not None, "link_minutes": settings.signin_link_minutes,
            "window_minutes": settings.signin_window_minutes}


@router.get("/login")
def login(request: Request, next: str = "") -> Response:  # noqa: A002 (the parameter's name in the URL)
    return pages.render(request, "login.html", {"form": Form({"next": next}), **_terms(request)})


@router.post("/login")
def ask_for_link(request: Request, form: PostedForm) -> Response:
    email = form.email()
    if form.errors:
        return form.invalid(request, "login.html", _terms(request))
    signin = request.app.state.signin
    client = request.client.host if request.client else "unknown"
    try:
        asked = signin.request_link(email, client, _now(request), form.value("next") or None)
    except BadInput:
        form.error("email", NOT_AN_ADDRESS)
        return form.invalid(request, "login.html", _terms(request))
    except Refused as refused:  # the command line's operator: no web user
        form.failed(refused, {"email": ("email", N_("E-mail address"))})
        return form.invalid(request, "login.html", _terms(request))
    if asked.limited:
        return pages.render(request, "login_limited.html", _terms(request), status_code=429)
    # Its language switch comes back to /login/sent: the answer to a POST has no address of its own, and the
    # form it came from would come back empty, as if nothing had been sent.
    response = pages.render(request, "login_sent.html", {"email": email, "here": "/login/sent", **_terms(request)})
    # Sent after the answer: a known address then takes no longer to answer than an unknown one.
    response.background = BackgroundTask(signin.deliver, asked, _now(request))
    return response


@router.get("/login/sent")
def link_sent(request: Request) -> Response:
    """What the page after asking for a link says, again (in the language just chosen), without the address."""
    return pages.render(request, "login_sent.html", {"email": None, "here": "/login/sent", **_terms(request)})


@router.get("/login/continue")
def continue_page(request: Request, token: str = "") -> Response:
    """The page a sign-in link opens, naming whom it signs in. Opening it spends nothing: mail scanners
    open links too."""
    holder = request.app.state.signin.link_holder(token, _now(request)) if token else None
    if holder is None:
        return pages.render(request, "login_expired.html", _terms(request), status_code=410)
    pages.speak_as_the_link(request, holder.lang)
    # Whose link it is, so that nobody at a shared computer signs in as somebody else by mistake.
    return pages.render(request, "login_continue.html", {"token": token, "holder": holder})


@router.post("/login/continue")
def sign_in(request: Request, form: PostedForm) -> Response:
    session = request.app.state.signin.redeem(form.value("token"), _now(request),
                                              replacing=request.cookies.get(SESSION_COOKIE))
    if session is None:
        return pages.render(request, "login_expired.html", _terms(request), status_code=410)
    return auth.start_session(request, session)


@router.post("/logout")
def sign_out(request: Request) -> Response:
    return auth.end_session(request, RedirectResponse("/login?status=signed_out", status_code=303))


@router.get("/auth/oidc")
def single_sign_on(request: Request, next: str = "") -> Response:  # noqa: A002
    sso = request.app.state.single_sign_on
    if sso is None:
        return pages.render(request, "error.html", {"code": 404}, status_code=404)
    try:
        redirect = sso.start(next or None, _now(request))
    except SingleSignOnFailed as failure:
        log.warning("single sign-on could not start: %s", failure)
        return pages.render(request, "login_sso_failed.html", status_code=502)
    response = RedirectResponse(redirect.url, status_code=303)
    response.set_cookie(OIDC_STATE_COOKIE, redirect.state, max_age=15 * 60,
                        **cookie_attributes(request.app.state.settings.secure_cookies))
    return response


@router.get("/auth/oidc/callback")
def single_sign_on_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    sso = request.app.state.single_sign_on
    if sso is None:
        return pages.render(request, "error.html", {"code": 404}, status_code=404)
    try:
        if error or not code:
            raise SingleSignOnFailed(f"the identity provider answered {error or 'without a code'}")
        session = sso.finish(code=code, state=state, browser_state=request.cookies.get(OIDC_STATE_COOKIE),
                             now=_now(request), replacing=request.cookies.get(SESSION_COOKIE))
    except SingleSignOnFailed as failure:
        log.warning("single sign-on failed: %s", failure)
        return pages.render(request, "login_sso_failed.html", status_code=400)
    if session is None:
        return pages.render(request, "login_sso_unknown.html", status_code=403)
    response = auth.start_session(request, session)
    response.delete_cookie(OIDC_STATE_COOKIE, **cookie_attributes(request.app.state.settings.secure_cookies))
    return response
