"""Released grants on the pool and idea pages, and the pilot plan form of a pilot whose evaluation is open,
over HTTP in-process (Starlette's test client) on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from test_public_pages import Site

from ideaflow.views import idea_view
from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Decision, Role

KARIN, RIKKE, BORGER = "karin@taarnby.dk", "rikke@taarnby.dk", "borger@example.dk"
POOL = "Lille pulje"
SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


@pytest.fixture
def site(engine, tmp_path):
    site = Site(engine, tmp_path)
    site.services.add_person(KARIN, "Karin Koordinator", Role.COORDINATOR, site.now)
    site.services.add_person(RIKKE, "Rikke Bedømmer", Role.REVIEWER, site.now)
    site.pool_id = site.services.create_pool(POOL, 200_000, 2027, site.now).id
    yield site
    site.container.close()


def funded(site, title: str, amount: int) -> int:
    s, now = site.services, site.now
    idea = s.submit(title=title, description="d", proposer=BORGER, pool=POOL, now=now, requested_dkk=amount)
    for _ in range(2):
        s.review(idea, RIKKE, SCORES, now)
        s.decide(idea, Decision.GO, KARIN, now)
    return idea


def piloting(site, title: str, amount: int, *, ended: bool = False) -> int:
    idea, today = funded(site, title, amount), date.today()
    start, end = (today - timedelta(days=30), today - timedelta(days=2)) if ended else (today, today + timedelta(90))
    site.services.plan_pilot(idea, start=start, end=end, sites=("Viby",), now=site.now - timedelta(days=31), by=KARIN)
    site.services.sweep(site.now)
    return idea


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_the_pool_page_counts_a_stopped_pilots_grant_and_lists_a_released_one_apart(site):
    released = funded(site, "Robotstøvsugere", 100_000)
    site.services.decide(released, Decision.KILL, KARIN, site.now, reason="Uden for formålet")
    spent = piloting(site, "Træningsapp", 100_000)
    site.services.decide(spent, Decision.KILL, KARIN, site.now, reason="Virker ikke")
    site.sign_in(KARIN)

    page = site.client.get(f"/pools/{site.pool_id}").text
    facts = text_of(re.search(r"<h2>Budget</h2>(.*?)</dl>", page, re.S).group(1))
    assert "Bevilget 100.000 kr. Gået tilbage til puljen 100.000 kr. Tilbage 100.000 kr." in facts
    allocations = text_of(re.search(r'id="allocations-heading".*?</table>', page, re.S).group(0))
    # the staff's word for the stage, as on the idea page and the portfolio (not the followers' "stoppet")
    assert "Træningsapp Afvist" in allocations and "Robotstøvsugere" not in allocations
    assert "Når en pilot er begyndt, er bevillingen brugt på piloten" in text_of(page)
    returned = text_of(re.search(r'id="released-heading">(.*?)</table>', page, re.S).group(1))
    assert returned.startswith("Bevillinger, der er gået tilbage til puljen")
    assert "Robotstøvsugere Afvist" in returned and "100.000 kr." in returned and "Træningsapp" not in returned

    history = text_of(site.client.get(f"/ideas/{released}").text)
    assert "Bevillingen gik tilbage til puljen" in history and "100.000 kr. tilbage i puljen" in history


def test_a_pilot_whose_evaluation_is_open_is_offered_the_plan_form_and_extended_through_it(site):
    idea = piloting(site, "Velfærdsteknologi", 100_000, ended=True)
    site.sign_in(KARIN)
    page = site.client.get(f"/ideas/{idea}").text
    form = re.search(rf'<form method="post" action="/ideas/{idea}/pilot".*?</form>', page, re.S)
    assert form is not None and "Piloten er slut, og evalueringen er åben." in text_of(form.group(0))
    values = dict(re.findall(r'<input type="hidden" name="([\w_]+)" value="([^"]*)"', form.group(0)))
    new_end = date.today() + timedelta(days=45)
    # the first day has passed and stays: shown, sent with the form, but not to be changed
    first_day = re.search(r'<input [^>]*name="start"[^>]*>', form.group(0)).group(0)
    assert " readonly" in first_day and " disabled" not in first_day, first_day
    end_field = re.search(r'<input [^>]*name="end"[^>]*>', form.group(0)).group(0)
    assert "readonly" not in end_field

    answer = site.client.post(f"/ideas/{idea}/pilot", follow_redirects=False, data={
        **values, "start": (date.today() - timedelta(days=30)).isoformat(), "end": new_end.isoformat(),
        "sites": "Viby", "followers": "", "measures": ""})
    assert answer.status_code == 303, answer.text
    view = idea_view(site.engine, idea, KARIN)
    assert (view.stage, view.open_gate, view.pilot.end) == ("piloting", None, new_end)
    shown = text_of(site.client.get(f"/ideas/{idea}").text)
    assert "Piloten forlænget, evalueringen lukket" in shown and "Evaluér piloten" not in shown
