"""Through the service layer, on SQLite and PostgreSQL: a grant goes back to its pool when its idea ends
before its pilot begins (and stays spent once it has begun), and a pilot whose evaluation gate is open may
be extended, which closes the gate until the new end."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from ideaflow.administration import Administration
from ideaflow.digests import Cadence
from ideaflow.views import idea_view, pool_view
from states.errors import BudgetExceeded, InvalidTransition
from states.vocabulary import Decision, Stage, TimerKind
from storage.tables import AllocationRow, OutboxRow, PersonRow, PoolRow
from storage.unit_of_work import UnitOfWork

POOL, BUDGET = "Lille pulje", 100_000


@pytest.fixture
def small(world):
    """A pool that affords one grant of 100.000 kr., and a coordinator of it."""
    world.services.create_pool(POOL, BUDGET, world.now.year, world.now)
    return world


def allocations(engine) -> dict[int, tuple[int, bool]]:
    """{idea: (amount, released)} of the small pool, and its `pools.allocated_dkk` checked against them."""
    with engine.connect() as connection:
        pool_id, allocated = connection.execute(select(PoolRow.id, PoolRow.allocated_dkk)
                                                .where(PoolRow.name == POOL)).one()
        found = {idea: (amount, released is not None) for idea, amount, released in connection.execute(
            select(AllocationRow.idea_id, AllocationRow.amount_dkk, AllocationRow.released_at)
            .where(AllocationRow.pool_id == pool_id))}
    assert allocated == sum(amount for amount, released in found.values() if not released) <= BUDGET
    return found


def history(engine, idea: int) -> list[tuple[str, str, str | None, str]]:
    return [(h.action, h.to, h.by, h.reason) for h in idea_view(engine, idea).history]


@pytest.mark.parametrize("end", ["kill", "withdraw", "kill on hold", "withdraw on hold"])
def test_a_grant_goes_back_to_the_pool_when_its_idea_ends_before_its_pilot_begins(small, engine, end):
    s, coordinator = small.services, small.coordinator
    funded = small.idea(Stage.ON_HOLD if "hold" in end else Stage.FUNDED, held_from=Stage.FUNDED, pool=POOL,
                        amount_dkk=BUDGET)
    waiting = small.idea(Stage.SCREENED, pool=POOL)
    with pytest.raises(BudgetExceeded, match="DKK 0 left"):
        s.decide(waiting, Decision.GO, coordinator, small.clock(), amount_dkk=50_000)

    if end.startswith("kill"):
        s.decide(funded, Decision.KILL, coordinator, small.clock(), reason="Uden for puljens formål")
        actor, stage = coordinator, "rejected"
    else:
        s.withdraw(funded, small.proposer, small.clock(), "Vi flytter")
        actor, stage = small.proposer, "withdrawn"

    assert allocations(engine) == {funded: (BUDGET, True)}
    assert history(engine, funded)[-2:] == [
        (end.split()[0], stage, actor, "Uden for puljens formål" if actor == coordinator else "Vi flytter"),
        ("release", stage, actor, "grant of 100.000 kr. released to the pool")]
    assert idea_view(engine, funded).allocated_dkk is None
    assert (pool_view(engine, POOL).allocated_dkk, pool_view(engine, POOL).remaining_dkk) == (0, BUDGET)
    s.decide(waiting, Decision.GO, coordinator, small.clock(), amount_dkk=BUDGET)  # the money is there again
    assert allocations(engine) == {funded: (BUDGET, True), waiting: (BUDGET, False)}
    page = Administration(engine).pool(pool_view(engine, POOL).id, coordinator, small.clock())
    assert [(a.idea_id, a.amount_dkk) for a in page.pool.allocations] == [(waiting, BUDGET)]
    assert [(a.idea_id, a.stage, a.amount_dkk) for a in page.pool.released] == [(funded, stage, BUDGET)]
    assert page.pool.released[0].released_at is not None


def test_a_grant_is_spent_once_the_pilot_has_begun_and_the_digest_counts_what_is_allocated(small, engine):
    s, coordinator = small.services, small.coordinator
    stopped = small.idea(Stage.PILOTING, pool=POOL, amount_dkk=60_000)
    s.decide(stopped, Decision.KILL, coordinator, small.clock(), reason="Piloten virker ikke")
    released = small.idea(Stage.FUNDED, pool=POOL, amount_dkk=40_000)
    s.withdraw(released, small.proposer, small.clock())
    assert allocations(engine) == {stopped: (60_000, False), released: (40_000, True)}
    assert "release" not in [action for action, *_ in history(engine, stopped)]
    assert idea_view(engine, stopped).allocated_dkk == 60_000
    page = Administration(engine).pool(pool_view(engine, POOL).id, coordinator, small.clock())
    assert [(a.idea_id, a.stage) for a in page.pool.allocations] == [(stopped, "rejected")]  # spent, listed, stopped

    s.queue_digests(small.clock() + timedelta(days=8), Cadence())
    with engine.connect() as connection:
        payload = connection.execute(select(OutboxRow.payload).join(PersonRow, OutboxRow.recipient_id == PersonRow.id)
                                     .where(OutboxRow.kind == "digest", PersonRow.email == coordinator)).scalar_one()
    assert {"pool": POOL, "budget_dkk": BUDGET, "allocated_dkk": 60_000, "left_dkk": 40_000} in payload["budgets"]


def pending_timers(engine, idea: int) -> list[TimerKind]:
    with UnitOfWork(engine, read_only=True) as uow:
        return sorted(t.kind for t in uow.timers.pending(idea))


def test_a_pilot_resumed_after_its_end_may_be_extended_until_it_is_evaluated(world, engine):
    """Its evaluation gate is open (the sweep opened it); extending the pilot closes it, its deadline and
    reminder cancelled, and the sweep after the new end opens it again."""
    s, coordinator = world.services, world.coordinator
    idea = world.idea(Stage.PILOTING, evaluation_open=True)
    view = idea_view(engine, idea, coordinator)
    assert view.open_gate == "evaluation" and "plan_pilot" in view.actions
    assert pending_timers(engine, idea) == [TimerKind.GATE_DEADLINE, TimerKind.GATE_REMINDER]
    start, sites = view.pilot.start, tuple(view.pilot.sites)
    new_end = date.today() + timedelta(days=30)

    s.plan_pilot(idea, start=start, end=new_end, sites=sites, now=world.clock(), by=coordinator,
                 followers=(world.follower,), measures=("ventetid",))
    view = idea_view(engine, idea, coordinator)
    assert (view.stage, view.open_gate, view.deadline, view.pilot.end) == ("piloting", None, None, new_end)
    assert "evaluate" not in view.actions and "plan_pilot" in view.actions
    assert pending_timers(engine, idea) == [TimerKind.PILOT_END]
    assert [(action, reason) for action, _, _, reason in history(engine, idea)[-2:]] == [
        ("replan_pilot", f"pilot re-planned: end {(date.today() - timedelta(days=2)).isoformat()} → {new_end}"),
        ("close_evaluation", f"evaluation gate closed: the pilot runs on until {new_end}")]
    assert not s.sweep(world.clock()).fired  # nothing is due until the new end

    s.sweep(world.clock() + timedelta(days=32))
    view = idea_view(engine, idea, coordinator)
    assert view.open_gate == "evaluation" and history(engine, idea)[-1][0] == "open_evaluation"


def test_a_pilot_plan_refused_after_its_evaluation_says_so(world, engine):
    idea = world.idea(Stage.EVALUATED)
    view = idea_view(engine, idea, world.coordinator)
    assert "plan_pilot" not in view.actions
    with pytest.raises(InvalidTransition, match="the pilot's evaluation has been recorded"):
        world.services.plan_pilot(idea, start=view.pilot.start, end=date.today() + timedelta(days=30),
                                  sites=("Viby",), now=world.clock(), by=world.coordinator)
