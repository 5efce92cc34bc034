"""people by address, ignoring case: an index on lower(email)

A proposer who types their address as "Aase@Example.dk" one day and "aase@example.dk" the next is
one person: submitting and signing in find them ignoring case. This index makes that lookup a
seek instead of a walk through every person.

Revision ID: 5b8e1d0c7a24
Revises: 9d2c4e6a1b57
Create Date: 2026-12-03 02:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b8e1d0c7a24"
down_revision: str | None = "9d2c4e6a1b57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_people_email_lower", "people", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_people_email_lower", table_name="people")
