"""A follow-up group's pages and mail say the same thing in the same words, over HTTP, in-process (Starlette's
test client) on a real database (SQLite and PostgreSQL), mail written to a folder: the pilot's status once it
has ended, its outcome, and what the inbox says to someone who reviews nothing."""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta

import pytest
from test_public_pages import Site

from ideaflow.digests import Cadence
from states.criteria import TAARNBY_CRITERIA
from states.errors import Conflict
from states.formatting import day
from states.model import local_midnight
from states.vocabulary import COPENHAGEN, Decision, Language, Outcome, Role

COORDINATOR, FOLLOWER, FOLLOWER_EN = "koordinator@kommune.dk", "byraad@kommune.dk", "council@kommune.dk"
SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}
TITLE = "Madservice i Viby"


@pytest.fixture
def site(engine, tmp_path):
    site = Site(engine, tmp_path)
    yield site
    site.container.close()


def status(page) -> str:
    return re.search(r"<dt>Status</dt><dd>(.*?)</dd>", page.text).group(1)


def flushed(site, to: str) -> list:
    """The mail delivered to `to` (the outbox flushed to the mail folder first)."""
    site.services.flush_outbox(site.now, site.container.mail_transport(), site.container.letterhead)
    return [m for m in site.mails() if m["To"].addresses[0].addr_spec == to]


def funded_with_a_pilot(site, followers: tuple[str, ...], days: int, title: str = TITLE) -> tuple[int, date]:
    """An idea of Velfærdspuljen through screening and funding, its pilot of `days` days planned to begin
    tomorrow with `followers` as its group; returns the idea and the pilot's first day."""
    svc, now = site.services, site.now
    with contextlib.suppress(Conflict):  # the proposer of an earlier one
        svc.add_person("borger@example.dk", "Birgit Borger", Role.PROPOSER, now)
    svc.grant_role(COORDINATOR, Role.REVIEWER, now, pool="Velfærdspuljen")
    idea = svc.submit(title=title, description="Varm mad.", proposer="borger@example.dk", pool="Velfærdspuljen",
                      now=now, requested_dkk=100_000)
    for _ in range(2):
        svc.review(idea, COORDINATOR, SCORES, now)
        svc.decide(idea, Decision.GO, COORDINATOR, now)
    start = (now + timedelta(days=1)).date()
    svc.plan_pilot(idea, start=start, end=start + timedelta(days=days), sites=("Viby",), now=now,
                   followers=followers, by=COORDINATOR)
    return idea, start


def test_a_follower_reads_the_ended_pilot_and_its_outcome_in_the_same_words_on_the_page_and_in_the_mail(site):
    svc, now = site.services, site.now
    svc.create_pool("Velfærdspuljen", 1_000_000, now.year, now)
    svc.add_person(COORDINATOR, "Karin Koordinator", Role.COORDINATOR, now)
    svc.add_person(FOLLOWER, "Frede Følger", Role.FOLLOWER, now)
    svc.add_person(FOLLOWER_EN, "Fiona Follower", Role.FOLLOWER, now, Language.EN)
    idea, start = funded_with_a_pilot(site, (FOLLOWER, FOLLOWER_EN), days=1)
    site.now = local_midnight(start + timedelta(days=2)) + timedelta(minutes=1)
    svc.sweep(site.now)  # started and ended: its evaluation is open

    site.sign_in(FOLLOWER)
    page = site.client.get(f"/pilots/{idea}")
    assert status(page) == "piloten er slut, og evalueringen er i gang"
    listed = site.client.get("/pilots")
    assert "piloten er slut, og evalueringen er i gang" in listed.text and "i pilot" not in listed.text

    svc.evaluate(idea, COORDINATOR, SCORES, Outcome.ADJUST, site.now, "INTERN: for dyr")
    page = site.client.get(f"/pilots/{idea}")
    assert status(page) == "evalueret; resultat: skal justeres"
    (mail,) = [m for m in flushed(site, FOLLOWER) if m["X-Ideaflow-Kind"] == "evaluation_recorded"]
    text = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == f"Evaluering af {TITLE}: skal justeres"
    assert "Resultat: skal justeres." in text and f"Se piloten her: http://testserver/pilots/{idea}" in text
    assert "evalueringen" not in text and "INTERN" not in text

    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": f"/pilots/{idea}"})
    page = site.client.get(f"/pilots/{idea}")
    (mail,) = [m for m in flushed(site, FOLLOWER_EN) if m["X-Ideaflow-Kind"] == "evaluation_recorded"]
    assert status(page) == "evaluated; outcome: to be adjusted"
    assert mail["Subject"] == f"Evaluation of {TITLE}: to be adjusted"
    assert "Outcome: to be adjusted." in mail.get_body(("plain",)).get_content()


@pytest.mark.parametrize(("role", "says", "not_said"), [
    (Role.FOLLOWER, "Du bedømmer ikke idéer, så ingen venter på dig her. Du får en e-mail, når der er nyt om de "
                    "piloter, du følger.", "skal bedømmes af dig"),
    (Role.REVIEWER, "Når en idé i dine puljer skal bedømmes af dig", "Du bedømmer ikke idéer"),
])
def test_the_inbox_promises_reviews_only_to_a_reviewer(site, role, says, not_said):
    svc, now = site.services, site.now
    svc.create_pool("Velfærdspuljen", 1_000_000, now.year, now)
    svc.add_person(COORDINATOR, "Karin Koordinator", Role.COORDINATOR, now)
    svc.add_person("person@kommune.dk", "Per Person", role, now)
    if role == Role.FOLLOWER:
        funded_with_a_pilot(site, ("person@kommune.dk",), days=9)
    else:
        svc.grant_role("person@kommune.dk", Role.REVIEWER, now, pool="Velfærdspuljen")
    site.sign_in("person@kommune.dk")
    page = site.client.get("/inbox")
    assert page.status_code == 200
    assert says in page.text and not_said not in page.text
    assert ('<a href="/pilots">' in page.text) == (role == Role.FOLLOWER)


def test_a_stopped_cancelled_or_held_pilot_is_said_so_on_the_list_the_page_and_in_the_digest_alike(site):
    """Not by the dates it will not run: stopped after it began, cancelled before it began, on hold before it
    began, each with its day; the list of pilots, the pilot's page and the follower's digest say it in the same
    words (`ideaflow.follower_words.plain_dates`), as the follow-up group's mail did. Nor with the reasons
    given, the amounts or who proposed the idea."""
    svc, now = site.services, site.now
    svc.create_pool("Velfærdspuljen", 1_000_000, now.year, now)
    svc.add_person(COORDINATOR, "Karin Koordinator", Role.COORDINATOR, now)
    svc.add_person(FOLLOWER, "Frede Følger", Role.FOLLOWER, now)
    stopped, start = funded_with_a_pilot(site, (FOLLOWER,), days=90, title="Madservice i Viby")
    cancelled, _ = funded_with_a_pilot(site, (FOLLOWER,), days=90, title="Robotstøvsugere")
    held, _ = funded_with_a_pilot(site, (FOLLOWER,), days=90, title="Lektiecafé")
    svc.decide(cancelled, Decision.KILL, COORDINATOR, now, reason="INTERN: for dyr")
    svc.decide(held, Decision.HOLD, COORDINATOR, now, reason="INTERN: afventer budget")
    site.now = local_midnight(start + timedelta(days=3)) + timedelta(hours=12)
    svc.sweep(site.now)  # the one still funded begins
    svc.decide(stopped, Decision.KILL, COORDINATOR, site.now, reason="INTERN: virker ikke")
    planned = f"Fra {day(start)} til {day(start + timedelta(days=90))}"
    said = {stopped: f"Stoppet {day(start + timedelta(days=3))}",
            cancelled: f"Aflyst {day(now.astimezone(COPENHAGEN).date())}, før piloten begyndte",
            held: f"Sat i bero {day(now.astimezone(COPENHAGEN).date())}, før piloten begyndte"}
    not_for_followers = ("INTERN", "100.000", "kr.", "Birgit Borger", "borger@example.dk", "Karin Koordinator")

    site.sign_in(FOLLOWER)
    listed = site.client.get("/pilots").text
    for idea, words in said.items():
        item = re.search(rf'<li id="idea-{idea}">(.*?)</li>', listed, re.S).group(1)
        assert f"{words} · Viby" in item, item
    assert planned not in listed
    for idea, words in said.items():
        page = site.client.get(f"/pilots/{idea}").text
        facts = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page))
        assert (facts["Datoer"], facts["Planlagte datoer"]) == (words, planned)  # the plan, said as one
        for leak in not_for_followers:
            assert leak not in page, leak
    for leak in not_for_followers:
        assert leak not in listed, leak

    site.now += timedelta(days=8)
    svc.queue_digests(site.now, Cadence())
    (digest,) = [m for m in flushed(site, FOLLOWER) if m["X-Ideaflow-Kind"] == "digest"]
    text, html = digest.get_body(("plain",)).get_content(), digest.get_body(("html",)).get_content()
    yours = text[text.index("Dine piloter:"):]
    for idea, words in said.items():
        line = next(line for line in yours.splitlines() if line.startswith(f"- #{idea} "))
        assert line.endswith(f"({words})"), line
        assert f"({words})</li>" in html
    assert day(start + timedelta(days=90)) not in text and day(start + timedelta(days=90)) not in html
    for leak in not_for_followers:
        assert leak not in text and leak not in html, leak
