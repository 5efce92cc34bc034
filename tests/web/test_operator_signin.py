"""The command line's operator (OPERATOR_EMAIL) is no web user: it may do what an administrator does on
the command line, and the record names it as the command line. Signed in to the console, what it did
there would have been recorded as the command line's. So no way in takes it: `ideaflow signin-link`,
the /login form, a link or session an older release gave it, single sign-on mapped to its address.
Each says so in a line; nothing is written.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.errors import Refused
from states.vocabulary import OPERATOR_EMAIL
from storage.tables import OutboxRow, SignInTokenRow, WebSessionRow
from storage.unit_of_work import UnitOfWork
from web.app import create_app
from web.security import SESSION_COOKIE

REFUSED = "is the command line's own operator, not a person: it cannot sign in to the web console"
REFUSED_DA = "er kommandolinjens egen operatør og ikke en person: den kan ikke logge ind i webkonsollen"  # pages


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


def nothing_written(engine) -> bool:
    return count(engine, OutboxRow) == count(engine, SignInTokenRow) == count(engine, WebSessionRow) == 0


@pytest.fixture
def console(engine, tmp_path):
    settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False),
                        mail_dir=tmp_path / "mail", public_url="http://testserver/", secret_key="s" * 32)
    container = bootstrap(settings)
    return container, TestClient(create_app(container))


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)


def operator_id(engine) -> int:
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.signin.person_id(OPERATOR_EMAIL)


def test_signin_link_for_the_operator_is_refused_in_one_line(cli, expect, engine):
    for address in (OPERATOR_EMAIL, OPERATOR_EMAIL.upper()):
        expect.failed(cli("signin-link", address), 1, f"refused: {OPERATOR_EMAIL} {REFUSED}")
    assert nothing_written(engine)


def test_the_login_form_says_the_operator_cannot_sign_in_and_sends_nothing(console, engine):
    _, client = console
    answer = client.post("/login", data={"csrf_token": csrf(client), "email": OPERATOR_EMAIL})
    assert answer.status_code == 422
    assert f"{OPERATOR_EMAIL} {REFUSED_DA}" in answer.text
    assert nothing_written(engine)


def test_a_link_or_session_an_older_release_gave_the_operator_signs_nobody_in(console, engine):
    container, client = console
    now = datetime.now(UTC)
    token, session_id = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    keys, operator = container.signin.keys, operator_id(engine)
    with UnitOfWork(engine) as uow:
        uow.signin.add_token(keys.digest("token", token), operator, "/people", now, now + timedelta(minutes=15))
        uow.signin.add_session(keys.digest("session", session_id), operator, now, "link")
        uow.commit(now)

    answer = client.post("/login/continue", data={"csrf_token": csrf(client), "token": token})
    assert answer.status_code == 409 and REFUSED_DA in answer.text
    assert SESSION_COOKIE not in answer.cookies
    with engine.connect() as connection:  # the token is not spent, no session started
        assert connection.execute(select(SignInTokenRow.used_at)).scalar() is None
    assert count(engine, WebSessionRow) == 1

    client.cookies.set(SESSION_COOKIE, session_id)
    people = client.get("/people", follow_redirects=False)
    assert people.status_code == 303 and people.headers["location"].startswith("/login")
    assert count(engine, WebSessionRow) == 0  # the old session is ended


def test_single_sign_on_to_the_operators_address_is_refused(console, engine):
    container, _ = console
    with pytest.raises(Refused) as refused:  # what the OIDC callback calls with the provider's address
        container.signin.sign_in_verified(OPERATOR_EMAIL.upper(), datetime.now(UTC), "/people")
    assert refused.value.code == "signin.operator"
    assert nothing_written(engine)
