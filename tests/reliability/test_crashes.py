"""A sweep killed with SIGKILL at random points, again and again, then run to completion.

5,000 timers are due, of three kinds of work:
- 1,000 ideas whose screening reminder is due (their deadline is not): each reminds both reviewers;
- 1,000 overdue ideas in a pool that escalates: a reminder (skipped, the deadline has passed) and a
  deadline that escalates to both coordinators (a history row, the stage stays);
- 1,000 overdue ideas in a pool that lets unscreened ideas lapse: a reminder (skipped) and a deadline
  that moves the idea from submitted to rejected (a history row) and tells the coordinators and the
  proposer.
`ideaflow sweep` runs as a real process with tiny batches and is killed at a random moment after it
has started firing, at least ten times; then one sweep runs to the end. Every due timer must have
fired exactly once, with its outcome; every stage change and history row it caused must be there
once; every idea's stage must be the last stage its history records; no mail may be queued twice.
The 3,000 ideas are submitted in this process the way `Services.submit` does it (the domain's
`Idea.submit`, the repositories, the unit of work and its mail handlers), but 500 to a transaction.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from notifications.handlers import queue_mail
from states.model import GatePolicy, Idea
from states.vocabulary import DeadlinePolicy, Stage
from storage.db import READ_ONLY
from storage.tables import HistoryRow, IdeaRow, OutboxRow, TimerRow
from storage.unit_of_work import UnitOfWork

from mailtest import IDEAFLOW, Cast, cli_env

pytestmark = pytest.mark.slow

PER_KIND = 1_000
KILLS = 10
LAPSING_POOL = "Bortfaldspuljen"


def fired(engine) -> int:
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:  # never waits for the sweep
        return connection.execute(select(func.count()).select_from(TimerRow)
                                  .where(TimerRow.fired_at.is_not(None))).scalar_one()


def submit_many(engine, pool: str, count: int, at: datetime, chunk: int = 500) -> list[int]:
    """`count` ideas submitted at `at` by Cast.proposer, as `Services.submit` does it, `chunk` to a transaction."""
    ids: list[int] = []
    for start in range(0, count, chunk):
        with UnitOfWork(engine, subscriber=queue_mail) as uow:
            the_pool, proposer = uow.pools.get(pool), uow.people.get(Cast.proposer)
            ideas = [uow.ideas.add(Idea.submit(title=f"Idé {n}", description="En god idé.", pool=the_pool,
                                               proposer=proposer, now=at, requested_dkk=100_000))
                     for n in range(start, min(start + chunk, count))]
            uow.commit(at)
        ids += [idea.id for idea in ideas]
    return ids


def history(engine) -> dict[int, list[tuple[str, str | None, str]]]:
    """Every idea's history as (action, from, to), oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(select(HistoryRow.idea_id, HistoryRow.action, HistoryRow.from_stage,
                                         HistoryRow.to_stage).order_by(HistoryRow.id)).all()
    per_idea: dict[int, list[tuple[str, str | None, str]]] = {}
    for idea, action, from_stage, to_stage in rows:
        per_idea.setdefault(idea, []).append((action, from_stage, to_stage))
    return per_idea


@pytest.mark.long
def test_a_sweep_killed_at_random_points_fires_every_timer_exactly_once(engine, services, db_url, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    Cast(services, now=now - timedelta(days=60))  # the pool that escalates, and its people
    services.create_pool(LAPSING_POOL, 5_000_000, now.year, now - timedelta(days=60),
                         policy=GatePolicy(on_screening_deadline=DeadlinePolicy.LAPSE))

    reminded = submit_many(engine, Cast.pool, PER_KIND, now - timedelta(days=27))  # reminder due, deadline not
    escalated = submit_many(engine, Cast.pool, PER_KIND, now - timedelta(days=40))
    lapsed = submit_many(engine, LAPSING_POOL, PER_KIND, now - timedelta(days=40))
    with engine.connect() as connection:
        due = connection.execute(select(func.count()).select_from(TimerRow).where(
            TimerRow.due_at <= now, TimerRow.cancelled_at.is_(None))).scalar_one()
    assert due == 5_000
    history_before = history(engine)
    env = cli_env(db_url, tmp_path)
    rng = random.Random(20261123)

    kills = 0
    while kills < KILLS:
        before = fired(engine)
        assert before < due, f"the sweep finished after only {kills} kills: make the batches smaller"
        sweep = subprocess.Popen([str(IDEAFLOW), "sweep", "--now", now.isoformat(), "--batch-size", "5"], env=env,
                                 cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while fired(engine) == before and sweep.poll() is None:  # wait until it is firing
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.1))  # then kill it somewhere in the middle of a batch or between two
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
        assert sweep.returncode == -signal.SIGKILL, "the sweep ended on its own before it was killed"
        kills += 1
    assert 0 < fired(engine) < due

    finish = subprocess.run([str(IDEAFLOW), "sweep", "--now", now.isoformat()], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stderr
    assert fired(engine) == due

    with engine.connect() as connection:
        timers = connection.execute(select(TimerRow.idea_id, TimerRow.kind, TimerRow.fired_at, TimerRow.outcome,
                                           TimerRow.cancelled_at).where(TimerRow.due_at <= now)).all()
        pending = Counter(connection.scalars(select(TimerRow.idea_id).where(
            TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None))))
        stages = dict(connection.execute(select(IdeaRow.id, IdeaRow.stage)).all())
        mail = Counter(connection.execute(select(OutboxRow.kind, OutboxRow.recipient_id, OutboxRow.idea_id)).all())
        mail_per_idea = Counter(connection.execute(
            select(OutboxRow.kind, OutboxRow.idea_id).where(OutboxRow.kind.in_(
                ["deadline_reminder", "deadline_escalated"]))).all())
    history_after = history(engine)

    # Every due timer fired once (a timer is one row; fired_at is set by the one claim that won), with
    # the outcome that claim recorded in the same transaction.
    assert len(timers) == due and all(t.fired_at is not None and t.cancelled_at is None for t in timers)
    outcomes = {(t.idea_id, t.kind): t.outcome for t in timers}
    assert len(outcomes) == due
    for idea in reminded:
        assert outcomes[idea, "gate_reminder"] == "screening deadline reminder sent"
    for idea in escalated:
        assert outcomes[idea, "gate_deadline"] == "screening deadline passed; escalated"
        assert outcomes[idea, "gate_reminder"].startswith("skipped: ")
    for idea in lapsed:
        assert outcomes[idea, "gate_deadline"] == "screening deadline passed; idea lapsed"
        assert outcomes[idea, "gate_reminder"].startswith("skipped: ")

    # Each timer's change is there exactly once: no history row lost or repeated, stages agree.
    for idea in reminded:
        assert history_after[idea] == history_before[idea] and stages[idea] == Stage.SUBMITTED
        assert pending[idea] == 1  # its deadline, not yet due
        assert mail_per_idea["deadline_reminder", idea] == len(Cast.REVIEWERS)
    for idea in escalated:
        assert history_after[idea] == [*history_before[idea], ("escalate", "submitted", "submitted")]
        assert stages[idea] == Stage.SUBMITTED and pending[idea] == 0
        assert mail_per_idea["deadline_escalated", idea] == len(Cast.COORDINATORS)
    for idea in lapsed:
        assert history_after[idea] == [*history_before[idea], ("lapse", "submitted", "rejected")]
        assert stages[idea] == Stage.REJECTED and pending[idea] == 0
        assert mail_per_idea["deadline_escalated", idea] == len(Cast.COORDINATORS) + 1  # and the proposer
    assert all(stages[idea] == rows[-1][2] for idea, rows in history_after.items())
    assert [key for key, count in mail.items() if count > 1] == []  # no message queued twice
