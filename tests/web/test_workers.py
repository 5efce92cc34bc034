"""Several console processes on one database, as behind a reverse proxy with several workers: they
share the installation's secret (drawn once, kept in the database), so a link mailed by one signs
in on another, a session started on one is valid on every one, and a restart keeps sessions.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from signinweb import KARIN, add_people, delivered_link, fetch, session_cookie

pytestmark = pytest.mark.slow


@pytest.fixture
def people(services):
    add_people(services)


def test_workers_share_the_secret_and_a_restart_keeps_sessions(page, web_server, db_url, engine, people):
    first, second = web_server(db_url), web_server(db_url)
    page.goto(first.url + "login")
    page.get_by_label("E-mailadresse").fill(KARIN)
    page.get_by_role("button", name="Send mig et link").click()
    link = delivered_link(first, KARIN)
    page.goto(link.replace(first.url, second.url))  # the proxy sent the next request to the other worker
    page.get_by_role("button", name="Fortsæt").click()
    session = session_cookie(page)
    assert session
    for server in (first, second):
        status, _, body = fetch(server.url + "home", cookie=f"ideaflow_session={session}")
        assert status == 200 and "Velkommen, Karin Koordinator" in body, server.url
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM secrets")).scalar() == 1
    assert first.stop() == 0 and second.stop() == 0
    restarted = web_server(db_url)
    status, _, body = fetch(restarted.url + "home", cookie=f"ideaflow_session={session}")
    assert status == 200 and "Velkommen, Karin Koordinator" in body
