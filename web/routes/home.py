"""The signed-in person's landing page and preferences, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.signin import Account, safe_next
from states.vocabulary import Language
from web import pages
from web.auth import signed_in
from web.forms import Form, PostedForm
from web.security import LANG_COOKIE, cookie_attributes

router = APIRouter()

CHOOSE_LANGUAGE = N_("Choose a language.")


@router.get("/home")
def home(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """What the person works with: each role's page (coordinator → portfolio, reviewer → inbox, …)."""
    return pages.render(request, "home.html")


@router.get("/preferences")
def preferences(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """The person's own settings: the language of their pages and mail."""
    return _preferences_page(request, Form({"lang": person.lang}))


@router.post("/preferences")
def save_preferences(request: Request, person: Annotated[Account, Depends(signed_in)], form: PostedForm) -> Response:
    if form.value("lang") not in i18n.LANGUAGES:
        form.error("lang", CHOOSE_LANGUAGE)
        return form.invalid(request, "preferences.html", _choices())
    request.app.state.signin.set_language(person, Language(form.value("lang")), request.app.state.clock())
    return RedirectResponse("/preferences?status=saved", status_code=303)


def _choices() -> dict:
    return {"languages_all": [(code, i18n.NAMES[code]) for code in i18n.LANGUAGES]}


def _preferences_page(request: Request, form: Form) -> Response:
    return pages.render(request, "preferences.html", {"form": form, **_choices()})


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
