"""pool names are unique ignoring case: a unique index on lower(name)

The command line names a pool by `--pool NAME`, and people tell pools apart by their names: two pools
whose names differ only in capital letters ("Testpulje decimal2", "testpulje DECIMAL2") are one name
twice. The service layer refuses such a name (`Services.create_pool`, comparing as Python folds case,
Danish letters too); this index is the database's own guard against two such pools created at the
same moment (SQLite's lower() folds only A-Z; PostgreSQL's follows the database's locale).

A database that already holds such names keeps the oldest pool's name and gives each later one its
number after the name ("testpulje DECIMAL2 (7)"), so the index can be made; the pools, their ideas
and their history are otherwise unchanged.

Revision ID: 3d7b1f9a6c42
Revises: 8a4f6c2e1d93
Create Date: 2026-12-03 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d7b1f9a6c42"
down_revision: str | None = "8a4f6c2e1d93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POOLS = sa.table("pools", sa.column("id", sa.Integer), sa.column("name", sa.String))
NAME_MAX = 200


def upgrade() -> None:
    connection = op.get_bind()
    taken: set[str] = set()
    renamed: list[tuple[int, str]] = []
    rows = connection.execute(sa.select(POOLS.c.id, POOLS.c.name, sa.func.lower(POOLS.c.name))
                              .order_by(POOLS.c.id)).all()
    lowered = {folded for _, _, folded in rows}
    for pool_id, name, folded in rows:
        if folded not in taken:
            taken.add(folded)
            continue
        suffix = f" ({pool_id})"
        new = name[:NAME_MAX - len(suffix)] + suffix
        renamed.append((pool_id, new))
        taken.add(new.lower())
        assert new.lower() not in lowered, f"pool {pool_id}: {new!r} is taken too; rename one of them by hand"
    for pool_id, new in renamed:
        connection.execute(sa.update(POOLS).where(POOLS.c.id == pool_id).values(name=new))
    op.create_index("ix_pools_name_lower", "pools", [sa.text("lower(name)")], unique=True)


def downgrade() -> None:
    op.drop_index("ix_pools_name_lower", table_name="pools")
