"""released grants: a grant goes back to its pool when its idea ends before its pilot begins

An idea granted money at the funding gate and then killed or withdrawn before its pilot began (from
funded, or on hold from funded) gives its grant back to the pool (`Idea._release_grant`): its allocation
is marked `released_at`, the pool's `allocated_dkk` is lowered by it in the same transaction, and the
history gains a `release` line. Once a pilot has begun (its idea was ever piloting), its grant is spent
and stays allocated, whatever became of the idea.

Before this migration no grant was ever released, so a database upgraded from an earlier version may
hold grants of ideas killed or withdrawn before their pilots began, still counted against their pools.
They are released here, as the code does now: allocation marked, pool lowered, the idea's allocated
amount cleared (its version raised, as any change to its row does), and a `release` line added to its
history at the moment of the upgrade, by nobody (the system), as a timer's lines are. The history is
append-only: the earlier lines stay as they were.

A downgrade drops the column; grants released stay released (the pool's allocation is not raised again:
that could exceed its budget if the money has been granted anew since).

Revision ID: 1b7e4c9d2f60
Revises: 6e1c9b4d2a57
Create Date: 2026-12-05 09:00:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = '1b7e4c9d2f60'
down_revision: str | None = '6e1c9b4d2a57'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = storage.tables.UTCDateTime(timezone=True)
ALLOCATIONS = sa.table('allocations', sa.column('id'), sa.column('pool_id'), sa.column('idea_id'),
                       sa.column('amount_dkk'), sa.column('released_at', _WHEN))
IDEAS = sa.table('ideas', sa.column('id'), sa.column('stage'), sa.column('allocated_dkk'), sa.column('version'))
POOLS = sa.table('pools', sa.column('id'), sa.column('allocated_dkk'))
HISTORY = sa.table('history', sa.column('idea_id'), sa.column('action'), sa.column('from_stage'),
                   sa.column('to_stage'), sa.column('at', _WHEN), sa.column('by_id'), sa.column('reason'),
                   sa.column('subject_id'))


def released_line(amount_dkk: int) -> str:
    """`states.model.released_line` as it is written today (frozen here: a migration does not follow the code)."""
    return f"grant of {amount_dkk:,} kr. released to the pool".replace(",", ".")


def upgrade() -> None:
    op.add_column('allocations', sa.Column('released_at', _WHEN, nullable=True))
    bind, now = op.get_bind(), datetime.now(UTC)
    piloted = sa.select(HISTORY.c.idea_id).where(HISTORY.c.to_stage == 'piloting')
    unspent = bind.execute(
        sa.select(ALLOCATIONS.c.id, ALLOCATIONS.c.pool_id, ALLOCATIONS.c.idea_id, ALLOCATIONS.c.amount_dkk,
                  IDEAS.c.stage)
        .join(IDEAS, IDEAS.c.id == ALLOCATIONS.c.idea_id)
        .where(IDEAS.c.stage.in_(('rejected', 'withdrawn')), ALLOCATIONS.c.idea_id.not_in(piloted))
        .order_by(ALLOCATIONS.c.id)).all()
    for allocation_id, pool_id, idea_id, amount, stage in unspent:
        bind.execute(sa.update(ALLOCATIONS).where(ALLOCATIONS.c.id == allocation_id).values(released_at=now))
        bind.execute(sa.update(POOLS).where(POOLS.c.id == pool_id)
                     .values(allocated_dkk=POOLS.c.allocated_dkk - amount))
        bind.execute(sa.update(IDEAS).where(IDEAS.c.id == idea_id)
                     .values(allocated_dkk=None, version=IDEAS.c.version + 1))
        bind.execute(sa.insert(HISTORY).values(idea_id=idea_id, action='release', from_stage=stage, to_stage=stage,
                                               at=now, by_id=None, reason=released_line(amount), subject_id=None))


def downgrade() -> None:
    with op.batch_alter_table('allocations', schema=None) as batch_op:
        batch_op.drop_column('released_at')
