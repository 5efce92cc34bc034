"""Exactly-once and never-over-budget under real concurrency: separate processes on one SQLite file.

Racers are 'spawn' processes that import and connect first, then wait at a barrier, so the racing
parts start together. Decisions race through the real CLI entry point (`ideaflow.cli.main`, exit code
and stderr captured in the child); sweeps race through the service layer.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from states.model import Idea
from states.vocabulary import Stage
from storage.tables import AllocationRow, DecisionRow, HistoryRow, IdeaRow, OutboxRow, PoolRow, TimerRow

from cli_inproc import race_in_lockstep
from race_workers import sweep_and_die, sweep_at_barrier

pytestmark = pytest.mark.slow

SPAWN = multiprocessing.get_context("spawn")


def race(target, jobs: list[tuple]) -> list:
    """Start one process per job, release them together, return their results in job order."""
    barrier, results = SPAWN.Barrier(len(jobs)), SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*job, barrier, results, key)) for key, job in enumerate(jobs)]
    for process in processes:
        process.start()
    try:
        collected = dict(results.get(timeout=180) for _ in processes)  # before join: the queue must drain
    finally:
        for process in processes:
            process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return [collected[key] for key in range(len(jobs))]


def rows(engine, statement):
    with engine.connect() as connection:
        return connection.execute(statement).all()


def value(engine, statement):
    with engine.connect() as connection:
        return connection.execute(statement).scalar()


def history_per_idea(engine, action: str | None = None) -> Counter:
    query = select(HistoryRow.idea_id, func.count()).group_by(HistoryRow.idea_id)
    if action:
        query = query.where(HistoryRow.action == action)
    return Counter(dict(rows(engine, query)))


def timer_state(engine) -> list[tuple]:
    return rows(engine, select(TimerRow.id, TimerRow.idea_id, TimerRow.kind, TimerRow.fired_at, TimerRow.outcome)
                .order_by(TimerRow.id))


def pending_due(engine, now: datetime) -> int:
    return value(engine, select(func.count()).select_from(TimerRow).where(
        TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None), TimerRow.due_at <= now))


# -- sweeps -----------------------------------------------------------------------------------------------


def test_a_sweep_run_twice_fires_each_timer_once(engine, services, world):
    ideas = [world.idea() for _ in range(20)]
    reminders_at, deadlines_at = world.now + timedelta(days=26), world.now + timedelta(days=31)

    first = services.sweep(reminders_at)
    assert len(first.fired) == 20 and {f.outcome for f in first.fired} == {"screening deadline reminder sent"}
    state, mail = timer_state(engine), value(engine, select(func.count()).select_from(OutboxRow))
    again = services.sweep(reminders_at)
    assert again.fired == [] and again.summary() == "nothing was due"
    assert timer_state(engine) == state
    assert value(engine, select(func.count()).select_from(OutboxRow)) == mail
    reminders = Counter(i for (i,) in rows(engine, select(OutboxRow.idea_id)
                                           .where(OutboxRow.kind == "deadline_reminder")))
    assert reminders == Counter({idea: 1 for idea in ideas})  # one reminder to the one reviewer, per idea

    second = services.sweep(deadlines_at)
    assert len(second.fired) == 20 and all(f.kind == "gate_deadline" for f in second.fired)
    assert services.sweep(deadlines_at).summary() == "nothing was due"
    assert services.sweep(deadlines_at + timedelta(days=1)).summary() == "nothing was due"

    fired = [t for t in timer_state(engine) if t[3] is not None]
    assert len(fired) == 40
    assert {t[3] for t in fired if t[2] == "gate_reminder"} == {reminders_at}  # fired_at set by the first run only
    assert {t[3] for t in fired if t[2] == "gate_deadline"} == {deadlines_at}
    assert history_per_idea(engine, "escalate") == Counter({idea: 1 for idea in ideas})
    assert history_per_idea(engine) == Counter({idea: 2 for idea in ideas})  # submit + one escalation


@pytest.mark.parametrize("pause_s", [0.0, 0.12], ids=["back-to-back", "interleaved-batches"])
def test_two_concurrent_sweeps_fire_each_timer_exactly_once(engine, services, world, db_url, pause_s):
    ideas = [world.idea() for _ in range(60)]
    pilots = [world.idea(Stage.FUNDED) for _ in range(4)]
    for idea in pilots:
        services.plan_pilot(idea, start=date.today(), end=date.today() + timedelta(days=10), sites=("Viby",),
                            now=world.clock(), by=world.coordinator)
    now = world.now + timedelta(days=31)

    first, second = race(sweep_at_barrier, [(db_url, now.isoformat(), 8, pause_s)] * 2)
    if pause_s:
        assert first and second, "the sweeps did not take turns"

    fired_ids = [f[0] for f in first + second]
    assert len(fired_ids) == len(set(fired_ids)), "a timer fired in both sweeps"
    stored = [t for t in timer_state(engine) if t[3] is not None]
    assert sorted(fired_ids) == [t[0] for t in stored]
    assert all(t[4] for t in stored), "every fired timer has its outcome"
    # 60 reminders (skipped: the deadline has passed) + 60 deadlines + 4 pilot starts + 4 pilot ends
    assert len(fired_ids) == 128
    assert pending_due(engine, now) == 0
    assert history_per_idea(engine, "escalate") == Counter({idea: 1 for idea in ideas})
    assert history_per_idea(engine, "start_pilot") == Counter({idea: 1 for idea in pilots})
    assert history_per_idea(engine, "open_evaluation") == Counter({idea: 1 for idea in pilots})
    assert services.sweep(now).fired == []


def test_a_sweep_killed_mid_batch_leaves_nothing_half_done(engine, services, world, db_url):
    ideas = [world.idea() for _ in range(30)]
    now = world.now + timedelta(days=31)
    # timers fire oldest first: 30 reminders, then 30 deadlines; batches of 10; die inside the 5th batch
    crash = SPAWN.Process(target=sweep_and_die, args=(db_url, now.isoformat(), 10, 45))
    crash.start()
    crash.join(timeout=120)
    assert crash.exitcode == 17

    fired = [t for t in timer_state(engine) if t[3] is not None]
    assert len(fired) == 40, "the four committed batches stay, the fifth left no trace"
    escalated = history_per_idea(engine, "escalate")
    assert sum(escalated.values()) == 10 and set(escalated.values()) == {1}
    assert escalated.keys() == {t[1] for t in fired if t[2] == "gate_deadline"}
    if engine.dialect.name == "sqlite":
        assert value(engine, text("PRAGMA integrity_check")) == "ok"

    report = services.sweep(now)
    assert len(report.fired) == 20
    assert history_per_idea(engine, "escalate") == Counter({idea: 1 for idea in ideas})
    assert len([t for t in timer_state(engine) if t[3] is not None]) == 60
    assert services.sweep(now).fired == []


def test_a_sweep_that_raises_mid_batch_rolls_the_batch_back(engine, services, world, monkeypatch):
    ideas = [world.idea() for _ in range(12)]
    now = world.now + timedelta(days=31)
    real, calls = Idea.fire_timer, []

    def flaky(self, kind, at):
        calls.append(self.id)
        if len(calls) == 19:  # batches of 8: two commit (16 timers), the third breaks on its third timer
            raise RuntimeError("the process died")
        return real(self, kind, at)

    monkeypatch.setattr(Idea, "fire_timer", flaky)
    before_mail = value(engine, select(func.count()).select_from(OutboxRow))
    with pytest.raises(RuntimeError):
        services.sweep(now, batch_size=8)
    assert len([t for t in timer_state(engine) if t[3] is not None]) == 16
    assert sum(history_per_idea(engine, "escalate").values()) == 4  # 12 reminders + 4 deadlines committed
    assert value(engine, select(func.count()).select_from(OutboxRow)) >= before_mail

    monkeypatch.setattr(Idea, "fire_timer", real)
    assert len(services.sweep(now, batch_size=8).fired) == 8
    assert history_per_idea(engine, "escalate") == Counter({idea: 1 for idea in ideas})
    assert len([t for t in timer_state(engine) if t[3] is not None]) == 24


# -- decisions --------------------------------------------------------------------------------------------


def test_two_concurrent_decisions_on_one_idea_exactly_one_wins(engine, world, db_url):
    # go vs go at the funding gate without naming the gate (the second finds the idea funded and no
    # gate open), kill vs kill at screening. The budget race and the 8-racer race at scale are in
    # tests/reliability/test_races.py.
    funding = [world.idea(Stage.SCREENED) for _ in range(3)]
    killing = [world.idea() for _ in range(3)]
    before = history_per_idea(engine)
    # Two racers, one round per idea: both commands of a round start together.
    racers = [[(idea, ["decide", str(idea), "go", "--by", world.coordinator, "--amount-dkk", "100000"])
               for idea in funding] +
              [(idea, ["decide", str(idea), "kill", "--by", world.coordinator, "--reason", f"racer {n}"])
               for idea in killing]
              for n in (1, 2)]

    outcomes = race_in_lockstep(SPAWN, db_url, racers)

    for idea in funding + killing:
        runs = [(code, err) for key, code, _, err in outcomes if key == idea]
        assert sorted(code for code, _ in runs) == [0, 1], (idea, runs)
        loser = next(err for code, err in runs if code == 1)
        assert len(loser.splitlines()) == 1 and loser.startswith("ideaflow: refused: "), loser
    after = history_per_idea(engine)
    assert all(after[i] == before[i] + 1 for i in funding + killing)
    stages = dict(rows(engine, select(IdeaRow.id, IdeaRow.stage)))
    assert {stages[i] for i in funding} == {"funded"} and {stages[i] for i in killing} == {"rejected"}
    decisions = Counter(i for (i,) in rows(engine, select(DecisionRow.idea_id)))
    assert all(decisions[i] == 1 for i in killing)
    assert all(decisions[i] == 2 for i in funding)  # the screening go from the setup, and one funding go
    assert value(engine, select(func.sum(AllocationRow.amount_dkk))) == 300_000
    assert value(engine, select(PoolRow.allocated_dkk).where(PoolRow.name == world.pool)) == 300_000
