"""The signed-in person's landing page, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ideaflow.signin import Account, safe_next
from states.vocabulary import Language
from web import i18n, pages
from web.auth import signed_in
from web.forms import PostedForm
from web.security import LANG_COOKIE, cookie_attributes

router = APIRouter()


@router.get("/home")
def home(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """What the person works with: each role's page (coordinator → portfolio, reviewer → inbox, …)."""
    return pages.render(request, "home.html")


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
