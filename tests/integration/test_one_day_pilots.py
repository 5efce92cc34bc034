"""A pilot of one day (its first day is its last) is planned, starts, ends and is evaluated like any other,
on SQLite and PostgreSQL; a database from before accepts one once upgraded, its pilots (with their sites and
followers) kept, and a pilot that ends before it starts is still refused by the domain and the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from test_review_versions_migration import migrate

from ideaflow.views import idea_view
from states.criteria import TAARNBY_CRITERIA
from states.errors import BadInput
from states.messages import render
from states.vocabulary import COPENHAGEN, Outcome, Stage
from storage.migrate import MIGRATIONS, upgrade
from storage.tables import PilotRow, PilotSiteRow

ONE_DAY = "3c8d5e7f9a12"  # the migration that lets a pilot start and end on the same day
BEFORE = ScriptDirectory(str(MIGRATIONS)).get_revision(ONE_DAY).down_revision
ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}
DAY = date(2026, 12, 4)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=COPENHAGEN).astimezone(UTC)


def test_a_one_day_pilot_starts_on_its_day_and_its_evaluation_opens_the_day_after(engine, services, world, unchanged):
    idea = world.idea(Stage.FUNDED)
    planned = at(DAY - timedelta(days=3), 9)
    services.plan_pilot(idea, start=DAY, end=DAY, sites=("Kastrup",), now=planned, by=world.coordinator,
                        followers=(world.follower,))
    assert (idea_view(engine, idea).pilot.start, idea_view(engine, idea).pilot.end) == (DAY, DAY)
    services.sweep(at(DAY, 0) - timedelta(seconds=1))
    assert idea_view(engine, idea).stage == Stage.FUNDED
    services.sweep(at(DAY, 0))  # its day begins
    assert idea_view(engine, idea).stage == Stage.PILOTING and not idea_view(engine, idea).open_gate
    services.sweep(at(DAY, 23))  # it runs all day
    assert idea_view(engine, idea).open_gate is None
    services.sweep(at(DAY + timedelta(days=1), 0))  # and has ended the next day
    view = idea_view(engine, idea)
    assert (view.stage, view.open_gate) == (Stage.PILOTING, "evaluation")
    assert view.deadline == at(DAY + timedelta(days=1 + 30), 0)  # the pool's 30 days after its last day
    services.evaluate(idea, world.coordinator, ALL_SCORES, Outcome.SCALE, at(DAY + timedelta(days=2), 9))
    assert idea_view(engine, idea).stage == Stage.EVALUATED

    funded = world.idea(Stage.FUNDED)
    with unchanged(funded), pytest.raises(BadInput) as refused:
        services.plan_pilot(funded, start=DAY, end=DAY - timedelta(days=1), sites=("Kastrup",), now=planned,
                            by=world.coordinator)
    assert (refused.value.code, refused.value.field) == ("pilot.ends_before_start", "end")
    assert render(refused.value, "en") == "the pilot's last day, 3 December 2026, is before its first day, " \
                                          "4 December 2026"
    assert render(refused.value, "da") == "pilotens sidste dag, 3. december 2026, ligger før dens første dag, " \
                                          "4. december 2026"


def test_a_database_from_before_accepts_one_day_pilots_once_upgraded(app, world):
    services, engine = app.services, app.engine
    kept = world.idea(Stage.FUNDED)
    services.plan_pilot(kept, start=DAY, end=DAY + timedelta(days=30), sites=("Viby", "Gundsømagle"),
                        now=at(DAY - timedelta(days=3), 9), by=world.coordinator, followers=(world.follower,))
    unplanned, later = world.idea(Stage.FUNDED), world.idea(Stage.FUNDED)
    migrate(engine, BEFORE, down=True)
    with engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(insert(PilotRow).values(idea_id=unplanned, start_date=DAY, end_date=DAY,
                                                   planned_at=datetime.now(UTC)))
    upgrade(engine)
    one_day = later
    services.plan_pilot(one_day, start=DAY, end=DAY, sites=("Kastrup",), now=at(DAY - timedelta(days=3), 9),
                        by=world.coordinator)
    kept_view = idea_view(engine, kept).pilot
    assert (kept_view.sites, kept_view.followers) == (["Viby", "Gundsømagle"], [world.follower])
    assert (idea_view(engine, one_day).pilot.start, idea_view(engine, one_day).pilot.end) == (DAY, DAY)
    with engine.begin() as connection:
        assert connection.scalar(select(PilotSiteRow.name).where(PilotSiteRow.pilot_id == select(PilotRow.id).where(
            PilotRow.idea_id == one_day).scalar_subquery())) == "Kastrup"
        with pytest.raises(IntegrityError):  # the database still refuses an end before the start
            connection.execute(insert(PilotRow).values(idea_id=unplanned, start_date=DAY,
                                                       end_date=DAY - timedelta(days=1), planned_at=datetime.now(UTC)))
