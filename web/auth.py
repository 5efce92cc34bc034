"""Who is signed in, for pages: a dependency that demands it, and the session cookie.

    @router.get("/inbox")
    def inbox(request: Request, person: Annotated[Account, Depends(signed_in)]): ...

A page that needs a signed-in person sends anybody else to `/login?next=<this page>`, and back
here after signing in. The session itself (its id, time-outs, ending) is the service layer's
(`ideaflow.signin`); the web keeps only the cookie.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse

from ideaflow.signin import Account, NewSession
from web import pages
from web.security import SESSION_COOKIE, cookie_attributes


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
