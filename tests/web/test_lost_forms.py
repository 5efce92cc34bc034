"""A form of a signed-in page sent without a valid session, over HTTP, in-process (Starlette's test client)
on a real database (SQLite and PostgreSQL): the session timed out, the browser signed out in another
tab, or somebody else signed in in the same browser since the form was opened. The answer is a page
saying what happened and that nothing was saved, with what the person wrote shown back (as text), and
a way to sign in and return to the form's page; a POST from another site still gets the plain refusal.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from test_public_pages import Site, h1

from ideaflow.views import idea_view
from states.vocabulary import Role

KARIN, BENT, PIA = "karin@taarnby.dk", "bent@taarnby.dk", "pia@borger.dk"
POOL = "Tårnby innovationspulje"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> Åse'
REASON = "Ligger uden for puljen.\nSe budgettet for 2027. " + HOSTILE
COMMENT = "Godt gennemarbejdet, men dyr. " + HOSTILE
HERE = "http://testserver"


@pytest.fixture
def site(engine, tmp_path):
    site = Site(engine, tmp_path)
    site.services.create_pool(POOL, 2_000_000, 2027, site.now)
    for email, name, role in ((KARIN, "Karin Koordinator", Role.COORDINATOR), (BENT, "Bent Bedømmer", Role.REVIEWER)):
        site.services.add_person(email, name, Role.PROPOSER, site.now)
        site.services.grant_role(email, role, site.now, pool=POOL)
    site.idea = site.services.submit(title="Fælles indgang", description="Én indgang for unge.", proposer=PIA,
                                     pool=POOL, now=site.now, requested_dkk=250_000)
    site.services.assign_reviewers(site.idea, KARIN, site.now, (BENT,))
    yield site
    site.container.close()


def browser(site: Site, email: str, client: TestClient | None = None) -> TestClient:
    """A browser of its own (or `client`), signed in as `email` through the mailed link."""
    client = client or TestClient(site.app)
    client.post("/login", data={"csrf_token": csrf(client), "email": email})
    signed = client.post("/login/continue", data={"csrf_token": csrf(client),
                                                  "token": site.link("/login/continue", to=email)})
    assert signed.status_code == 200 and "/home" in str(signed.url), signed.text
    return client


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/privacy").text).group(1)


def hidden_fields(client: TestClient, page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form on `page` that posts to `action`, as the browser would send them."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    form = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', shown.text, re.S).group(1)
    return {name: html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)">', form)}


def kill_form(client: TestClient, site: Site) -> tuple[str, dict[str, str]]:
    page = f"/ideas/{site.idea}"
    return page, {**hidden_fields(client, page, f"{page}/decide"), "decision": "kill", "reason": REASON}


def review_form(client: TestClient, site: Site) -> tuple[str, dict[str, str]]:
    page = f"/ideas/{site.idea}/review"
    scores = {f"score-{n}": "4" for n in range(6)}
    return page, {**hidden_fields(client, page, page), **scores, "must-2": "yes", "comment": COMMENT, "save": "submit"}


def send(client: TestClient, action: str, form: dict[str, str], page: str, **headers: str):
    return client.post(action, data=form, headers={"Referer": HERE + page, **headers}, follow_redirects=False)


def the_record(site: Site) -> dict:
    return idea_view(site.engine, site.idea).model_dump(mode="json")


def typed(answer) -> list[tuple[str, str]]:
    """(label, text) shown back in the region of what the person wrote."""
    region = re.search(r'<section class="typed-text" aria-labelledby="typed-heading">(.*?)</section>',
                       answer.text, re.S)
    if region is None:
        return []
    return [(html.unescape(label), html.unescape(value)) for label, value in re.findall(
        r'<label class="form-label" for="typed-\d+">([^<]*)</label>\s*<textarea[^>]* readonly>(.*?)</textarea>',
        region.group(1), re.S)]


def assert_shown_back_as_text(answer, form: dict[str, str], *typed_fields: tuple[str, str]) -> None:
    assert typed(answer) == list(typed_fields)  # the free text and a review's scores: no hidden field, no choice
    assert "<script>" not in answer.text and "<img src=x" not in answer.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in answer.text
    if "request_id" in form:  # the form's random key is nowhere on the page
        assert len(form["request_id"]) > 10 and form["request_id"] not in answer.text


def scored(review: dict[str, str]) -> list[tuple[str, str]]:
    """What the page shows of a review's scores: each criterion's name (the form's hidden field) and its
    score, and for the must-meet answer given, whether it is met."""
    names = [review[f"criterion-{n}"] for n in range(6)]
    assert len(set(names)) == 6 and all(names), names
    return [(name, "4; opfyldt" if n == 2 else "4") for n, name in enumerate(names)]


def sign_in_link(answer) -> str:
    return html.unescape(re.search(r'<a class="button button-primary" href="([^"]+)">', answer.text).group(1))


@pytest.mark.parametrize("timed_out", ["idle", "absolute"])
def test_forms_sent_after_the_time_out_say_so_save_nothing_and_show_what_was_typed(site, timed_out):
    coordinator, reviewer = browser(site, KARIN), browser(site, BENT)
    kill_page, kill = kill_form(coordinator, site)
    review_page, review = review_form(reviewer, site)
    before = the_record(site)
    if timed_out == "idle":
        site.now += timedelta(minutes=61)
    else:  # used all along, but signed in 12 hours ago
        with site.engine.begin() as connection:
            connection.execute(text("UPDATE web_sessions SET created_at = :then"),
                               {"then": (site.now - timedelta(hours=12)).replace(tzinfo=None)})
    browser(site, KARIN)  # signing in elsewhere clears away old sessions, but not the reason of these yet
    killed = send(coordinator, f"/ideas/{site.idea}/decide", kill, kill_page)
    reviewed = send(reviewer, review_page, review, review_page)
    for answer, page in ((killed, kill_page), (reviewed, review_page)):
        assert answer.status_code == 401 and h1(answer) == "Du er blevet logget ud"
        assert ("fordi du ikke har været aktiv i 60 minutter." if timed_out == "idle" else
                "fordi du har været logget ind i 12 timer; så skal du logge ind igen.") in answer.text
        assert "Intet blev gemt." in answer.text
        assert sign_in_link(answer) == f"/login?next={page}"
        assert answer.headers["cache-control"] == "no-store"
    assert_shown_back_as_text(killed, kill, ("Begrundelse", REASON))
    assert_shown_back_as_text(reviewed, review, *scored(review), ("Kommentar", COMMENT))
    assert the_record(site) == before
    # Sent once more, the session is already gone: the page still says why it likely went.
    again = send(coordinator, f"/ideas/{site.idea}/decide", kill, kill_page)
    assert again.status_code == 401 and "Du var ikke længere logget ind, da formularen blev sendt." in again.text
    assert_shown_back_as_text(again, kill, ("Begrundelse", REASON))
    # The sign-in link leads to the login page, which says why, and back to the form's page.
    login = coordinator.get(sign_in_link(again))
    assert login.status_code == 200 and "Log ind for at se siden." in login.text
    assert 'name="next" value="/ideas/' in login.text
    assert the_record(site) == before


def test_a_form_sent_after_signing_out_in_another_tab_says_so_and_saves_nothing(site):
    coordinator = browser(site, KARIN)
    page, kill = kill_form(coordinator, site)
    before = the_record(site)
    coordinator.post("/logout", data={"csrf_token": kill["csrf_token"]})
    answer = send(coordinator, f"/ideas/{site.idea}/decide", kill, page, Origin=HERE)
    assert answer.status_code == 401 and h1(answer) == "Du er logget ud"
    assert "Der blev logget ud i denne browser, efter formularen blev åbnet" in answer.text
    assert "Intet blev gemt." in answer.text and sign_in_link(answer) == f"/login?next={page}"
    assert_shown_back_as_text(answer, kill, ("Begrundelse", REASON))
    # Where the browser does not say the form is this site's, the words are not shown back.
    unsure = send(coordinator, f"/ideas/{site.idea}/decide", kill, page)
    assert unsure.status_code == 401 and h1(unsure) == "Du er logget ud" and typed(unsure) == []
    assert "Ligger uden for puljen" not in unsure.text
    assert the_record(site) == before
    # In English too.
    coordinator.post("/language", data={"csrf_token": csrf(coordinator), "lang": "en", "next": "/"})
    english = send(coordinator, f"/ideas/{site.idea}/decide", kill, page, **{"Sec-Fetch-Site": "same-origin"})
    assert english.status_code == 401 and h1(english) == "You are signed out" and "Nothing was saved." in english.text
    assert typed(english) == [("Reason", REASON)]


def test_a_form_sent_after_somebody_else_signed_in_in_the_same_browser_says_who_and_saves_nothing(site):
    shared = browser(site, KARIN)
    page, kill = kill_form(shared, site)
    before = the_record(site)
    browser(site, BENT, shared)  # Bent signs in on the shared PC
    answer = send(shared, f"/ideas/{site.idea}/decide", kill, page, Origin=HERE)
    assert answer.status_code == 403 and h1(answer) == "Du er nu logget ind som en anden"
    assert "den er nu logget ind som Bent Bedømmer" in answer.text and "Intet blev gemt." in answer.text
    # The person is signed in, as somebody else: the form is filled in again once signed in as themselves.
    assert "udfylde formularen igen, når du er logget ind som dig selv." in answer.text
    assert sign_in_link(answer) == f"/login?next={page}"
    assert_shown_back_as_text(answer, kill, ("Begrundelse", REASON))
    assert the_record(site) == before


def test_a_post_from_another_site_is_refused_as_before_without_its_words(site):
    coordinator = browser(site, KARIN)
    before = the_record(site)
    forged = {"decision": "kill", "reason": REASON}
    for client, headers in ((coordinator, {"Origin": "https://evil.example"}),
                            (coordinator, {"Origin": "null"}),
                            (coordinator, {"Sec-Fetch-Site": "cross-site"}),
                            (TestClient(site.app), {"Origin": "https://evil.example"})):
        answer = client.post(f"/ideas/{site.idea}/decide", data=forged, headers=headers, follow_redirects=False)
        assert answer.status_code == 403 and h1(answer) == "Du har ikke adgang til denne side", headers
        assert "Formularen var udløbet eller kom ikke fra ideaflow, så intet blev gemt." in answer.text
        assert typed(answer) == [] and "Ligger uden for puljen" not in answer.text
    # Without a word from the browser on where it came from, nor a token (no form of this site): the same.
    blind = coordinator.post(f"/ideas/{site.idea}/decide", data=forged, follow_redirects=False)
    assert blind.status_code == 403 and h1(blind) == "Du har ikke adgang til denne side"
    assert typed(blind) == [] and "Ligger uden for puljen" not in blind.text
    assert the_record(site) == before


def test_a_public_form_without_its_token_keeps_the_plain_refusal(site):
    answer = TestClient(site.app).post("/login", data={"email": "x@y.dk"}, headers={"Origin": HERE})
    assert answer.status_code == 403 and "kom ikke fra ideaflow" in answer.text


def test_a_signed_out_visit_to_a_staff_page_still_goes_to_sign_in_which_says_why(site):
    visitor = TestClient(site.app)
    sent = visitor.get(f"/ideas/{site.idea}", follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/login?next=/ideas/{site.idea}"
    assert "Log ind for at se siden." in visitor.get(sent.headers["location"]).text
    assert "Log ind for at se siden." not in visitor.get("/login").text
