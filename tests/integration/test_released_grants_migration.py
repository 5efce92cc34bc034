"""A database upgraded from a version that never released a grant: the migration gives back the grants of
ideas killed or withdrawn before their pilots began, as the code does now, and keeps those spent on a pilot."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, update
from test_review_versions_migration import migrate

from ideaflow.views import idea_view, pool_view
from states.vocabulary import Decision, Stage
from storage.migrate import MIGRATIONS, upgrade
from storage.tables import AllocationRow, HistoryRow, IdeaRow

RELEASES = "1b7e4c9d2f60"  # the migration that releases grants
BEFORE = ScriptDirectory(str(MIGRATIONS)).get_revision(RELEASES).down_revision


def ended_the_old_way(engine, idea: int, stage: Stage, by_id: int | None, reason: str) -> None:
    """Kill or withdraw as the code before did: the stage and the history line, the grant left allocated."""
    with engine.begin() as connection:
        before = connection.execute(select(IdeaRow.stage).where(IdeaRow.id == idea)).scalar_one()
        connection.execute(update(IdeaRow).where(IdeaRow.id == idea)
                           .values(stage=stage.value, held_from=None, version=IdeaRow.version + 1))
        connection.execute(insert(HistoryRow).values(
            idea_id=idea, action="kill" if stage == Stage.REJECTED else "withdraw", from_stage=before,
            to_stage=stage.value, at=connection.execute(select(IdeaRow.updated_at).where(IdeaRow.id == idea))
            .scalar_one(), by_id=by_id, reason=reason))


def test_the_upgrade_releases_the_grants_of_ideas_that_ended_before_their_pilots_began(app, world):
    services, engine = app.services, app.engine
    killed = world.idea(Stage.FUNDED, amount_dkk=1_000_000)
    withdrawn = world.idea(Stage.ON_HOLD, held_from=Stage.FUNDED)  # the 100.000 kr. it asked for
    stopped = world.idea(Stage.PILOTING, amount_dkk=2_000_000)
    services.decide(stopped, Decision.KILL, world.coordinator, world.clock(), reason="Virker ikke")
    running = world.idea(Stage.FUNDED, amount_dkk=1_500_000)
    assert pool_view(engine, world.pool).allocated_dkk == 4_600_000

    migrate(engine, BEFORE, down=True)
    ended_the_old_way(engine, killed, Stage.REJECTED, None, "Uden for formålet")
    ended_the_old_way(engine, withdrawn, Stage.WITHDRAWN, None, "Vi flytter")
    upgrade(engine)

    with engine.connect() as connection:
        released = dict(connection.execute(select(AllocationRow.idea_id, AllocationRow.released_at.is_not(None))).all())
    assert released == {killed: True, withdrawn: True, stopped: False, running: False}
    assert (pool_view(engine, world.pool).allocated_dkk, pool_view(engine, world.pool).remaining_dkk) == (
        3_500_000, 1_500_000)  # the 1.100.000 kr. of the two ended before their pilots are back
    for idea, amount, stage in ((killed, "1.000.000", "rejected"), (withdrawn, "100.000", "withdrawn")):
        view = idea_view(engine, idea)
        assert view.allocated_dkk is None
        assert [(h.action, h.to, h.by, h.reason) for h in view.history[-2:]][1:] == [
            ("release", stage, None, f"grant of {amount} kr. released to the pool")]
    assert idea_view(engine, stopped).allocated_dkk == 2_000_000
    assert "release" not in [h.action for h in idea_view(engine, stopped).history]
    services.decide(world.idea(Stage.SCREENED), Decision.GO, world.coordinator, world.clock(), amount_dkk=1_500_000)
    assert pool_view(engine, world.pool).remaining_dkk == 0
