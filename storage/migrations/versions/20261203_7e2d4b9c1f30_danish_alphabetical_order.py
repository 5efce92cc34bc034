"""Danish alphabetical order: the collation ideaflow_danish on PostgreSQL

The portfolio sorts titles in Danish alphabetical order (`states.alphabet`): æ, ø, å after z, case
ignored. On SQLite every connection gets a collation of this name (`storage.db`); here PostgreSQL
gets one: ICU's Danish where the server has ICU (Debian's and the usual managed services have it),
else the operating system's Danish locale, else the database's default order (sorting still works,
in code-point order, and says nothing false).

Revision ID: 7e2d4b9c1f30
Revises: 5b8e1d0c7a24
Create Date: 2026-12-03 07:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7e2d4b9c1f30"
down_revision: str | None = "5b8e1d0c7a24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    icu = bind.scalar(sa.text("SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collprovider = 'i')"))
    libc = bind.scalar(sa.text("SELECT collname FROM pg_collation WHERE collprovider = 'c' "
                               "AND lower(collname) IN ('da_dk.utf8', 'da_dk.utf-8') LIMIT 1"))
    if icu:
        op.execute("CREATE COLLATION IF NOT EXISTS ideaflow_danish (provider = icu, locale = 'da')")
    elif libc:
        op.execute(f'CREATE COLLATION IF NOT EXISTS ideaflow_danish FROM "{libc}"')
    else:
        op.execute('CREATE COLLATION IF NOT EXISTS ideaflow_danish FROM "default"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP COLLATION IF EXISTS ideaflow_danish")
