"""The `web_server` fixture against the contract of `ideaflow web`: started on a free port with a real
database, it announces `ideaflow web console: http://127.0.0.1:PORT/`, answers there, and exits 0 on
SIGINT or SIGTERM; several side by side."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_the_console_announces_its_address_answers_there_and_stops_on_ctrl_c(engine, db_url, web_server):
    server = web_server(db_url)
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/")
    assert server.env["IDEAFLOW_PUBLIC_URL"] == server.url
    login = httpx.get(server.url + "login", timeout=30)  # a page of the contract's URL map
    assert login.status_code == 200, login.text[:500]
    assert login.headers["content-type"].startswith("text/html")
    assert server.stop(signal.SIGINT) == 0, server.output


def test_two_consoles_run_side_by_side_on_their_own_ports(engine, db_url, web_server):
    first, second = web_server(db_url), web_server(db_url)
    assert first.url != second.url
    assert httpx.get(first.url + "login", timeout=30).status_code == 200
    assert httpx.get(second.url + "login", timeout=30).status_code == 200
    assert second.stop(signal.SIGTERM) == 0, second.output


def test_the_console_uses_the_given_database_smtp_server_and_public_address(world, db_url, web_server, smtp, page):
    """A sign-in link asked for in Chromium reaches the test's SMTP server for a person of the test's
    database, and links to the server's own address (IDEAFLOW_PUBLIC_URL)."""
    server = web_server(db_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                        mail_from="Innovation <ideaflow@kommune.dk>")
    page.goto(server.url + "login")
    page.locator("form[action='/login'] input[name=email]").fill(world.coordinator)
    page.locator("form[action='/login'] button[type=submit]").click()
    deadline = time.monotonic() + 60
    while not smtp.handler.received and time.monotonic() < deadline:
        time.sleep(0.2)
    (mail,) = smtp.handler.received
    assert mail.rcpt == (world.coordinator,)
    assert server.url + "login/continue?token=" in mail.message.get_body(("plain",)).get_content()
