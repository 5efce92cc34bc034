"""outbox lease column

A flush leased its messages by pushing `next_attempt_at` past the lease, so a leased message looked
like one waiting for its backoff. `ideaflow outbox --flush` now tries deferred messages at once and
must still leave leased ones alone: the lease gets a column of its own.

Revision ID: 3c5e9a1f7b24
Revises: c30b08210d21
Create Date: 2026-12-02 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = '3c5e9a1f7b24'
down_revision: str | None = 'c30b08210d21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leased_until', storage.tables.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('leased_until')
