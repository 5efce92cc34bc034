"""A sweep killed with SIGKILL at random points, again and again, then run to completion.

5,000 timers are due (2,500 overdue ideas, each with a reminder and a deadline). `ideaflow sweep`
runs as a real process with tiny batches and is killed at a random moment after it has started
firing, at least ten times; then one sweep runs to the end. Every timer must have fired exactly
once, every fired deadline must have its escalation in the history, and no mail may be queued twice.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage.db import READ_ONLY
from storage.tables import HistoryRow, OutboxRow, TimerRow

from mailtest import IDEAFLOW, Cast

pytestmark = pytest.mark.slow

OVERDUE_IDEAS = 2_500
KILLS = 10


def fired(engine) -> int:
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:  # never waits for the sweep
        return connection.execute(select(func.count()).select_from(TimerRow)
                                  .where(TimerRow.fired_at.is_not(None))).scalar_one()


def test_a_sweep_killed_at_random_points_fires_every_timer_exactly_once(engine, services, db_url, tmp_path):
    cast = Cast(services, now=datetime.now(UTC) - timedelta(days=60))
    ideas = [cast.submit(f"Idé {n}", cast.proposer, datetime.now(UTC) - timedelta(days=40))
             for n in range(OVERDUE_IDEAS)]
    with engine.connect() as connection:
        due = connection.execute(select(func.count()).select_from(TimerRow).where(
            TimerRow.due_at <= datetime.now(UTC), TimerRow.cancelled_at.is_(None))).scalar_one()
    assert due == 2 * OVERDUE_IDEAS == 5_000
    env = {"IDEAFLOW_DATABASE_URL": db_url, "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    now = datetime.now(UTC).isoformat()
    rng = random.Random(20261123)

    kills = 0
    while kills < KILLS:
        before = fired(engine)
        assert before < due, f"the sweep finished after only {kills} kills: make the batches smaller"
        sweep = subprocess.Popen([str(IDEAFLOW), "sweep", "--now", now, "--batch-size", "5"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while fired(engine) == before and sweep.poll() is None:  # wait until it is firing
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.1))  # then kill it somewhere in the middle of a batch or between two
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
        assert sweep.returncode == -signal.SIGKILL, "the sweep ended on its own before it was killed"
        kills += 1
    assert fired(engine) < due

    finish = subprocess.run([str(IDEAFLOW), "sweep", "--now", now], env=env, capture_output=True, text=True,
                            timeout=300)
    assert finish.returncode == 0, finish.stderr
    with engine.connect() as connection:
        timers = connection.execute(select(TimerRow.idea_id, TimerRow.kind, TimerRow.fired_at, TimerRow.outcome)
                                    .where(TimerRow.due_at <= datetime.now(UTC))).all()
        escalations = dict(connection.execute(
            select(HistoryRow.idea_id, func.count()).where(HistoryRow.action == "escalate")
            .group_by(HistoryRow.idea_id)).all())
        duplicated_mail = connection.execute(
            select(OutboxRow.kind, OutboxRow.recipient_id, OutboxRow.idea_id, func.count())
            .group_by(OutboxRow.kind, OutboxRow.recipient_id, OutboxRow.idea_id)
            .having(func.count() > 1)).all()
        escalation_mail = connection.execute(select(func.count()).select_from(OutboxRow)
                                             .where(OutboxRow.kind == "deadline_escalated")).scalar_one()
    assert len(timers) == due and all(t.fired_at is not None for t in timers)  # every due timer fired
    deadlines = [t for t in timers if t.kind == "gate_deadline"]
    assert {t.idea_id for t in deadlines} == set(ideas)
    assert all("escalated" in t.outcome for t in deadlines)
    assert escalations == {idea: 1 for idea in ideas}  # one escalation each: none lost, none repeated
    assert duplicated_mail == []
    assert escalation_mail == len(ideas) * len(Cast.COORDINATORS)  # each coordinator told once per idea
    assert fired(engine) == due
