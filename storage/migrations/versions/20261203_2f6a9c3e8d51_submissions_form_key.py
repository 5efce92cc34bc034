"""submissions form key

The public form carries a random key drawn when its page is shown; a submission stores it, unique, so
that the same form sent twice (a double click, a browser retrying a slow answer) is one submission
with one confirmation mail.

Revision ID: 2f6a9c3e8d51
Revises: 7e2d4b9c1f30
Create Date: 2026-12-03 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '2f6a9c3e8d51'
down_revision: str | None = '7e2d4b9c1f30'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A unique index, not a constraint: on SQLite a new constraint means copying the table, and
    # reflecting it for the copy warns about other tables' expression indexes on every `ideaflow init`.
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_key', sa.String(length=43), nullable=True))
    op.create_index(op.f('ix_submissions_form_key'), 'submissions', ['form_key'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_submissions_form_key'), table_name='submissions')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('form_key')
