"""Shared fixtures: a real SQLite file per test, the service layer on it, and the installed CLI.

Nothing is mocked. `app` is the application as the composition root builds it for this test's
database; `services` and `world` set the scene in-process (fast); `cli` runs the installed
`ideaflow` console script as a separate process, the way a coordinator or a script would.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import inspect, make_url, text

from ideaflow.bootstrap import Container, bootstrap
from ideaflow.config import Settings
from ideaflow.services import Services
from ideaflow.views import idea_view
from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Decision, Outcome, Role, Stage
from storage.db import make_engine
from storage.migrate import upgrade

import pgcluster
from cli_inproc import run_cli_in
from mailtest import SmtpServer

IDEAFLOW = Path(sys.executable).with_name("ideaflow")

ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


DATABASES = os.environ.get("IDEAFLOW_TEST_DATABASES", "sqlite,postgresql").split(",")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest tests first (`long`, then `slow`), keeping the order within each kind: pytest-xdist
    hands out the list front to back and idle workers steal from the back, so the short tests fill
    the gaps at the end instead of a worker finishing alone with a two-minute test."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("long") else 1 if item.get_closest_marker("slow") else 2)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker more than the cores this process may use. A third of a worker's time goes
    to waiting (servers starting, racing processes, SQLite's busy handler, a stalling SMTP server),
    and the extra worker fills it: the cores stay busy. PYTEST_XDIST_AUTO_NUM_WORKERS still decides."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return len(os.sched_getaffinity(0)) + 1


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory):
    """`prefect_home(folder)`: make `folder` a PREFECT_HOME whose Prefect database is migrated already.

    A Prefect server on a fresh home spends ~20 s (16 s of CPU) migrating its database before it
    answers; the tests that start `ideaflow serve` or a Prefect server of their own get a copy of one
    database migrated once per run, by whichever worker asks first (the others wait for it). The
    fresh-home path itself stays covered: `ideaflow demo`'s test runs in an empty home."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    migrated = shared / "prefect-home-migrated" / "prefect.db"

    def make(folder: Path) -> Path:
        with open(shared / "prefect-home-migrated.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not migrated.exists():
                home = migrated.parent / "in-the-making"
                home.mkdir(parents=True)
                env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
                subprocess.run([str(Path(sys.executable).with_name("prefect")), "server", "database", "upgrade", "-y"],
                               env=env, check=True, capture_output=True, timeout=600)
                (home / "prefect.db").rename(migrated)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated, folder / "prefect.db")
        return folder

    return make


_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster for the whole session, or the reason there is none."""
    cluster = pgcluster.Cluster()
    url = cluster.start()
    server = make_engine(url) if url else None
    yield server, cluster.why_not
    if server is not None:
        server.dispose()
    cluster.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ideaflow.db"


@pytest.fixture(params=DATABASES)
def db_url(request, db_path: Path) -> str:
    """An empty database (the `engine` fixture migrates it): a SQLite file, or a new PostgreSQL database.

    Every test that uses it runs on both; without a PostgreSQL server the second half is skipped
    with the reason. `IDEAFLOW_TEST_DATABASES=sqlite` limits a local run to SQLite. For a test that
    uses `app` (through `engine`, `services`, …) the PostgreSQL database is made only when `app`
    makes it, as a copy of the migrated template (an empty one made first would cost a CREATE
    DATABASE and a DROP DATABASE more), so nothing may touch it before `app` does.
    """
    if request.param == "sqlite":
        return f"sqlite:///{db_path}"
    server, why_not = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip(f"PostgreSQL tests skipped: {why_not}")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    if "migrated" in request.fixturenames:  # `app` makes it, as a copy of the migrated template
        url = server.url.set(database=name).render_as_string(hide_password=False)
        _not_yet_made.add(url)
        return url
    return _new_postgres_database(server, name)


#: PostgreSQL databases named by `db_url` for a test whose `migrated` fixture will make them.
_not_yet_made: set[str] = set()


def _new_postgres_database(server, name: str) -> str:
    with server.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text(f'CREATE DATABASE "{name}"'))
    return server.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated(tmp_path_factory, request):
    """`migrated(db_url)`: make this test's new, untouched database (a SQLite file not there yet, a
    PostgreSQL database `db_url` left for it to make) a copy of one migrated once per worker and
    kind, instead of running every migration again for each test (about half a second each here).
    A SQLite file is copied; PostgreSQL makes the database from a template."""
    templates: dict[str, str] = {}

    def template(kind: str) -> str:
        if kind not in templates:
            if kind == "sqlite":
                path = tmp_path_factory.mktemp("migrated") / "ideaflow.db"
                url = f"sqlite:///{path}"
            else:
                server, _ = request.getfixturevalue("postgres_server")
                url = _new_postgres_database(server, f"migrated_{os.getpid()}")
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()  # SQLite folds its WAL into the file; PostgreSQL copies only an unused template
            templates[kind] = url
        return templates[kind]

    def copy(db_url: str) -> bool:
        """Whether `db_url` was made a copy (False: it was touched before, and is left as it is)."""
        if db_url.startswith("sqlite:///"):
            target = Path(db_url.removeprefix("sqlite:///"))
            if target.exists():
                return False
            shutil.copyfile(template("sqlite").removeprefix("sqlite:///"), target)
            return True
        if db_url in _not_yet_made:
            _not_yet_made.discard(db_url)
            name, source = make_url(db_url).database, make_url(template("postgresql")).database
            server, _ = request.getfixturevalue("postgres_server")
            with server.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
            return True
        return False

    return copy


@pytest.fixture
def app(db_url: str, tmp_path: Path, migrated):
    """The application on this test's (migrated) database, mail to .eml files in tmp_path/mail."""
    copied = migrated(db_url)
    with bootstrap(Settings(_env_file=None, database_url=db_url, mail_dir=tmp_path / "mail")) as app:
        if not copied:
            upgrade(app.engine)
        yield app


@pytest.fixture
def engine(app: Container):
    return app.engine


@pytest.fixture
def services(app: Container) -> Services:
    return app.services


def clean_env(db_url: str, home: Path) -> dict[str, str]:
    """The caller's environment without any IDEAFLOW_* setting, pointed at this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    env.update(IDEAFLOW_DATABASE_URL=db_url, IDEAFLOW_MAIL_DIR=str(home / "mail"), HOME=str(home),
               PYTHONDONTWRITEBYTECODE="1")
    return env


def _cli_runner(db_url: str, home: Path, in_process: bool):
    env = clean_env(db_url, home)

    def run(*args: str | int, timeout: float = 60, database_url: str | None = None,
            lang: str | None = None, settings: dict[str, str] | None = None) -> CliResult:
        environment = env if database_url is None else {**env, "IDEAFLOW_DATABASE_URL": database_url}
        if lang is not None:
            environment = {**environment, "IDEAFLOW_LANG": lang}
        environment = {**environment, **(settings or {})}  # more variables, each as given
        argv = [str(a) for a in args]
        if in_process:
            return CliResult(*run_cli_in(argv, environment, home))
        done = subprocess.run([str(IDEAFLOW), *argv], cwd=home, env=environment, capture_output=True,
                              text=True, timeout=timeout)
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def cli(db_url: str, tmp_path: Path):
    """Run `ideaflow ARGS...` in tmp_path; returns (returncode, stdout, stderr).

    The console script's own entry point (`ideaflow.cli.main`) runs inside the test process: each
    call builds its application from the environment anew, exactly as the script does, without a
    Python start-up (about half a second of CPU) per command. `cli_process` runs the installed
    script itself, for the tests that are about the process (its exit, its streams, its signals)."""
    return _cli_runner(db_url, tmp_path, in_process=True)


@pytest.fixture
def cli_process(db_url: str, tmp_path: Path):
    """Run the installed `ideaflow ARGS...` console script as a subprocess in tmp_path."""
    assert IDEAFLOW.exists(), f"the console script is not installed next to {sys.executable}"
    return _cli_runner(db_url, tmp_path, in_process=False)


@pytest.fixture
def smtp():
    """aiosmtpd on a free local port, recording every message it accepts (see mailtest.py)."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def runtime_env(monkeypatch, tmp_path):
    """`runtime_env(db_url, **settings)`: point what runs in this process (flows, the in-process CLI)
    at a database and IDEAFLOW_* settings (smtp_port=... -> IDEAFLOW_SMTP_PORT); undone afterwards.

    The environment is all there is to set: each CLI invocation and flow run builds its application
    from it anew, so no cache needs clearing."""

    def apply(db_url: str, **settings: object) -> None:
        monkeypatch.setenv("IDEAFLOW_DATABASE_URL", db_url)
        monkeypatch.setenv("IDEAFLOW_MAIL_DIR", str(tmp_path / "mail"))
        for key, value in settings.items():
            monkeypatch.setenv(f"IDEAFLOW_{key.upper()}", str(value))

    return apply


# -- looking at the database --------------------------------------------------------------------------


def db_snapshot(engine, tables: list[str] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table (or of `tables`, when the caller listed them once already), in one
    fixed order: the strongest 'nothing changed' there is.

    Sorted here, by each row's repr, not `ORDER BY 1`: where the first column is not unique
    (`idea_stage_counts`' pool id, with the stage beside it), PostgreSQL returns equal keys in the
    order its pages hold them, which an update of another row changes."""
    with engine.connect() as connection:
        if tables is None:
            tables = inspect(connection).get_table_names()
        return {t: sorted((tuple(r) for r in connection.execute(text(f'SELECT * FROM "{t}"'))), key=repr)
                for t in tables}


def db_fingerprint(engine, tables: list[str]) -> dict[str, tuple]:
    """Per table, what `db_snapshot` would hold, or on PostgreSQL its row count and a digest of its rows,
    which the server computes (rows sorted by their text) in one statement: equal fingerprints still
    mean that not one row changed, without shipping every row to this process before and after each
    of hundreds of commands. SQLite, in this process, reads its rows faster than it could digest them."""
    if engine.dialect.name != "postgresql":
        return db_snapshot(engine, tables)
    digests = " UNION ALL ".join(
        f"SELECT '{t}', count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM \"{t}\" AS r"
        for t in tables)
    with engine.connect() as connection:
        return {table: (count, digest) for table, count, digest in connection.execute(text(digests))}


def show_json(engine, idea_id: int) -> dict:
    """What `ideaflow show IDEA --json` prints, built by the same view the CLI uses."""
    return idea_view(engine, idea_id).model_dump(mode="json", by_alias=True)


@pytest.fixture
def shown(engine):
    """`shown(idea_id)`: the idea as `show --json` prints it (same view, in-process)."""
    return lambda idea_id: show_json(engine, idea_id)


@pytest.fixture
def snapshot(engine):
    return lambda: db_snapshot(engine)


@pytest.fixture
def fingerprint(engine):
    """`fingerprint()`: compare two to tell whether any row of any table changed (see db_fingerprint)."""
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
    return lambda: db_fingerprint(engine, tables)


@pytest.fixture
def unchanged(engine):
    """`with unchanged(idea_id, ...):` asserts that the block changed no row of any table.

    A refusal of who-may-do-what is recorded in the `refusals` audit table by design (in its own
    transaction); pass `audited=True` to require exactly that one row and nothing else.
    """

    @contextmanager
    def check(*idea_ids: int, audited: bool = False):
        before = db_snapshot(engine)
        views = [show_json(engine, i) for i in idea_ids]
        yield
        after = db_snapshot(engine)
        refusals_before, refusals_after = before.pop("refusals"), after.pop("refusals")
        for table in before:
            assert after[table] == before[table], f"table {table!r} changed"
        assert after.keys() == before.keys()
        assert refusals_after[: len(refusals_before)] == refusals_before
        assert len(refusals_after) == len(refusals_before) + (1 if audited else 0), "refusals audit rows"
        assert [show_json(engine, i) for i in idea_ids] == views

    return check


@pytest.fixture
def expect():
    """`expect.ok(result)` and `expect.failed(result, code, *needles)`, for tests that cannot import conftest."""

    class Expect:
        ok = staticmethod(assert_ok)
        failed = staticmethod(assert_failed)

    return Expect


def assert_failed(result: CliResult, code: int, *needles: str) -> str:
    """The command exited with `code`, printed nothing on stdout and exactly one line on stderr."""
    assert result.returncode == code, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"want one stderr line, got {result.stderr!r}"
    assert lines[0].startswith("ideaflow: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def assert_ok(result: CliResult) -> str:
    assert result.returncode == 0, result
    assert result.stderr == "", result.stderr
    return result.stdout


# -- a pool with its people, and ideas moved to any stage ----------------------------------------------


class World:
    """A pool, one coordinator, reviewer, proposer and follower, and a way to put ideas at any stage."""

    coordinator = "koordinator@kommune.dk"
    reviewer = "bedoemmer@kommune.dk"
    proposer = "borger@example.dk"
    follower = "byraad@kommune.dk"

    def __init__(self, services: Services, pool: str = "Innovationspuljen", budget_dkk: int = 5_000_000) -> None:
        self.services = services
        self.pool = pool
        self.now = datetime.now(UTC)
        services.create_pool(pool, budget_dkk, self.now.year, self.now)
        for email, name, role in [
            (self.coordinator, "Karin Koordinator", Role.COORDINATOR),
            (self.reviewer, "Bent Bedømmer", Role.REVIEWER),
            (self.proposer, "Birgit Borger", Role.PROPOSER),
            (self.follower, "Frede Følger", Role.FOLLOWER),
        ]:
            services.add_person(email, name, role, self.now)
        self._count = 0

    def clock(self) -> datetime:
        return datetime.now(UTC)

    def submit(self, title: str | None = None, *, requested_dkk: int | None = 100_000, pool: str | None = None) -> int:
        self._count += 1
        return self.services.submit(title=title or f"Idé nummer {self._count}", description="En god idé.",
                                    proposer=self.proposer, pool=pool or self.pool, now=self.clock(),
                                    requested_dkk=requested_dkk)

    def idea(self, stage: Stage | str = Stage.SUBMITTED, *, evaluation_open: bool = False, held_from: Stage | str =
             Stage.SUBMITTED, amount_dkk: int | None = None, **submit: object) -> int:
        idea_id = self.submit(**submit)
        self.move(idea_id, stage, evaluation_open=evaluation_open, held_from=held_from, amount_dkk=amount_dkk)
        return idea_id

    def move(self, idea_id: int, stage: Stage | str, *, evaluation_open: bool = False,
             held_from: Stage | str = Stage.SUBMITTED, amount_dkk: int | None = None) -> None:
        """Move a freshly submitted idea to `stage` through the service layer, the legal way."""
        s, stage = self.services, Stage(stage)
        if stage == Stage.SUBMITTED:
            return
        if stage == Stage.REJECTED:
            s.decide(idea_id, Decision.KILL, self.coordinator, self.clock(), reason="not for us")
            return
        if stage == Stage.WITHDRAWN:
            s.withdraw(idea_id, self.proposer, self.clock(), "changed my mind")
            return
        if stage == Stage.ON_HOLD:
            self.move(idea_id, held_from)
            s.decide(idea_id, Decision.HOLD, self.coordinator, self.clock(), reason="wait for the budget")
            return
        s.review(idea_id, self.reviewer, ALL_SCORES, self.clock(), comment="fine")
        s.decide(idea_id, Decision.GO, self.coordinator, self.clock())
        if stage == Stage.SCREENED:
            return
        s.decide(idea_id, Decision.GO, self.coordinator, self.clock(), amount_dkk=amount_dkk)
        if stage == Stage.FUNDED:
            return
        today, planned = date.today(), self.clock()
        if evaluation_open or stage == Stage.EVALUATED:  # a pilot that has ended: planned before it began
            start, end, planned = today - timedelta(days=30), today - timedelta(days=2), planned - timedelta(days=31)
        else:
            start, end = today - timedelta(days=1), today + timedelta(days=90)
        s.plan_pilot(idea_id, start=start, end=end, sites=("Gundsømagle", "Viby"), now=planned,
                     followers=(self.follower,), measures=("ventetid",), by=self.coordinator)
        s.sweep(self.clock())  # the start (and end) date has arrived
        if stage == Stage.PILOTING:
            return
        s.evaluate(idea_id, self.coordinator, ALL_SCORES, Outcome.SCALE, self.clock(), "skal udbredes")
        assert stage == Stage.EVALUATED, stage


@pytest.fixture
def world(services) -> World:
    return World(services)
