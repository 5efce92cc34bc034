"""What every response and every POST gets, whoever wrote the page.

- Headers: a Content-Security-Policy that allows no inline script or style and no framing,
  `nosniff`, a referrer policy, and `no-store` on pages (they may show personal data).
- A request body limit: reading more than `max_body_bytes` raises `BodyTooLarge` (a 413 page);
  `larger_bodies` names the paths (a form with attachments) that may send more, and how much.
- CSRF: a random cookie (HttpOnly, SameSite=Lax) and, in every form, a hidden field holding a keyed
  hash of that cookie and the session cookie. Every POST must carry it (a global dependency checks),
  so forms work without JavaScript and a form posted from another site is refused. Binding the
  token to the session means a token learnt before signing in is worthless after it.
"""

from __future__ import annotations

import hmac
import re
import secrets
from http.cookies import SimpleCookie

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "ideaflow_csrf"
CSRF_FIELD = "csrf_token"
SESSION_COOKIE = "ideaflow_session"
LANG_COOKIE = "ideaflow_lang"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


class BodyTooLarge(Exception):
    pass


class CsrfRefused(Exception):
    pass


def cookie_attributes(secure: bool) -> dict:
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


class SecurityMiddleware:
    """Pure ASGI: adds the security headers, hands out the CSRF cookie, and limits request bodies.

    The CSRF cookie's value is put in `scope["state"]["csrf_cookie"]` (drawn now if the browser
    sent none, and then set on the response), so the page rendered in this same request can already
    carry a token that the next POST will match.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, secure: bool,
                 larger_bodies: tuple[tuple[re.Pattern, int], ...] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.secure = secure
        self.larger_bodies = larger_bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = _cookie(scope, CSRF_COOKIE)
        new_cookie = None
        if not cookie or len(cookie) > 100:
            cookie = new_cookie = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_cookie"] = cookie

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                protect(headers, self.secure)
                if new_cookie:
                    jar = SimpleCookie()
                    jar[CSRF_COOKIE] = new_cookie
                    morsel = jar[CSRF_COOKIE]
                    morsel.update({"httponly": True, "samesite": "Lax", "path": "/", "secure": self.secure})
                    headers.append("Set-Cookie", morsel.OutputString())
            await send(message)

        await self.app(scope, self._limited(scope, receive), send_with_headers)

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        limit = next((n for path, n in self.larger_bodies if path.fullmatch(scope["path"])), self.max_body_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        return limited_receive


def protect(headers: MutableHeaders, secure: bool) -> None:
    """The security headers every response carries (the server-error page adds them itself: Starlette
    sends it from outside every middleware)."""
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if headers.get("content-type", "").startswith("text/html"):
        headers.setdefault("Cache-Control", "no-store")


def _cookie(scope: Scope, name: str) -> str | None:
    """The named cookie from the request's Cookie header, read as Starlette reads `request.cookies`: the
    standard library's `http.cookies` gives up on the whole header at one cookie it cannot read (a
    consent tool's JSON value, a space in a value), and the site's other services share the header."""
    for key, value in scope["headers"]:
        if key == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(name)
    return None


def csrf_token(request: Request) -> str:
    """The hidden field's value for forms on this page."""
    keys = request.app.state.signin.keys
    return keys.digest("csrf", request.state.csrf_cookie + "|" + request.cookies.get(SESSION_COOKIE, ""))


#: POSTs that carry their own credential instead of a form of this site: the digest's unsubscribe link,
#: which mail clients POST to in one click (RFC 8058) with the link's random per-person token.
CSRF_EXEMPT = frozenset({"/preferences/unsubscribe"})


async def csrf_protect(request: Request) -> None:
    """Global dependency: a POST without the right hidden field is refused (403) before its page runs."""
    if request.method != "POST" or request.url.path in CSRF_EXEMPT:
        return
    try:
        form = await request.form()
    except HTTPException as refused:
        # Starlette refuses a form field beyond 1 MiB (far beyond any field's limit) as a bare 400:
        # to the sender it is what it is, too large, and gets that page.
        if "exceeded maximum size" in str(refused.detail):
            raise BodyTooLarge() from refused
        raise
    request.state.posted_form = form  # what a form sent without a valid session shows back (web.auth)
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfRefused()
