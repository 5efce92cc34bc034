"""The `web_server` fixture against the contract of `ideaflow web`: started on a free port with a real
database, it announces `ideaflow web console: http://127.0.0.1:PORT/`, answers there, and exits 0 on
SIGINT. Skipped only while the installed ideaflow has no `web` command (it is being built); it runs
by itself once the command exists."""

from __future__ import annotations

import signal

import httpx
import pytest

from webtest import web_command_exists

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def web_command() -> None:
    if not web_command_exists():
        pytest.skip("`ideaflow web` is not a command of the installed ideaflow yet (the web console is being "
                    "built); this test runs once it is")


def test_the_console_announces_its_address_answers_there_and_stops_on_ctrl_c(web_command, engine, db_url, web_server):
    server = web_server(db_url)
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/")
    assert server.env["IDEAFLOW_PUBLIC_URL"] == server.url
    login = httpx.get(server.url + "login", timeout=30)  # a page of the contract's URL map
    assert login.status_code == 200, login.text[:500]
    assert login.headers["content-type"].startswith("text/html")
    assert server.stop(signal.SIGINT) == 0, server.output


def test_two_consoles_run_side_by_side_on_their_own_ports(web_command, engine, db_url, web_server):
    first, second = web_server(db_url), web_server(db_url)
    assert first.url != second.url
    assert httpx.get(first.url + "login", timeout=30).status_code == 200
    assert httpx.get(second.url + "login", timeout=30).status_code == 200
    assert second.stop(signal.SIGTERM) == 0, second.output
