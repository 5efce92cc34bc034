"""Races between processes: decisions on one idea, and a pool that cannot fund everyone.

The racers are separate processes running the real `ideaflow` entry point; they connect first and
then start together at a barrier, so the commands really overlap.
"""

from __future__ import annotations

import pytest
import reliability_workers
from sqlalchemy import func, select

from ideaflow.views import pool_view
from states.vocabulary import Stage
from storage.tables import AllocationRow, DecisionRow, HistoryRow, PoolRow

from mailtest import ALL_SCORES

pytestmark = pytest.mark.slow

RACERS = 8
IDEAS = 200
# Every racer names the gate it decides, as a coordinator's form or script should: whichever wins,
# the idea has left the screening gate and every other decision is refused.
DECISIONS = ["go", "kill", "hold", "go", "kill", "hold", "go", "kill"]


def history_per_idea(engine) -> dict[int, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(HistoryRow.idea_id, func.count()).group_by(HistoryRow.idea_id)).all())


def test_eight_processes_deciding_one_idea_at_once_exactly_one_wins_for_each_of_200_ideas(
        engine, db_url, world, spawn):
    ideas = []
    for _ in range(IDEAS):
        idea = world.idea()
        world.services.review(idea, world.reviewer, ALL_SCORES, world.clock())
        ideas.append(idea)
    before = history_per_idea(engine)
    barrier, results = spawn.Barrier(RACERS), spawn.Queue()
    racers = [spawn.Process(target=reliability_workers.decide_in_lockstep,
                            args=(db_url, ideas, [decision, "--by", world.coordinator, "--gate", "screening"],
                                  barrier, results))
              for decision in DECISIONS]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=600) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0

    by_idea: dict[int, list[tuple[int, str, str]]] = {idea: [] for idea in ideas}
    for racer_outcomes in outcomes:
        for idea, code, stdout, stderr in racer_outcomes:
            by_idea[idea].append((code, stdout, stderr))
    after = history_per_idea(engine)
    with engine.connect() as connection:
        decisions = dict(connection.execute(
            select(DecisionRow.idea_id, func.count()).group_by(DecisionRow.idea_id)).all())
    for idea, runs in by_idea.items():
        codes = sorted(code for code, _, _ in runs)
        assert codes == [0] + [1] * (RACERS - 1), (idea, runs)
        for code, _, stderr in runs:
            if code:
                lines = stderr.splitlines()
                assert len(lines) == 1 and lines[0].startswith("ideaflow: refused: "), stderr
        assert after[idea] == before[idea] + 1, f"idea {idea}: {after[idea] - before[idea]} new history rows"
        assert decisions[idea] == 1


def test_twenty_processes_funding_twenty_ideas_from_a_pool_that_affords_seven(engine, db_url, world, spawn):
    # Amounts differ; any seven fit the budget and no eight do (the eight smallest already exceed it).
    amounts = [100_000 + 700 * n for n in range(20)]
    budget = 7 * max(amounts)
    assert sum(sorted(amounts)[:8]) > budget
    world.services.create_pool("Lille pulje", budget, world.now.year, world.now)
    ideas = [world.idea(Stage.SCREENED, pool="Lille pulje") for _ in amounts]

    barrier, queue = spawn.Barrier(len(ideas)), spawn.Queue()
    racers = [spawn.Process(target=reliability_workers.decide_in_lockstep,
                            args=(db_url, [idea], ["go", "--by", world.coordinator, "--amount-dkk", str(amount),
                                                   "--gate", "funding"], barrier, queue))
              for idea, amount in zip(ideas, amounts, strict=True)]
    for racer in racers:
        racer.start()
    outcomes = [outcome for _ in racers for outcome in queue.get(timeout=300)]
    for racer in racers:
        racer.join(timeout=60)
    results = [(code, out, err) for _, code, out, err in outcomes]
    winners = [idea for idea, code, _, _ in outcomes if code == 0]
    assert len(winners) == 7, results
    for code, _, stderr in results:
        if code:
            assert code == 1 and stderr.count("\n") == 1 and "cannot afford" in stderr, stderr
    with engine.connect() as connection:
        pool = connection.execute(select(PoolRow).where(PoolRow.name == "Lille pulje")).one()
        allocations = connection.execute(select(AllocationRow.idea_id, AllocationRow.amount_dkk)
                                         .where(AllocationRow.pool_id == pool.id)).all()
    assert sorted(i for i, _ in allocations) == sorted(winners)
    assert pool.allocated_dkk == sum(a for _, a in allocations) <= budget
    assert pool_view(engine, "Lille pulje").remaining_dkk == budget - pool.allocated_dkk
