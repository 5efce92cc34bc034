"""Several `ideaflow init` at once on one empty database, as every worker of a deployment runs one at start
(the README's recipe): one migrates, the others wait for it and find nothing to do, and all say the
database is ready. On PostgreSQL an advisory lock makes them take turns (storage.migrate); without it,
one of them ended in an 80-line traceback, a duplicate key in alembic_version.
"""

from __future__ import annotations

from sqlalchemy import text

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from storage.migrate import head

from cli_inproc import race_in_lockstep

RACERS = 3


def test_workers_initialising_one_empty_database_at_once_all_find_it_ready(db_url, spawn):
    outcomes = race_in_lockstep(spawn, db_url, [[(racer, ["init"])] for racer in range(RACERS)])

    assert len(outcomes) == RACERS
    for racer, code, stdout, stderr in outcomes:
        assert (code, stderr) == (0, ""), (racer, stderr[-2000:])
        assert stdout.startswith("database ready: ") and f"(schema {head()})" in stdout, stdout
    with bootstrap(Settings(_env_file=None, database_url=db_url)) as app, app.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head()]
