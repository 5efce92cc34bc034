"""Previous and next on the idea page (`/ideas/{id}?from=<the portfolio's query>`), rendered by the real
application for signed-in people: the links follow the filter and the order the idea was opened
from, carry it on, and are shown only to a person whose portfolio holds the idea."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from states.vocabulary import Role
from web.app import create_app
from web.security import SESSION_COOKIE

from signinweb import HOSTILE

POOL, OTHER_POOL = "Tårnby innovationspulje", "Roskilde puljen"
KARIN, BENT = "karin@taarnby.dk", "bent@taarnby.dk"


@pytest.fixture
def db_url(db_path) -> str:
    """SQLite only: the template's links are the subject here; the read model has its own tests on both."""
    return f"sqlite:///{db_path}"


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
    assert {rel: href for href, rel in links.items()} == {
        "prev": f"/ideas/{ids['Bæredygtige busser']}?" + urlencode({"from": "text=e&sort=title"}),
        "next": f"/ideas/{ids['Droner']}?" + urlencode({"from": "text=e&sort=title"}),
    }
    assert "Forrige idé: Bæredygtige busser" in html and "Næste idé: Droner" in html
    assert '<a href="/portfolio?text=e&amp;sort=title">Tilbage til porteføljen</a>' in html
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
    assert f'<a href="/ideas/{ids[HOSTILE]}?from=" rel="next">' in first  # the unfiltered list travels on too
