"""The web console's application factory.

    app = create_app(bootstrap(settings))     # what `ideaflow web` serves
    uvicorn --factory web.app:from_environment   # the same, for uvicorn's own workers

The console is an entry point like the CLI: every page calls the service layer through the
composition root's container (`app.state.container`: `services`, `views`, `signin`, `intake`, …; the most used
are also `app.state.services`, `app.state.signin` and `app.state.intake`) and holds no business rule and no SQL. Pages
are server-rendered and work without JavaScript. Page modules add an `APIRouter` to `ROUTERS` below.
What every page gets without asking (security headers, CSRF on every POST, the body limit, error
pages that never show a stack trace, the layout, the language) is set up here.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ideaflow.bootstrap import Container, bootstrap
from states.errors import BadInput, NotAllowed, NotFound, Refused
from states.messages import sentence
from web import auth, pages
from web.routes import administration, home, idea, pilots, portfolio, public, reviews, signin
from web.security import BodyTooLarge, CsrfRefused, SecurityMiddleware, csrf_protect, protect

STATIC = Path(__file__).with_name("static")
ROUTERS = (signin.router, home.router, public.router, reviews.router, pilots.router, portfolio.router,
           idea.router, administration.router)
#: The public idea form's POST may carry its attachments: its body limit is theirs plus room for the fields.
IDEA_FORM = re.compile(r"/pools/[0-9]+/ideas/new")


def create_app(container: Container, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    settings = container.settings
    app = FastAPI(title="ideaflow", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf_protect)])
    app.state.container = container
    app.state.settings = settings
    app.state.services = container.services
    app.state.signin = container.signin
    app.state.intake = container.intake
    app.state.privacy = public.privacy_texts(container.privacy)
    app.state.clock = clock
    app.state.single_sign_on = _single_sign_on(container) if settings.oidc_enabled else None
    form_limit = max(settings.max_body_bytes,
                     settings.attachment_max_count * settings.attachment_max_bytes + 1024 * 1024)
    app.add_middleware(SecurityMiddleware, max_body_bytes=settings.max_body_bytes, secure=settings.secure_cookies,
                       larger_bodies=((IDEA_FORM, form_limit),))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    _error_pages(app)
    return app


def _single_sign_on(container: Container):
    """The OIDC client, imported only here: Authlib, requests and joserfc load only where it is configured."""
    from ideaflow.oidc import SingleSignOn

    s = container.settings
    return SingleSignOn(container.signin, issuer=s.oidc_issuer, client_id=s.oidc_client_id,
                        client_secret=s.oidc_client_secret.get_secret_value(), public_url=s.public_url,
                        email_claim=s.oidc_email_claim)


def _error(request: Request, code: int, reason: str = "", *, look_up_person: bool = True) -> Response:
    return pages.render(request, "error.html", {"code": code, "reason": reason}, status_code=code,
                        look_up_person=look_up_person)


def _error_pages(app: FastAPI) -> None:
    """Every failure answers with a page in the visitor's language, never a stack trace or JSON."""

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code if exc.status_code in (403, 404, 405) else 400)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, exc: RequestValidationError) -> Response:
        # A page's path or query parameter of the wrong form (/ideas/abc): no such page.
        return _error(request, 404)

    @app.exception_handler(CsrfRefused)
    def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        # A form of a signed-in page whose token no longer fits the browser's session (signed out in
        # another tab, somebody else signed in since) says so, unless it has no token at all or the
        # browser says it came from another site; what was typed is shown back only when the browser
        # says the form is this site's.
        if auth.needs_sign_in(request) and auth.carries_a_token(request) and not auth.from_elsewhere(request):
            return auth.form_not_saved(request, auth.why_not_signed_in(request), show_typed=auth.from_here(request))
        return _error(request, 403, "csrf")

    @app.exception_handler(BodyTooLarge)
    def too_large(request: Request, exc: BodyTooLarge) -> Response:
        return _error(request, 413)

    @app.exception_handler(auth.SignInRequired)
    def sign_in_first(request: Request, exc: auth.SignInRequired) -> Response:
        if request.method == "POST":
            # The form's token fitted (the CSRF check comes first): it is this site's, sent by a browser
            # whose session has timed out or ended since the page was shown.
            return auth.form_not_saved(request, auth.why_not_signed_in(request), show_typed=True)
        return auth.login_redirect(exc.next_path)

    @app.exception_handler(NotFound)
    def not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404)

    @app.exception_handler(NotAllowed)
    def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return _error(request, 403)

    # A refusal or bad input no form catches is said in the page's language (`str(exc)` is the English
    # line for logs and the audit).
    @app.exception_handler(Refused)
    def refused(request: Request, exc: Refused) -> Response:
        return _error(request, 409, sentence(exc, pages.language(request)))

    @app.exception_handler(BadInput)
    def bad_input(request: Request, exc: BadInput) -> Response:
        return _error(request, 400, sentence(exc, pages.language(request)))

    @app.exception_handler(Exception)
    def server_error(request: Request, exc: Exception) -> Response:
        # Starlette then re-raises, so the server logs the traceback; the visitor sees only the page.
        response = _error(request, 500, look_up_person=False)
        protect(response.headers, request.app.state.settings.secure_cookies)
        return response


def from_environment() -> FastAPI:
    """The console for IDEAFLOW_* settings from the environment: `uvicorn --factory web.app:from_environment`.

    Checked as `ideaflow web` checks it before it starts: a setting it cannot use, or a mail sender no SMTP
    server would accept, is the line `ideaflow web` says (on stderr) and exit status 2, not a traceback;
    the privacy notice's missing texts are its warnings. A worker of `uvicorn --workers N` (a process
    uvicorn spawned) exits with uvicorn's own status for an app that cannot start (3) instead: its
    supervisor then stops, where it would start the worker again and again after any other."""
    from pydantic import ValidationError

    from ideaflow.config import Settings, explain
    from states.messages import render

    try:
        settings = Settings()
    except ValidationError as error:
        _cannot_start(f"bad setting: {explain(error)}")
    container = bootstrap(settings)
    try:
        container.check_mail()
    except BadInput as error:
        _cannot_start(f"bad input: {render(error, settings.lang)}")
    for warning in container.privacy_warnings():
        sys.stderr.write(f"ideaflow: {warning}\n")
    sys.stderr.flush()
    return create_app(container)


def _cannot_start(line: str) -> NoReturn:
    import multiprocessing

    sys.stderr.write(f"ideaflow: {line}\n")
    sys.stderr.flush()
    if multiprocessing.parent_process() is not None:
        from uvicorn.config import STARTUP_FAILURE

        raise SystemExit(STARTUP_FAILURE) from None
    raise SystemExit(2) from None
