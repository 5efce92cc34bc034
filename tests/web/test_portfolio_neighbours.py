"""Previous and next on the idea page (`/ideas/{id}?from=<the portfolio's query>`), rendered by the real
application for signed-in people: the links follow the filter and the order the idea was opened
from, carry it on, and are shown only to a person whose portfolio holds the idea. A decision taken on
the page (its form, its redirect) leaves them where they were in the list the coordinator walked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Role
from web.app import create_app
from web.security import SESSION_COOKIE

from signinweb import HOSTILE

POOL, OTHER_POOL = "Tårnby innovationspulje", "Roskilde puljen"
KARIN, BENT = "karin@taarnby.dk", "bent@taarnby.dk"


#: SQLite only where the template's links are the subject; the read model has its own tests on both.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_previous_and_next_follow_the_filter_the_idea_was_opened_from(app, services):
    now = datetime.now(UTC)
    services.create_pool(POOL, 2_000_000, 2026, now)
    services.create_pool(OTHER_POOL, 1_000_000, 2026, now)
    services.add_person(KARIN, "Karin Koordinator", Role.PROPOSER, now)
    services.grant_role(KARIN, Role.COORDINATOR, now, pool=POOL)
    services.add_person(BENT, "Bent Bedømmer", Role.PROPOSER, now)
    services.grant_role(BENT, Role.REVIEWER, now, pool=POOL)
    titles = ["Bæredygtige busser", HOSTILE, "Cykelstier", "Droner", "Alarm"]
    ids = {title: services.submit(title=title, description="…", proposer="borger@example.dk", pool=POOL, now=now)
           for title in titles}
    services.submit(title="Roskildes idé", description="…", proposer="borger@example.dk", pool=OTHER_POOL, now=now)
    console = create_app(app)

    def browse(email: str, path: str) -> str:
        session = app.signin.sign_in_verified(email, datetime.now(UTC), "/home").session_id
        response = TestClient(console, cookies={SESSION_COOKIE: session}).get(path)
        assert response.status_code == 200
        return response.text

    by_title = urlencode({"from": "sort=title&text=e"})  # "Alarm" has no "e": the filter leaves it out
    html = browse(KARIN, f"/ideas/{ids['Cykelstier']}?{by_title}")
    links = dict(re.findall(r'<a href="([^"]+)" rel="(prev|next)"', html))

    def listed(title: str) -> str:  # the list, and the idea's place in it: its title
        return f"/ideas/{ids[title]}?" + urlencode({"from": urlencode({"text": "e", "sort": "title", "at": title})})

    assert {rel: href for href, rel in links.items()} == {"prev": listed("Bæredygtige busser"),
                                                          "next": listed("Droner")}
    assert "Forrige idé: Bæredygtige busser" in html and "Næste idé: Droner" in html
    assert '<a href="/portfolio?text=e&amp;sort=title">Tilbage til porteføljen</a>' in html
    longest = "Æ" * 200  # a title as long as may be, found by text as long as may be: its link is not refused
    ids[longest] = services.submit(title=longest, description="…", proposer="borger@example.dk", pool=POOL, now=now)
    listing = browse(KARIN, "/portfolio?" + urlencode({"sort": "title", "text": "æ" * 200}))
    link = unescape(re.search(rf'<a href="(/ideas/{ids[longest]}\?from=[^"]+)">', listing).group(1))
    assert len(dict(parse_qsl(urlsplit(link).query))["from"]) > 2000 and "idea-neighbours" in browse(KARIN, link)
    html = browse(KARIN, f"/ideas/{ids['Bæredygtige busser']}?{by_title}")  # "<script…" sorts first, "Alarm" is out
    assert f'<a href="/ideas/{ids[HOSTILE]}?' in html and "Forrige idé: &lt;script&gt;" in html
    assert "<script>alert" not in html

    # By deadline (the default: the order of submission here), without a text filter.
    html = browse(KARIN, f"/ideas/{ids['Droner']}?from=")
    assert "Forrige idé: Cykelstier" in html and "Næste idé: Alarm" in html
    first = browse(KARIN, f"/ideas/{ids['Bæredygtige busser']}?from=")
    assert 'rel="prev"' not in first and 'rel="next"' in first
    # Not opened from the portfolio, or by a reviewer (who sees the idea, but has no portfolio): no links.
    assert "idea-neighbours" not in browse(KARIN, f"/ideas/{ids['Cykelstier']}")
    assert "idea-neighbours" not in browse(BENT, f"/ideas/{ids['Cykelstier']}?from=")
    # the unfiltered list travels on too, with the idea's place in it (its deadline)
    assert re.search(rf'<a href="/ideas/{ids[HOSTILE]}\?from=at%3D\d{{4}}-\d\d-\d\dT[^"&]+%252B00%253A00" rel="next">',
                     first)
    # A place that is no deadline (hand-edited) is the idea's deadline now: no error, the same links.

    def around(page: str) -> str:
        return re.search(r'<nav class="idea-neighbours".*?</nav>', page, re.S).group(0)

    assert around(browse(KARIN, f"/ideas/{ids['Bæredygtige busser']}?from=at%3Di+morgen")) == around(first)


@pytest.mark.parametrize("decision", ["go", "kill", "hold"])
def test_previous_and_next_stay_where_the_idea_was_in_the_list_after_a_decision_on_its_page(app, services, decision):
    """The tester's steps: the portfolio's default order (deadline) filtered to one stage, an idea opened from
    it, decided on its page. Every decision moves the deadline (or clears it) and the stage, so the idea has
    left the list; its page still shows the ideas it stood between, and they carry the walk on."""
    now = datetime.now(UTC)
    services.create_pool(POOL, 2_000_000, 2026, now)
    services.add_person(KARIN, "Karin Koordinator", Role.PROPOSER, now)
    services.grant_role(KARIN, Role.COORDINATOR, now, pool=POOL)
    services.add_person(BENT, "Bent Bedømmer", Role.PROPOSER, now)
    services.grant_role(BENT, Role.REVIEWER, now, pool=POOL)
    ids = {}
    for n, title in enumerate(["Skolemad", "Nabo A", "Nabo B", "Nabo C"]):  # deadlines a minute apart, in this order
        submitted = now - timedelta(minutes=10 - n)  # and before any deadline the page's decisions set
        ids[title] = services.submit(title=title, description="…", proposer="borger@example.dk", pool=POOL,
                                     now=submitted, requested_dkk=100_000)
        services.review(ids[title], BENT, {c.name: 4 for c in TAARNBY_CRITERIA}, submitted)
    console = TestClient(create_app(app), cookies={
        SESSION_COOKIE: app.signin.sign_in_verified(KARIN, now, "/home").session_id})

    def shown(path: str) -> tuple[str, dict[str, str]]:
        response = console.get(path)
        assert response.status_code == 200, response.text
        links = {rel: (unescape(href), title) for href, rel, title in
                 re.findall(r'<a href="([^"]+)" rel="(prev|next)">[^:<]+: ([^<]+)</a>', response.text)}
        return response.text, links

    listed, _ = shown("/portfolio?stage=submitted")
    assert re.findall(r'<a href="/ideas/\d+\?from=[^"]+">([^<]+)</a>', listed) == \
        ["Skolemad", "Nabo A", "Nabo B", "Nabo C"]
    opened = unescape(re.search(rf'<a href="(/ideas/{ids["Nabo B"]}\?from=[^"]+)">', listed).group(1))
    page, links = shown(opened)
    assert {rel: title for rel, (_, title) in links.items()} == {"prev": "Nabo A", "next": "Nabo C"}

    def send(page: str, action: str, **typed: str) -> tuple[str, dict[str, str]]:
        """The form posting to `action` on `page`, sent as the browser sends it, and the page it leads back to."""
        form = re.search(rf'<form method="post" action="/ideas/{ids["Nabo B"]}/{action}"[^>]*>(.*?)</form>', page, re.S)
        fields = {name: unescape(value) for name, value in
                  re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)">', form.group(1))}
        answer = console.post(f"/ideas/{ids['Nabo B']}/{action}", data={**fields, **typed}, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        back = answer.headers["location"]
        assert dict(parse_qsl(urlsplit(back).query))["from"] == dict(parse_qsl(urlsplit(opened).query))["from"]
        return shown(back)

    page, links = send(page, "assign", **{"reviewer-1": BENT})  # asking reviewers keeps the place too
    assert {rel: title for rel, (_, title) in links.items()} == {"prev": "Nabo A", "next": "Nabo C"}
    page, links = send(page, "decide", decision=decision, reason="Ikke nu")
    assert "idea-neighbours" in page
    assert {rel: title for rel, (_, title) in links.items()} == {"prev": "Nabo A", "next": "Nabo C"}, decision
    if decision == "hold":  # resumed, with fresh deadlines: back in the list, later; the place shown still holds
        page, links = send(page, "resume")
        assert {rel: title for rel, (_, title) in links.items()} == {"prev": "Nabo A", "next": "Nabo C"}
    # The walk goes on in the list as it is now, without the decided idea.
    _, after = shown(links["next"][0])
    assert {rel: title for rel, (_, title) in after.items()} == \
        ({"prev": "Nabo A"} if decision != "hold" else {"prev": "Nabo A", "next": "Nabo B"})
    _, before = shown(links["prev"][0])
    assert {rel: title for rel, (_, title) in before.items()} == {"prev": "Skolemad", "next": "Nabo C"}
