"""random Message-ID keys on outbox rows; digest opt-out and unsubscribe token on people

Revision ID: 5c3e9a1f7b20
Revises: 3c5e9a1f7b24
Create Date: 2026-11-24 09:00:00

Rows already in the outbox keep the Message-ID they had (`outbox-<id>`), so a message handed to a
server before the upgrade and retried after it still carries the same Message-ID; new rows get a
random key. Every existing person gets a random unsubscribe token.
"""
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = '5c3e9a1f7b20'
down_revision: str | None = '3c5e9a1f7b24'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_key', sa.String(length=64), nullable=True))
    op.execute("UPDATE outbox SET message_key = 'outbox-' || id")
    with op.batch_alter_table('outbox', schema=None) as batch_op:  # on SQLite: a copy (nothing refers to it)
        batch_op.alter_column('message_key', existing_type=sa.String(length=64), nullable=False)
    op.create_index(op.f('ix_outbox_message_key'), 'outbox', ['message_key'], unique=True)

    # `people` is only added to, never copied: SQLite would copy it to change a column, and dropping the
    # old copy is vetoed by every row that refers to a person (so digest_token stays NULL-able).
    op.add_column('people', sa.Column('digest_stopped_at', storage.tables.UTCDateTime(timezone=True), nullable=True))
    op.add_column('people', sa.Column('digest_token', sa.String(length=64), nullable=True))
    connection = op.get_bind()
    people = sa.table('people', sa.column('id', sa.Integer), sa.column('digest_token', sa.String))
    ids = connection.execute(sa.select(people.c.id)).scalars().all()
    if ids:
        connection.execute(people.update().where(people.c.id == sa.bindparam('person_id')),
                           [{'person_id': i, 'digest_token': secrets.token_urlsafe(32)} for i in ids])
    op.create_index(op.f('ix_people_digest_token'), 'people', ['digest_token'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_people_digest_token'), table_name='people')
    # native ALTERs: a batch copy of `people` could not drop the old table that every person row is referred from
    op.execute("ALTER TABLE people DROP COLUMN digest_token")
    op.execute("ALTER TABLE people DROP COLUMN digest_stopped_at")
    op.drop_index(op.f('ix_outbox_message_key'), table_name='outbox')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('message_key')
