"""Previous and next on the idea page: `_neighbours.html` as the idea page includes it, rendered by the
real application for a signed-in coordinator (the idea page itself is another module's; a probe
route includes the same template with the same context names, `idea` and the request's `?from=`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Annotated
from urllib.parse import urlencode

import pytest
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from ideaflow.signin import Account
from states.vocabulary import Role
from web import pages
from web.app import create_app
from web.auth import signed_in
from web.security import SESSION_COOKIE

from signinweb import HOSTILE

POOL, OTHER_POOL = "Tårnby innovationspulje", "Roskilde puljen"
KARIN, OLE = "karin@taarnby.dk", "ole@roskilde.dk"


@pytest.fixture
def db_url(db_path) -> str:
    """SQLite only: the template's links are the subject here; the read model has its own tests on both."""
    return f"sqlite:///{db_path}"


@pytest.fixture
def probe_template():
    """`probe.html`: a page that includes `_neighbours.html` as the idea page does."""
    from jinja2 import ChoiceLoader, DictLoader

    env = pages.environment()
    original = env.loader
    env.loader = ChoiceLoader([DictLoader({"probe.html": '{% extends "base.html" %}{% block content %}'
                                                         '{% include "_neighbours.html" %}{% endblock %}'}),
                               original])
    yield
    env.loader = original


def test_previous_and_next_follow_the_filter_the_idea_was_opened_from(app, services, probe_template):
    now = datetime.now(UTC)
    services.create_pool(POOL, 2_000_000, 2026, now)
    services.create_pool(OTHER_POOL, 1_000_000, 2026, now)
    services.add_person(KARIN, "Karin Koordinator", Role.PROPOSER, now)
    services.grant_role(KARIN, Role.COORDINATOR, now, pool=POOL)
    services.add_person(OLE, "Ole Roskilde", Role.PROPOSER, now)
    services.grant_role(OLE, Role.COORDINATOR, now, pool=OTHER_POOL)
    titles = ["Bæredygtige busser", HOSTILE, "Cykelstier", "Droner", "Alarm"]
    ids = {title: services.submit(title=title, description="…", proposer="borger@example.dk", pool=POOL, now=now)
           for title in titles}
    services.submit(title="Roskildes idé", description="…", proposer="borger@example.dk", pool=OTHER_POOL, now=now)
    console = create_app(app)

    @console.get("/probe/{idea_id}")
    def probe(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)]) -> HTMLResponse:
        return pages.render(request, "probe.html", {"idea": SimpleNamespace(id=idea_id)})

    def browse(email: str, path: str) -> str:
        session = app.signin.sign_in_verified(email, datetime.now(UTC), "/home").session_id
        response = TestClient(console, cookies={SESSION_COOKIE: session}).get(path)
        assert response.status_code == 200
        return response.text

    by_title = urlencode({"from": "sort=title&text=e"})  # "Alarm" has no "e": the filter leaves it out
    html = browse(KARIN, f"/probe/{ids['Cykelstier']}?{by_title}")
    links = dict(re.findall(r'<a href="([^"]+)" rel="(prev|next)"', html))
    assert {rel: href for href, rel in links.items()} == {
        "prev": f"/ideas/{ids['Bæredygtige busser']}?" + urlencode({"from": "text=e&sort=title"}),
        "next": f"/ideas/{ids['Droner']}?" + urlencode({"from": "text=e&sort=title"}),
    }
    assert "Forrige idé: Bæredygtige busser" in html and "Næste idé: Droner" in html
    assert '<a href="/portfolio?text=e&amp;sort=title">Tilbage til porteføljen</a>' in html
    html = browse(KARIN, f"/probe/{ids['Bæredygtige busser']}?{by_title}")  # "<script…" sorts first, "Alarm" is out
    assert f'<a href="/ideas/{ids[HOSTILE]}?' in html and "Forrige idé: &lt;script&gt;" in html
    assert "<script>alert" not in html

    # By deadline (the default: the order of submission here), without a text filter.
    html = browse(KARIN, f"/probe/{ids['Droner']}?from=")
    assert "Forrige idé: Cykelstier" in html and "Næste idé: Alarm" in html
    first = browse(KARIN, f"/probe/{ids['Bæredygtige busser']}?from=")
    assert 'rel="prev"' not in first and 'rel="next"' in first
    # Not opened from the portfolio, or not the person's portfolio: no links at all.
    assert "idea-neighbours" not in browse(KARIN, f"/probe/{ids['Cykelstier']}")
    assert "idea-neighbours" not in browse(OLE, f"/probe/{ids['Cykelstier']}?from=")
    assert f'<a href="/ideas/{ids[HOSTILE]}?from=" rel="next">' in first  # the unfiltered list travels on too
