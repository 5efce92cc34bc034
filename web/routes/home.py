"""The signed-in person's landing page and preferences (language, the weekly digest), the digest's
unsubscribe link, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.signin import Account, safe_next
from states.errors import NotFound
from states.vocabulary import Language
from web import pages
from web.auth import signed_in
from web.forms import Form, PostedForm
from web.security import LANG_COOKIE, cookie_attributes

router = APIRouter()

CHOOSE_LANGUAGE = N_("Choose a language.")
CHOOSE_DIGEST = N_("Choose whether you want the weekly digest.")


@router.get("/home")
def home(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """What the person works with: each role's page (coordinator → portfolio, reviewer → inbox, …)."""
    return pages.render(request, "home.html")


@router.get("/preferences")
def preferences(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """The person's own settings: the language of their pages and mail, and whether they get the digest."""
    stopped = request.app.state.services.digest_opted_out(person.email)
    return _preferences_page(request, Form({"lang": person.lang, "digest": "off" if stopped else "on"}))


@router.post("/preferences")
def save_preferences(request: Request, person: Annotated[Account, Depends(signed_in)], form: PostedForm) -> Response:
    if form.value("lang") not in i18n.LANGUAGES:
        form.error("lang", CHOOSE_LANGUAGE)
    if form.value("digest") not in ("on", "off"):
        form.error("digest", CHOOSE_DIGEST)
    if form.errors:
        return form.invalid(request, "preferences.html", _choices(request))
    now = request.app.state.clock()
    request.app.state.signin.set_language(person, Language(form.value("lang")), now)
    request.app.state.services.set_digest_opt_out(person.email, form.value("digest") == "off", now)
    return RedirectResponse("/preferences?status=saved", status_code=303)


DIGEST_CHOICES = (("on", N_("Yes, send me the weekly digest")), ("off", N_("No, stop the weekly digest")))


def _choices(request: Request) -> dict:
    lang = pages.language(request)
    return {"languages_all": [(code, i18n.NAMES[code], code) for code in i18n.LANGUAGES],  # each in its own
            "digest_choices": [(value, i18n.gettext(lang, label)) for value, label in DIGEST_CHOICES]}


@router.get("/preferences/unsubscribe")
def unsubscribe_page(request: Request, token: str = "") -> Response:
    """The page the digest's "stop" link opens: it asks for a click, since mail scanners open links too."""
    return _unsubscribe_page(request, token=token)


@router.post("/preferences/unsubscribe")
def unsubscribe(request: Request, token: str = "") -> Response:
    """Stop the digest of the person whose link carries `token`: the page's button, or a mail client's
    one-click POST (RFC 8058), which carries no form of this site: the token is the credential here,
    so this path needs no CSRF field (`web.security.CSRF_EXEMPT`)."""
    try:
        request.app.state.services.unsubscribe_digest(token, request.app.state.clock())
    except NotFound:
        return _unsubscribe_page(request, unknown=True, status_code=404)
    return _unsubscribe_page(request, stopped=True)


def _unsubscribe_page(request: Request, *, token: str = "", stopped: bool = False, unknown: bool = False,
                      status_code: int = 200) -> Response:
    return pages.render(request, "unsubscribe.html", {"token": token, "stopped": stopped, "unknown": unknown},
                        status_code=status_code)


def _preferences_page(request: Request, form: Form) -> Response:
    return pages.render(request, "preferences.html", {"form": form, **_choices(request)})


@router.post("/language")
def choose_language(request: Request, form: PostedForm) -> Response:
    """Switch language: a signed-in person's choice is kept with them (their mail follows it too),
    a visitor's in a cookie for a year."""
    lang = form.value("lang")
    back = safe_next(form.value("next"), default="/")
    if lang not in i18n.LANGUAGES:
        return RedirectResponse(back, status_code=303)
    person = pages.account(request)
    if person is not None:
        request.app.state.signin.set_language(person, Language(lang), request.app.state.clock())
    response = RedirectResponse(back + ("&" if "?" in back else "?") + "status=language", status_code=303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600,
                        **cookie_attributes(request.app.state.settings.secure_cookies))
    return response
