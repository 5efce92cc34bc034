"""Review requests written before they named their round get it from the migration, so that a reviewer
asked in a round is still not asked twice in it once the database is upgraded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.script import ScriptDirectory
from sqlalchemy import select, update
from test_review_versions_migration import migrate

from states.vocabulary import Decision, Role
from storage.migrate import MIGRATIONS, upgrade
from storage.tables import OutboxRow

ROUNDS = "8a4f6c2e1d93"  # the migration that gives review requests their round
BEFORE = ScriptDirectory(str(MIGRATIONS)).get_revision(ROUNDS).down_revision
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def requests(engine) -> list[tuple[int, dict]]:
    with engine.connect() as connection:
        return connection.execute(select(OutboxRow.recipient_id, OutboxRow.payload)
                                  .where(OutboxRow.kind == "review_requested").order_by(OutboxRow.id)).all()


def test_each_old_request_gets_the_round_it_was_written_in_and_nobody_is_asked_twice(app):
    services, engine = app.services, app.engine
    pool = services.create_pool("Tårnby", 5_000_000, 2026, AT)
    services.add_person("k@kommune.dk", "Karin", Role.COORDINATOR, AT)
    services.add_person("r1@kommune.dk", "Rikke", Role.REVIEWER, AT)
    services.add_person("r2@kommune.dk", "Rasmus", Role.REVIEWER, AT)
    idea = services.submit(title="Idé", description="d", proposer="p@example.dk", pool=pool.name, now=AT)
    services.decide(idea, Decision.RECYCLE, "k@kommune.dk", AT + timedelta(days=2), reason="Mere om prisen")
    written = requests(engine)
    assert sorted(payload["round"] for _, payload in written) == [1, 1, 2, 2]  # everyone, in each round

    # As the code before wrote them: the gate, no round.
    with engine.begin() as connection:
        for row_id, payload in connection.execute(select(OutboxRow.id, OutboxRow.payload)
                                                  .where(OutboxRow.kind == "review_requested")).all():
            connection.execute(update(OutboxRow).where(OutboxRow.id == row_id)
                               .values(payload={k: v for k, v in payload.items() if k != "round"}))
    migrate(engine, BEFORE, down=True)
    upgrade(engine)

    assert requests(engine) == written
    services.assign_reviewers(idea, "k@kommune.dk", AT + timedelta(days=3), reviewers=("r1@kommune.dk",))
    assert len(requests(engine)) == 4  # Rikke was asked in round 2 already
