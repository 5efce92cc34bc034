"""The IDEAFLOW_* settings and the database as every command meets them first.

A setting ideaflow cannot use is one line naming it and what it must be, exit 2, before anything is
read or written; a variable that looks like a setting but is none is a warning naming the setting it
resembles; a PostgreSQL database that does not exist, or one whose schema a newer release made, is
one line saying so (exit 1) for `init` as for every other command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

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
    # SQLite itself would say only "unable to open database file"
    ("IDEAFLOW_DATABASE_URL", "sqlite:////no/such/dir/x.db",
     "names a SQLite file in the folder '/no/such/dir', which does not exist: create the folder, or name a file in "
     "one that does"),
]
UVICORN = Path(sys.executable).with_name("uvicorn")


@pytest.mark.parametrize(("name", "value", "says"), BAD_SETTINGS, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("command", [["init"], ["list"], ["web", "--port", "0"], ["serve", "--port", "0"], ["demo"]])
def test_a_setting_ideaflow_cannot_use_is_one_line_naming_it_and_changes_nothing(cli, expect, name, value, says,
                                                                                 command):
    line = expect.failed(cli(*command, settings={name: value}), 2, f"bad setting: {name} {says}")
    assert "hemmeligt" not in line  # a database address's password is never repeated
    expect.failed(cli("list"), 1, "run 'ideaflow init' first")  # init made no table


def test_a_sqlite_file_in_a_folder_that_is_a_file_is_a_bad_setting(cli, expect, tmp_path):
    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    expect.failed(cli("init", database_url=f"sqlite:///{tmp_path / 'notes.txt' / 'x.db'}"), 2,
                  f"bad setting: IDEAFLOW_DATABASE_URL names a SQLite file in '{tmp_path / 'notes.txt'}', "
                  "which is not a folder")
    # a relative file is in the working folder, and its folder is said as such
    expect.failed(cli("init", database_url="sqlite:///data/x.db"), 2, f"in the folder '{tmp_path / 'data'}'")
    (tmp_path / "data").mkdir()
    expect.ok(cli("init", database_url="sqlite:///data/x.db"))
    # in memory: no folder to look for (and no tables: no bad setting, but no init either)
    expect.failed(cli("list", database_url="sqlite://"), 1, "run 'ideaflow init' first")


def uvicorn(tmp_path: Path, *args: str, **settings: str) -> subprocess.Popen:
    """`uvicorn --factory web.app:from_environment` in tmp_path, with these IDEAFLOW_* settings only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    env.update(settings)
    return subprocess.Popen([str(UVICORN), "--factory", "web.app:from_environment", "--port", "0", *args],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("name", "value", "says"), [BAD_SETTINGS[0], BAD_SETTINGS[-1]], ids=["port", "folder"])
def test_uvicorns_factory_says_a_bad_setting_in_the_line_ideaflow_web_says_and_exits_2(cli, db_url, tmp_path, name,
                                                                                       value, says):
    """Not a traceback: the console's factory for uvicorn's own workers reports settings as `ideaflow web` does."""
    said = f"ideaflow: bad setting: {name} {says}" + ("" if name == "IDEAFLOW_DATABASE_URL" else f" (it is {value!r})")
    web = cli("web", "--port", "0", settings={name: value})
    assert web.returncode == 2
    process = uvicorn(tmp_path, **{"IDEAFLOW_DATABASE_URL": db_url, name: value})
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and stdout == ""
    assert stderr.splitlines() == web.stderr.splitlines() == [said]

    # uvicorn's workers: the first to fail says it and the supervisor stops (the other may be stopped
    # before it says it too); it would start a worker that exits otherwise than uvicorn's "failed to
    # start" again, for ever, until the time-out killed it
    process = uvicorn(tmp_path, "--workers", "2", **{"IDEAFLOW_DATABASE_URL": db_url, name: value})
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    lines = [line for line in stderr.splitlines() if line.startswith("ideaflow: ")]
    assert lines in ([said], [said] * 2), stderr
    assert "Traceback" not in stderr


def test_uvicorns_factory_refuses_a_local_sender_with_smtp_as_ideaflow_web_does(cli, db_url, tmp_path):
    """The console would otherwise say "check your mail" for links that can never leave."""
    settings = {"IDEAFLOW_SMTP_HOST": "127.0.0.1", "IDEAFLOW_MAIL_FROM": "ideaflow <ideaflow@localhost>"}
    web = cli("web", "--port", "0", settings=settings)
    assert web.returncode == 2
    process = uvicorn(tmp_path, IDEAFLOW_DATABASE_URL=db_url, **settings)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and stdout == ""
    (line,) = stderr.splitlines()
    assert line == web.stderr.strip() and "IDEAFLOW_MAIL_FROM" in line and "ideaflow@localhost" in line


def test_uvicorns_factory_serves_the_console_with_good_settings(cli, expect, db_url, tmp_path):
    expect.ok(cli("init"))
    process = uvicorn(tmp_path, IDEAFLOW_DATABASE_URL=db_url, IDEAFLOW_MAIL_DIR=str(tmp_path / "mail"))
    try:
        for line in process.stderr:
            if "Uvicorn running on " in line:
                address = line.split("Uvicorn running on ")[1].split()[0]
                break
        else:
            pytest.fail("uvicorn ended before it listened")
        with urllib.request.urlopen(address + "/login", timeout=10) as response:
            assert response.status == 200 and 'name="email"' in response.read().decode()
    finally:
        process.terminate()
        process.communicate(timeout=30)


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
