"""one-day pilots: a pilot's first and last day may be the same day

A pilot runs from its start date to its end date, both days included, so a pilot of one day starts and
ends on the same date. The pilots table's check said `start_date < end_date`; it now says
`start_date <= end_date` (constraint `ck_pilots_starts_by_end`). Every stored row already holds.

PostgreSQL drops the old constraint and adds the new one. SQLite cannot alter a CHECK constraint, and a
batch migration's copy-and-rename of `pilots` is refused while its sites, followers and measures point
at it (foreign keys are on). A constraint that is only loosened changes nothing on disk, so the table's
definition is rewritten in place, as SQLite documents for such changes
(https://www.sqlite.org/lang_altertable.html#otheralter): `writable_schema`, the one line replaced, and
`schema_version` raised so that every connection reads the new definition.

A downgrade restores `start_date < end_date`; PostgreSQL refuses it while a one-day pilot is stored
(SQLite would keep it, unchecked, until it is changed).

Revision ID: 3c8d5e7f9a12
Revises: 1b7e4c9d2f60
Create Date: 2026-12-06 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3c8d5e7f9a12'
down_revision: str | None = '1b7e4c9d2f60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ('ck_pilots_starts_before_end', 'start_date < end_date')
BY = ('ck_pilots_starts_by_end', 'start_date <= end_date')


def _replace(old: tuple[str, str], new: tuple[str, str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.drop_constraint(op.f(old[0]), 'pilots', type_='check')
        op.create_check_constraint(op.f(new[0]), 'pilots', new[1])
        return
    said = {name: f'CONSTRAINT {name} CHECK ({check})' for name, check in (old, new)}
    sql = bind.scalar(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'pilots'"))
    if said[old[0]] not in sql:
        raise RuntimeError(f'pilots: expected {said[old[0]]!r} in its definition: {sql}')
    version = bind.scalar(sa.text('PRAGMA schema_version'))
    bind.execute(sa.text('PRAGMA writable_schema = ON'))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'pilots'"),
                 {'sql': sql.replace(said[old[0]], said[new[0]])})
    bind.execute(sa.text(f'PRAGMA schema_version = {version + 1}'))
    bind.execute(sa.text('PRAGMA writable_schema = OFF'))


def upgrade() -> None:
    _replace(BEFORE, BY)


def downgrade() -> None:
    _replace(BY, BEFORE)
