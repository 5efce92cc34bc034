"""Pool names are unique ignoring letter case: the service refuses a name that differs from another only
in capital letters (Danish letters too), the database refuses two such made at once, and the migration
that adds the index renames what an older database already holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, insert, select
from sqlalchemy.exc import IntegrityError
from test_review_versions_migration import migrate

from states.errors import Conflict
from states.messages import sentence
from storage.migrate import MIGRATIONS, upgrade
from storage.tables import PoolRow

NAMES = "3d7b1f9a6c42"  # the migration that makes pool names unique ignoring case
BEFORE = ScriptDirectory(str(MIGRATIONS)).get_revision(NAMES).down_revision
AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def pools(engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(PoolRow.id, PoolRow.name).order_by(PoolRow.id))]


def test_a_pool_name_that_differs_only_in_capital_letters_is_refused_naming_the_field(app):
    services = app.services
    services.create_pool("Testpulje decimal2", 1000, 2027, AT)
    services.create_pool("Ærø pulje", 1000, 2027, AT)
    for name, other in (("testpulje DECIMAL2", "Testpulje decimal2"), ("ÆRØ PULJE", "Ærø pulje")):
        with pytest.raises(Conflict) as refused:
            services.create_pool(name, 1000, 2027, AT)
        assert (refused.value.code, refused.value.field, refused.value.values["pool"]) == (
            "pool.name_differs_in_case", "pool_name", other)
    assert sentence(refused.value, "da", {"pool_name": "Navn"}.get) == (
        "Puljen 'Ærø pulje' findes allerede: Navn skal adskille sig fra den med mere end store og små bogstaver.")
    with pytest.raises(Conflict, match="pool 'Ærø pulje' already exists$"):
        services.create_pool("Ærø pulje", 1000, 2027, AT)
    assert [name for _, name in pools(app.engine)] == ["Testpulje decimal2", "Ærø pulje"]


def test_the_database_refuses_two_pools_named_alike(app):
    app.services.create_pool("Testpulje decimal2", 1000, 2027, AT)
    row = dict(year=2027, budget_dkk=1000, allocated_dkk=0, screening_days=30, funding_days=45, evaluation_days=30,
               reminder_days=5, on_screening_deadline="escalate", created_at=AT)
    with pytest.raises(IntegrityError), app.engine.begin() as connection:  # as a concurrent create would
        connection.execute(insert(PoolRow).values(name="TESTPULJE DECIMAL2", **row))


def test_the_migration_renames_the_later_of_two_pools_named_alike(app):
    engine = app.engine
    migrate(engine, BEFORE, down=True)
    tables = MetaData()
    with engine.begin() as connection:
        tables.reflect(connection, only=["pools"])
        table = tables.tables["pools"]
        row = dict(year=2027, budget_dkk=1000, allocated_dkk=0, screening_days=30, funding_days=45,
                   evaluation_days=30, reminder_days=5, on_screening_deadline="escalate", created_at=AT)
        for name in ("Testpulje decimal2", "Anden pulje", "testpulje DECIMAL2", "TESTPULJE decimal2", "x" * 200,
                     "X" * 200):
            connection.execute(insert(table).values(name=name, **row))
    upgrade(engine)
    first, other, second, third, long, long_again = pools(engine)
    assert (first[1], other[1]) == ("Testpulje decimal2", "Anden pulje")
    assert (second[1], third[1]) == (f"testpulje DECIMAL2 ({second[0]})", f"TESTPULJE decimal2 ({third[0]})")
    assert long[1] == "x" * 200 and long_again[1] == "X" * (200 - len(f" ({long_again[0]})")) + f" ({long_again[0]})"
    with pytest.raises(Conflict):
        app.services.create_pool("anden PULJE", 1000, 2027, AT)
