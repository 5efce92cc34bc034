"""The sign-in pages over HTTP, in-process (Starlette's test client) on a real database (SQLite and
PostgreSQL), mail written to a folder: a link asked for twice is mailed once, with the same answer for a
known and an unknown address, and the page the link opens names whom it signs in.

The browser walks the same pages in tests/web/test_signin_browser.py.
"""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from test_public_pages import Site

from states.vocabulary import Language, Role

KARIN, BENT = "karin@kommune.dk", "bent@kommune.dk"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> Åse'


@pytest.fixture
def site(engine, tmp_path):
    site = Site(engine, tmp_path)
    site.services.add_person(KARIN, "Karin " + HOSTILE, Role.COORDINATOR, site.now)
    site.services.add_person(BENT, "Bent Bedømmer", Role.REVIEWER, site.now, Language.EN)
    yield site
    site.container.close()


def ask(site, address: str):
    return site.client.post("/login", data={"csrf_token": site.csrf(), "email": address})


def mails_to(site, address: str) -> int:
    return sum(m["To"].addresses[0].addr_spec == address for m in site.mails())


def test_sending_the_form_again_at_once_mails_no_second_link_and_answers_the_same(site):
    """A double click on "Send", or a reload of the POST: one link in the mailbox, and the page is the
    same as the first time, and the same as for an address nobody has (it tells nothing about who exists)."""
    first, again = ask(site, KARIN), ask(site, KARIN.upper())
    nobody, nobody_again = ask(site, "nobody@kommune.dk"), ask(site, "nobody@kommune.dk")
    assert first.status_code == again.status_code == nobody.status_code == nobody_again.status_code == 200
    assert mails_to(site, KARIN) == 1 and len(site.mails()) == 1
    assert "Tjek din e-mail" in first.text

    def main(page, address: str) -> str:
        return re.search(r"<main.*</main>", page.text, re.S).group(0).replace(address, "ADDRESS")

    assert main(first, KARIN) == main(again, KARIN.upper()) == main(nobody, "nobody@kommune.dk") == \
        main(nobody_again, "nobody@kommune.dk")
    # Once the link is used (say, on another computer), a new one is mailed at once.
    site.client.post("/login/continue", data={"csrf_token": site.csrf(), "token": site.link("/login/continue")})
    ask(site, KARIN)
    assert mails_to(site, KARIN) == 2


def test_switching_language_after_asking_for_a_link_says_again_that_it_is_on_its_way(site):
    """The page after asking answers a POST; its language switch comes back to /login/sent, which says the
    same in the other language (without the address), not to an empty sign-in form."""
    sent = ask(site, KARIN)
    assert 'name="next" value="/login/sent"' in sent.text
    switched = site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": "/login/sent"})
    assert switched.status_code == 200 and "<h1>Check your e-mail</h1>" in switched.text
    assert "If the address you gave belongs to somebody who uses ideaflow, a link to sign in is on its way" in \
        switched.text and KARIN not in switched.text
    assert mails_to(site, KARIN) == 1  # shown again, nothing sent again


def test_the_pages_say_the_minutes_the_installation_set(engine, tmp_path):
    """The link's life and the limit's window are settings (IDEAFLOW_SIGNIN_LINK_MINUTES, _WINDOW_MINUTES):
    the pages say them as set, as the mail does, not a fixed quarter of an hour."""
    site = Site(engine, tmp_path, signin_link_minutes=30, signin_window_minutes=1, signin_per_address=1)
    try:
        site.services.add_person(KARIN, "Karin Koordinator", Role.COORDINATOR, site.now)
        assert "det virker én gang og i 30 minutter." in site.client.get("/login").text
        assert "Åbn det inden for 30 minutter" in ask(site, KARIN).text
        site.client.post("/login/continue", data={"csrf_token": site.csrf(), "token": site.link("/login/continue")})
        limited = ask(site, KARIN)
        assert limited.status_code == 429 and "prøv igen om 1 minut." in limited.text
        expired = site.client.get("/login/continue?token=forkert")
        assert expired.status_code == 410 and "virker én gang og i 30 minutter." in expired.text
    finally:
        site.container.close()


def test_the_page_a_link_opens_names_whom_it_signs_in(site):
    """Somebody at a shared computer sees whose link it is before pressing the button."""
    ask(site, KARIN)
    token = site.link("/login/continue", to=KARIN)
    page = site.client.get(f"/login/continue?token={token}")
    assert page.status_code == 200
    said = re.search(r"<h1>Log ind</h1>\s*<p>(.*?)</p>", page.text, re.S).group(1)
    assert html.unescape(re.sub(r"<[^>]+>", "", said)) == f"Linket logger Karin {HOSTILE} ({KARIN}) ind."
    assert HOSTILE not in page.text  # the name as text, not markup
    assert "Er det ikke dig? Så luk siden" in page.text
    ask(site, BENT)  # opened in a browser of its own: in Bent's own language, English
    english = TestClient(site.app).get(f"/login/continue?token={site.link('/login/continue', to=BENT)}")
    assert f"This link signs in <strong>Bent Bedømmer</strong> ({BENT})." in english.text
    assert site.client.get("/login/continue?token=made-up").status_code == 410  # nobody named for no link
