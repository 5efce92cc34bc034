"""review requests name their round

A review request's payload names its gate round since 2026-12-03, so that a reviewer named after a
round began is not asked a second time in that round (`OutboxRepository.recipients`). Requests
written before carry only the gate; this gives each the round its idea was in when it was written:
one more than the idea's recycle decisions up to then (a recycle is what starts a new round, and its
new round's requests are written in the decision's transaction, at its moment).

Revision ID: 8a4f6c2e1d93
Revises: 2f6a9c3e8d51
Create Date: 2026-12-03 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8a4f6c2e1d93'
down_revision: str | None = '2f6a9c3e8d51'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTBOX = sa.table("outbox", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("idea_id", sa.Integer),
                  sa.column("payload", sa.JSON), sa.column("created_at", sa.DateTime))
DECISIONS = sa.table("decisions", sa.column("idea_id", sa.Integer), sa.column("decision", sa.String),
                     sa.column("at", sa.DateTime))


def upgrade() -> None:
    connection = op.get_bind()
    recycles_before = (sa.select(sa.func.count()).select_from(DECISIONS)
                       .where(DECISIONS.c.idea_id == OUTBOX.c.idea_id, DECISIONS.c.decision == "recycle",
                              DECISIONS.c.at <= OUTBOX.c.created_at)
                       .scalar_subquery())
    requests = connection.execute(sa.select(OUTBOX.c.id, OUTBOX.c.payload, recycles_before)
                                  .where(OUTBOX.c.kind == "review_requested")).all()
    for row_id, payload, recycles in requests:
        if "round" not in payload:
            connection.execute(sa.update(OUTBOX).where(OUTBOX.c.id == row_id)
                               .values(payload={**payload, "round": recycles + 1}))


def downgrade() -> None:
    """The round stays in the payloads: the code before reads only the keys it knows."""
