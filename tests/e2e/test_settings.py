"""The IDEAFLOW_* settings and the database as every command meets them first.

A setting ideaflow cannot use is one line naming it and what it must be, exit 2, before anything is
read or written; a variable that looks like a setting but is none is a warning naming the setting it
resembles; a PostgreSQL database that does not exist, or one whose schema a newer release made, is
one line saying so (exit 1) for `init` as for every other command.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.migrate import head

pytestmark = pytest.mark.slow

BAD_SETTINGS = [
    ("IDEAFLOW_SMTP_PORT", "abc", "must be a whole number from 1 to 65535"),
    ("IDEAFLOW_SMTP_PORT", "99999", "must be a whole number from 1 to 65535"),
    ("IDEAFLOW_LANG", "fr", "must be 'da' or 'en'"),
    ("IDEAFLOW_SMTP_STARTTLS", "maybe", "must be true or false"),
    ("IDEAFLOW_MAIL_FROM", "Innovation <innovation@taarnby.dk", "must be one e-mail address"),
    ("IDEAFLOW_MAIL_FROM", "a@taarnby.dk, b@taarnby.dk", "must be one e-mail address"),
    ("IDEAFLOW_DATABASE_URL", "nonsense", "must be a database address"),
    ("IDEAFLOW_DATABASE_URL", "mysql://ideaflow:hemmeligt@db/ideaflow", "must be a SQLite or PostgreSQL database"),
]


@pytest.mark.parametrize(("name", "value", "says"), BAD_SETTINGS, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("command", [["init"], ["list"], ["web", "--port", "0"], ["serve", "--port", "0"], ["demo"]])
def test_a_setting_ideaflow_cannot_use_is_one_line_naming_it_and_changes_nothing(cli, expect, name, value, says,
                                                                                 command):
    line = expect.failed(cli(*command, settings={name: value}), 2, f"bad setting: {name} {says}")
    assert "hemmeligt" not in line  # a database address's password is never repeated
    expect.failed(cli("list"), 1, "run 'ideaflow init' first")  # init made no table


def test_a_sender_with_a_name_and_one_in_danish_letters_are_accepted(cli, expect):
    expect.ok(cli("init", settings={"IDEAFLOW_MAIL_FROM": "Innovation <innovation@taarnby.dk>"}))
    expect.ok(cli("list", settings={"IDEAFLOW_MAIL_FROM": "Tårnby Kommune <innovation@taarnby.dk>"}))
    expect.ok(cli("list", settings={"IDEAFLOW_MAIL_FROM": '"Tårnby Kommune, Innovation" <innovation@taarnby.dk>'}))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a PostgreSQL matter
def test_a_postgresql_address_written_as_other_tools_write_it_is_used_with_psycopg(cli, expect, db_url):
    url = make_url(db_url)
    for drivername in ("postgres", "postgresql"):
        written = url.set(drivername=drivername).render_as_string(hide_password=False)
        assert head() in expect.ok(cli("init", database_url=written))


def test_a_variable_that_is_no_setting_is_a_warning_naming_the_setting_it_resembles(cli, expect):
    expect.ok(cli("init"))
    done = cli("list", settings={"IDEAFLOW_SMTP_HOTS": "mail.kommune.dk", "IDEAFLOW_FROBNICATE": "1",
                                 "OTHERTOOL_SMTP_HOTS": "x"})
    assert done.returncode == 0 and "id" in done.stdout
    assert done.stderr.splitlines() == [
        "ideaflow: warning: IDEAFLOW_FROBNICATE is no setting of ideaflow and is ignored",
        "ideaflow: warning: IDEAFLOW_SMTP_HOTS is no setting of ideaflow and is ignored; "
        "did you mean IDEAFLOW_SMTP_HOST?",
    ]
    assert cli("list").stderr == ""


def test_single_sign_on_given_part_of_its_settings_warns_which_are_missing(cli, expect):
    expect.ok(cli("init"))
    done = cli("list", settings={"IDEAFLOW_OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0",
                                 "IDEAFLOW_OIDC_CLIENT_ID": "ideaflow"})
    assert done.returncode == 0
    assert done.stderr == "ideaflow: warning: single sign-on is off: it needs IDEAFLOW_OIDC_CLIENT_SECRET as well\n"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a PostgreSQL matter
def test_a_postgresql_database_that_does_not_exist_is_said_to_need_creating(cli, expect, db_url):
    missing = make_url(db_url).set(database="ideaflow_not_created").render_as_string(hide_password=False)
    for command in (["init"], ["list"]):
        expect.failed(cli(*command, database_url=missing), 1, "the database 'ideaflow_not_created' does not exist",
                      "createdb ideaflow_not_created")


def test_a_database_a_newer_release_migrated_is_refused_by_init_and_every_command(cli_process, expect, db_url):
    """Through the installed command: the check is made once per process, when it opens the database."""
    expect.ok(cli_process("init"))
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfacef00d'"))
    newer = "the database's schema (revision f00dfacef00d) is newer than this ideaflow knows: upgrade ideaflow"
    for command in (["init"], ["list"], ["pool", "show", "Innovationspuljen"]):
        expect.failed(cli_process(*command), 1, newer)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "f00dfacef00d"
    engine.dispose()
