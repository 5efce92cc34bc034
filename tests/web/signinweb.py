"""What the sign-in browser tests share: the people, the mail the console delivered, signing in."""

from __future__ import annotations

import email
import email.policy
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import expect

from states.vocabulary import Language, Role

KARIN = "koordinator@kommune.dk"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> Åse'


def add_people(services) -> None:
    now = datetime.now(UTC)
    services.add_person(KARIN, "Karin Koordinator", Role.COORDINATOR, now)
    services.add_person("reviewer@kommune.dk", "Bent Bedømmer", Role.REVIEWER, now, Language.EN)
    services.add_person("hostile@kommune.dk", HOSTILE, Role.FOLLOWER, now)


def mail_folder(server) -> Path:
    return Path(server.env["IDEAFLOW_MAIL_DIR"])


def delivered_link(server, to: str, *, after: int = 0, timeout: float = 20) -> str:
    """The sign-in link of the newest mail to `to` (waiting for it: it is sent after the answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for path in sorted(mail_folder(server).glob("*.eml")) if mail_folder(server).exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to in message["To"] and path.stat().st_mtime_ns > after:
                body = message.get_body(("plain",)).get_content()
                found.append((path.stat().st_mtime_ns, re.search(r"(http\S+/login/continue\?token=\S+)", body)[1]))
        if found:
            return max(found)[1]
        time.sleep(0.1)
    raise AssertionError(f"no sign-in mail to {to} in {mail_folder(server)}")


def ask_for_link(page, server, address: str) -> str:
    started = time.time_ns()
    page.goto(server.url + "login")
    page.get_by_label(re.compile("E-mail")).fill(address)
    page.get_by_role("button", name=re.compile("Send mig et link|Send me a link")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Tjek din e-mail|Check your e-mail"))
    return delivered_link(server, address, after=started)


def sign_in(page, server, address: str = KARIN) -> str:
    return continue_with(page, ask_for_link(page, server, address))


def continue_with(page, link: str) -> str:
    """Open a sign-in link and press its Continue button (only that POST spends the token)."""
    page.goto(link)
    page.get_by_role("button", name=re.compile("Fortsæt|Continue")).click()
    expect(page).to_have_url(re.compile(r"/home$"))
    return session_cookie(page)


def session_cookie(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "ideaflow_session"), None)


def fetch(url: str, *, data: bytes | None = None, cookie: str = "") -> tuple[int, dict[str, str], str]:
    """A plain HTTP request, not a browser (a mail scanner, or an attacker's script)."""
    request = urllib.request.Request(url, data=data, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def visible_focus(page) -> bool:
    """The focused element has a visible outline (WCAG 2.4.7)."""
    style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                          " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    return style[0] != "none" and style[1] >= 2
