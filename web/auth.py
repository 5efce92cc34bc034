"""Who is signed in, for pages: a dependency that demands it, and the session cookie.

    @router.get("/inbox")
    def inbox(request: Request, person: Annotated[Account, Depends(signed_in)]): ...

A page that needs a signed-in person sends anybody else to `/login?next=<this page>`, and back
here after signing in. The session itself (its id, time-outs, ending) is the service layer's
(`ideaflow.signin`); the web keeps only the cookie.

A form of such a page that arrives without a valid session (timed out, signed out in another tab,
another person signed in in the same browser since) is not redirected: `form_not_saved` answers with
a page that says what happened, that nothing was saved, and shows back what the person wrote in the
form's free-text fields (`TYPED_FIELDS`) and a review's scores (each under its criterion's name, which
the review form carries), with a link to sign in and come back to the form's page. Nothing else of
the form is shown (hidden fields, the CSRF token, other choices). The CSRF check is as
strict as ever: a POST without the right token changes nothing; the cases are told apart only by the
cookies the server sees. A POST the browser says came from another site (`Origin`, `Sec-Fetch-Site`)
gets the plain CSRF page, and a text is shown back only when the form is known to be this site's (its
token matched, or the browser says it came from this site): a page elsewhere cannot make the
console show words of its choosing under its name. What a non-browser sends and reads back itself is
only its own text.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import RedirectResponse, Response

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.signin import Account, NewSession
from states.criteria import MAX_SCORE, MIN_SCORE
from web import pages
from web.security import CSRF_FIELD, SESSION_COOKIE, cookie_attributes

#: The fields of the console's forms where people write in their own words (textareas, a title), and
#: the label each is shown back under. Only these are shown back; `description-<n>` are the criteria's.
TYPED_FIELDS = {
    "title": N_("Title"),
    "description": N_("Description"),
    "reason": N_("Reason"),
    "comment": N_("Comment"),
    "evaluation_comment": N_("Comment"),
    "conflict_reason": N_("Why you have a conflict of interest"),
    "sites": N_("Test sites"),
    "followers": N_("Follow-up group"),
    "measures": N_("Measures"),
    "criteria_text": N_("The criteria in plain words"),
}
CRITERION_DESCRIPTION = re.compile(r"description-[0-9]{1,3}")
#: The review form's criterion names, each with its score (`score-N`) and must-meet answer (`must-N`).
CRITERION_NAME = re.compile(r"criterion-([0-9]{1,3})")
SCORES = {str(score) for score in range(MIN_SCORE, MAX_SCORE + 1)}

#: Why a form was not saved: its session timed out ("idle", "absolute") or had ended before ("ended"),
#: the browser was signed out ("signed_out"), or it is now signed in as somebody else ("someone_else").
Why = Literal["idle", "absolute", "ended", "signed_out", "someone_else"]


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def signed_in(request: Request) -> Account:
    person = pages.account(request)
    if person is None:
        raise SignInRequired(pages._here(request))
    return person


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(next_path, safe='/')}", status_code=303)


def start_session(request: Request, session: NewSession) -> RedirectResponse:
    """Set the new session's cookie and go on to the page the person was heading for."""
    response = RedirectResponse(session.next_path, status_code=303)
    secure = request.app.state.settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, session.session_id, **cookie_attributes(secure))
    return response


def end_session(request: Request, response: RedirectResponse) -> RedirectResponse:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        request.app.state.signin.sign_out(session_id, request.app.state.clock())
    response.delete_cookie(SESSION_COOKIE, **cookie_attributes(request.app.state.settings.secure_cookies))
    return response


def needs_sign_in(request: Request) -> bool:
    """Whether the request's page is one for signed-in people (it depends on `signed_in`)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    return dependant is not None and _depends_on_signed_in(dependant)


def _depends_on_signed_in(dependant: Dependant) -> bool:
    return dependant.call is signed_in or any(_depends_on_signed_in(d) for d in dependant.dependencies)


def carries_a_token(request: Request) -> bool:
    """Whether the POST has a CSRF field at all, as every form of this site has (if an outdated one)."""
    form = getattr(request.state, "posted_form", None)
    return form is not None and isinstance(form.get(CSRF_FIELD), str)


def from_elsewhere(request: Request) -> bool:
    """The browser says the request came from a page of another site (another host, or `null`)."""
    origin = request.headers.get("origin")
    if origin:
        return urlsplit(origin).netloc != request.url.netloc
    return request.headers.get("sec-fetch-site") in ("cross-site", "same-site")


def from_here(request: Request) -> bool:
    """The browser says the request came from a page of this site."""
    origin = request.headers.get("origin")
    if origin:
        return urlsplit(origin).netloc == request.url.netloc
    return request.headers.get("sec-fetch-site") == "same-origin"


def why_not_signed_in(request: Request) -> Why:
    """Why this POST, whose form token does not fit (or whose session is gone), has no live session."""
    if request.cookies.get(SESSION_COOKIE) is None:
        return "signed_out"
    if pages.account(request) is not None:
        return "someone_else"
    return pages.session_ended(request) or "ended"


def typed_text(request: Request, lang: str) -> list[tuple[str, str]]:
    """(label, text) of each free-text field the POST carried that is not empty, and of each criterion a
    review scored or answered (its name, its score and whether it is met), in the form's order."""
    form = getattr(request.state, "posted_form", None)
    shown = []
    for name, value in form.multi_items() if form is not None else ():
        if not isinstance(value, str) or not value.strip():
            continue
        if criterion := CRITERION_NAME.fullmatch(name):
            if scored := _scored(form, criterion[1], lang):
                shown.append((value.strip()[:60], scored))
            continue
        label = TYPED_FIELDS.get(name) or (N_("Description") if CRITERION_DESCRIPTION.fullmatch(name) else None)
        if label:
            shown.append((i18n.gettext(lang, label), value))
    return shown


def _scored(form, index: str, lang: str) -> str:
    """A criterion's score and must-meet answer as the review's refusal page says them ("4; met"), or ""."""
    score, must = form.get(f"score-{index}"), form.get(f"must-{index}")
    answered = must in ("yes", "no")
    if score not in SCORES and not answered:
        return ""
    said = [score if score in SCORES else "–"]
    if answered:
        said.append(i18n.gettext(lang, N_("met") if must == "yes" else N_("not met")))
    return "; ".join(said)


def form_not_saved(request: Request, why: Why, *, show_typed: bool) -> Response:
    """The page for a form of a signed-in page sent without a valid session: nothing was saved."""
    policy = request.app.state.signin.policy
    lang = pages.language(request)
    return pages.render(request, "form_not_saved.html", {
        "why": why,
        "idle_minutes": int(policy.idle.total_seconds() // 60),
        "absolute_hours": int(policy.absolute.total_seconds() // 3600),
        "typed": typed_text(request, lang) if show_typed else [],
        "back_to": pages._here(request),
    }, status_code=403 if why == "someone_else" else 401)
