"""portfolio: an index on ideas (stage, deadline)

The coordinator's portfolio filters by stage or open gate in deadline order and counts the overdue
gates; with this index those are seeks, not a walk through every idea (100,000 in the benchmark).

Revision ID: 4f0e2b7c9a13
Revises: cd7a8e712b43
Create Date: 2026-12-02 12:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '4f0e2b7c9a13'
down_revision: str | None = 'cd7a8e712b43'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_ideas_stage_deadline', 'ideas', ['stage', 'deadline'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ideas_stage_deadline', table_name='ideas')
