"""Races between processes: decisions on one idea, and a pool that cannot fund everyone.

How the racers run, and why: every racer is a separate OS process (multiprocessing 'spawn', so it
starts clean, shares no engine, connection or memory with the test or the other racers) that runs the
real `ideaflow` entry point, `ideaflow.cli.main`, with the command line a coordinator would type
(cli_inproc.py: `race_in_lockstep`). Its exit code, stdout and stderr are exactly those of the
console script. A racer connects first and then runs its commands one round at a time, every round
starting at a barrier for all racers, so the commands of a round reach the database within
milliseconds of each other.

The alternative, one `ideaflow decide` subprocess per decision, costs a Python start-up (~0.6 s of
CPU here) per command: 1,600 of them for 8 racers x 200 ideas is ~8 minutes on two cores, and their
start-up jitter (hundreds of milliseconds) would make them overlap far less than the barrier does.
So the 200-idea race runs in long-lived racer processes, and a small race of the installed console
script itself (8 real `ideaflow decide` processes on one idea) shows the command behaves the same.
"""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import func, select

from ideaflow.views import pool_view
from states.vocabulary import Stage
from storage.tables import AllocationRow, DecisionRow, HistoryRow, PoolRow

from cli_inproc import race_in_lockstep
from mailtest import ALL_SCORES, IDEAFLOW, cli_env

pytestmark = pytest.mark.slow

RACERS = 8
IDEAS = 200
# Every racer names the gate it decides, as a coordinator's form or script should: whichever wins,
# the idea has left the screening gate and every other decision is refused.
DECISIONS = ["go", "kill", "hold", "go", "kill", "hold", "go", "kill"]


def history_per_idea(engine) -> dict[int, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(HistoryRow.idea_id, func.count()).group_by(HistoryRow.idea_id)).all())


def decisions_per_idea(engine) -> dict[int, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(DecisionRow.idea_id, func.count()).group_by(DecisionRow.idea_id)).all())


def assert_one_winner_per_idea(engine, runs_by_idea: dict[int, list[tuple[int, str, str]]], before: dict[int, int]):
    after, decisions = history_per_idea(engine), decisions_per_idea(engine)
    for idea, runs in runs_by_idea.items():
        codes = sorted(code for code, _, _ in runs)
        assert codes == [0] + [1] * (RACERS - 1), (idea, runs)
        for code, stdout, stderr in runs:
            if code:  # a loser: told why in one line, nothing on stdout
                lines = stderr.splitlines()
                assert len(lines) == 1 and lines[0].startswith("ideaflow: refused: ") and not stdout, stderr
            else:
                assert stderr == "" and f"idea {idea}:" in stdout
        assert after[idea] == before[idea] + 1, f"idea {idea}: {after[idea] - before[idea]} new history rows"
        assert decisions.get(idea) == 1, f"idea {idea}: {decisions.get(idea)} decisions recorded"


def reviewed_ideas(world, count: int) -> list[int]:
    ideas = []
    for _ in range(count):
        idea = world.idea()
        world.services.review(idea, world.reviewer, ALL_SCORES, world.clock())
        ideas.append(idea)
    return ideas


@pytest.mark.long
def test_eight_processes_deciding_one_idea_at_once_exactly_one_wins_for_each_of_200_ideas(
        engine, db_url, world, spawn):
    ideas = reviewed_ideas(world, IDEAS)
    before = history_per_idea(engine)
    outcomes = race_in_lockstep(spawn, db_url, [
        [(idea, ["decide", str(idea), decision, "--by", world.coordinator, "--gate", "screening", "--reason", "racer"])
         for idea in ideas]
        for decision in DECISIONS])

    runs_by_idea: dict[int, list[tuple[int, str, str]]] = {idea: [] for idea in ideas}
    for idea, code, stdout, stderr in outcomes:
        runs_by_idea[idea].append((code, stdout, stderr))
    assert_one_winner_per_idea(engine, runs_by_idea, before)


def test_eight_ideaflow_decide_processes_at_once_one_wins(engine, db_url, world, tmp_path):
    """The same race through the installed console script: 8 `ideaflow decide` processes on one idea."""
    ideas = reviewed_ideas(world, 1)
    before = history_per_idea(engine)
    env = cli_env(db_url, tmp_path)
    runs_by_idea = {}
    for idea in ideas:
        processes = [subprocess.Popen([str(IDEAFLOW), "decide", str(idea), decision, "--by", world.coordinator,
                                       "--gate", "screening", "--reason", "racer"], cwd=tmp_path, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for decision in DECISIONS]
        outputs = [p.communicate(timeout=120) for p in processes]
        runs_by_idea[idea] = [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)]
    assert_one_winner_per_idea(engine, runs_by_idea, before)


def test_twenty_processes_funding_twenty_ideas_from_a_pool_that_affords_seven(engine, db_url, world, spawn):
    """Two rounds of 20 racers: equal amounts (a budget of exactly seven), then differing amounts."""
    equal = [250_000] * 20
    differing = [100_000 + 700 * n for n in range(20)]  # any seven fit; the eight smallest already do not
    pools = {"Lige pulje": (equal, 7 * 250_000), "Lille pulje": (differing, 7 * max(differing))}
    assert sum(sorted(differing)[:8]) > pools["Lille pulje"][1]
    ideas = {}
    for pool, (amounts, budget) in pools.items():
        world.services.create_pool(pool, budget, world.now.year, world.now)
        ideas[pool] = [world.idea(Stage.SCREENED, pool=pool) for _ in amounts]

    outcomes = race_in_lockstep(spawn, db_url, [
        [((pool, ideas[pool][n], amounts[n]),
          ["decide", str(ideas[pool][n]), "go", "--by", world.coordinator, "--amount-dkk", str(amounts[n]),
           "--gate", "funding"]) for pool, (amounts, _) in pools.items()]
        for n in range(20)])

    for pool, (_, budget) in pools.items():
        results = [(key[1], key[2], code, stderr) for key, code, _, stderr in outcomes if key[0] == pool]
        assert len(results) == 20
        winners = {idea: amount for idea, amount, code, _ in results if code == 0}
        assert len(winners) == 7, (pool, results)
        for _, _, code, stderr in results:
            if code:
                assert code == 1 and stderr.count("\n") == 1 and "cannot afford" in stderr, stderr
        with engine.connect() as connection:
            row = connection.execute(select(PoolRow).where(PoolRow.name == pool)).one()
            allocations = dict(connection.execute(select(AllocationRow.idea_id, AllocationRow.amount_dkk)
                                                  .where(AllocationRow.pool_id == row.id)).all())
            funded = set(connection.scalars(select(HistoryRow.idea_id).where(
                HistoryRow.idea_id.in_(ideas[pool]), HistoryRow.to_stage == Stage.FUNDED.value)))
        assert allocations == winners  # each winner allocated what it asked for, nobody else anything
        assert funded == set(winners)
        assert row.allocated_dkk == sum(allocations.values()) <= budget
        assert pool_view(engine, pool).remaining_dkk == budget - row.allocated_dkk >= 0


def test_grants_released_and_granted_at_once_never_allocate_more_than_the_budget(engine, db_url, world, spawn):
    """Each round, a full pool: five racers kill its five funded ideas (their grants go back, none has begun
    its pilot) while five others fund five more with the same amounts. Whichever commits first, the pool
    never allocates more than its budget, and its allocation is always the sum of the grants not released."""
    amount, rounds = 100_000, 3
    pools = [f"Runde {n + 1}" for n in range(rounds)]
    funded, waiting = {}, {}
    for pool in pools:
        world.services.create_pool(pool, 5 * amount, world.now.year, world.now)
        funded[pool] = [world.idea(Stage.FUNDED, pool=pool, amount_dkk=amount) for _ in range(5)]
        waiting[pool] = [world.idea(Stage.SCREENED, pool=pool) for _ in range(5)]
        assert pool_view(engine, pool).remaining_dkk == 0

    outcomes = race_in_lockstep(spawn, db_url, [
        [(("kill", pool, funded[pool][n]), ["decide", str(funded[pool][n]), "kill", "--by", world.coordinator,
                                             "--reason", "racer"]) for pool in pools] for n in range(5)] + [
        [(("go", pool, waiting[pool][n]), ["decide", str(waiting[pool][n]), "go", "--by", world.coordinator,
                                           "--amount-dkk", str(amount), "--gate", "funding"]) for pool in pools]
        for n in range(5)])

    for pool in pools:
        results = {key[2]: (key[0], code, stderr) for key, code, _, stderr in outcomes if key[1] == pool}
        assert [results[idea][1] for idea in funded[pool]] == [0] * 5, results  # every kill wins
        granted = {idea for idea in waiting[pool] if results[idea][1] == 0}
        for idea in set(waiting[pool]) - granted:
            assert results[idea][1] == 1 and "cannot afford" in results[idea][2], results[idea]
        with engine.connect() as connection:
            row = connection.execute(select(PoolRow).where(PoolRow.name == pool)).one()
            held = dict(connection.execute(select(AllocationRow.idea_id, AllocationRow.amount_dkk).where(
                AllocationRow.pool_id == row.id, AllocationRow.released_at.is_(None))).all())
            released = set(connection.scalars(select(AllocationRow.idea_id).where(
                AllocationRow.pool_id == row.id, AllocationRow.released_at.is_not(None))))
            releases = set(connection.scalars(select(HistoryRow.idea_id).where(
                HistoryRow.idea_id.in_(funded[pool]), HistoryRow.action == "release")))
        assert released == releases == set(funded[pool])
        assert held == dict.fromkeys(granted, amount)
        assert row.allocated_dkk == sum(held.values()) <= row.budget_dkk
        assert pool_view(engine, pool).remaining_dkk == row.budget_dkk - row.allocated_dkk
