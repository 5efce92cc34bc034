"""review versions and drafts

A reviewer's review of a gate round becomes a series of versions (drafts and submissions); the
unique constraint takes the version in. Reviews stored before keep counting: version 1, submitted.

Revision ID: c30b08210d21
Revises: f92decc3fe42
Create Date: 2026-12-02 08:02:35.189510
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c30b08210d21'
down_revision: str | None = 'f92decc3fe42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('submitted', sa.Boolean(), nullable=False, server_default='1'))
        batch_op.drop_constraint(batch_op.f('uq_reviews_idea_id_gate_round_reviewer_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_reviews_idea_id_gate_round_reviewer_id_version'),
                                          ['idea_id', 'gate', 'round', 'reviewer_id', 'version'])
    # The defaults only filled the existing rows; new rows always say which version they are.
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.alter_column('version', server_default=None)
        batch_op.alter_column('submitted', server_default=None)


def downgrade() -> None:
    # The previous schema holds one review per reviewer and gate round: keep the version that counts
    # (the newest submitted one) and drop drafts and superseded versions.
    op.execute(
        "DELETE FROM reviews WHERE NOT submitted OR version < (SELECT MAX(newer.version) FROM reviews newer "
        "WHERE newer.idea_id = reviews.idea_id AND newer.gate = reviews.gate AND newer.round = reviews.round "
        "AND newer.reviewer_id = reviews.reviewer_id AND newer.submitted)"
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_reviews_idea_id_gate_round_reviewer_id_version'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_reviews_idea_id_gate_round_reviewer_id'),
                                          ['idea_id', 'gate', 'round', 'reviewer_id'])
        batch_op.drop_column('submitted')
        batch_op.drop_column('version')
