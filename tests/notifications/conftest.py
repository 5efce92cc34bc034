"""Fixtures for the notification tests: a real SQLite file, a real SMTP server, the real CLI.

The SMTP server is aiosmtpd's `Controller` on a free local port (picked first: `port=0` does not
work with Controller). Its handler records every accepted message and can be told to misbehave:
refuse everything with a 4xx, refuse given addresses with a 5xx, drop the connection during DATA,
or stall past the client's timeout. Helpers live in `mailtest.py`.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from ideaflow.services import Services

from cli_inproc import run_cli_in
from mailtest import MAIL_FROM, PUBLIC_URL, Cast, CliResult, cli_env


@pytest.fixture
def settings(smtp, tmp_path) -> Settings:
    return Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_timeout_s=5.0,
                    mail_from=MAIL_FROM, mail_dir=tmp_path / "mail", public_url=PUBLIC_URL)


# -- the database --------------------------------------------------------------------------------------


@pytest.fixture
def db(engine):
    """The suite-wide migrated test database (SQLite, and PostgreSQL where it runs)."""
    return engine


@pytest.fixture
def svc(services) -> Services:
    return services


@pytest.fixture
def cast(svc) -> Cast:
    return Cast(svc)


# -- delivering and running the CLI ----------------------------------------------------------------


@pytest.fixture
def flush(svc, settings):
    """`flush(now)`: deliver due outbox mail to the test SMTP server through the service layer, by the
    SMTP transport the composition root builds from IDEAFLOW_SMTP_* settings."""

    def run(now: datetime, transport=None):
        return svc.flush_outbox(now, transport or bootstrap(settings).mail_transport(), bootstrap(settings).letterhead)

    return run


@pytest.fixture
def ideaflow(db_url, tmp_path):
    """`ideaflow(*args, **settings)`: the console script's entry point with the environment a
    subprocess would get (see `cli` in tests/conftest.py for why in-process).

    Keyword arguments become IDEAFLOW_* variables (smtp_host="127.0.0.1" -> IDEAFLOW_SMTP_HOST).
    """

    def run(*args: str, **settings: str) -> CliResult:
        return CliResult(*run_cli_in([str(a) for a in args], cli_env(db_url, tmp_path, **settings), tmp_path))

    return run


