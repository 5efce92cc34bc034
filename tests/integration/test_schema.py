"""Migrations: `init` is repeatable and the migrations produce exactly the models' schema."""

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import make_engine
from storage.migrate import current, head, upgrade
from storage.tables import Base


def test_upgrade_is_repeatable_and_matches_the_models(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    assert current(engine) is None
    assert upgrade(engine) == head()
    assert upgrade(engine) == head()
    assert current(engine) == head()
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite's reflection cannot read an index on an expression, so the comparison skips it (and says
        # so): ix_people_email_lower and ix_pools_name_lower are checked by hand below. PostgreSQL's
        # reflection compares them.
        warnings.filterwarnings("ignore", message=".*expression-based index '?ix_(people_email|pools_name)_lower")
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
        made = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'ix_people_email_lower'").scalar()
        unique = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'ix_pools_name_lower'").scalar()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"
    assert made is not None and "on people (lower(email))" in made.lower().replace('"', ""), made
    assert unique is not None and "unique index" in unique.lower() and "on pools (lower(name))" in \
        unique.lower().replace('"', ""), unique


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
