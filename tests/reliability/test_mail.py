"""Mail under concurrency, a misbehaving server and a killed flush, through the real `ideaflow` command
(as processes where several run at once or one is killed; its entry point in this process otherwise).

The SMTP server is aiosmtpd on a free local port (mailtest.py). Every message carries a stable
Message-ID (`<key@domain>`, a random key stored with its outbox row), so the server's log shows whether
anything arrived twice.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage.tables import HistoryRow, OutboxRow, TimerRow

from cli_inproc import run_cli_in
from mailtest import IDEAFLOW, T0, Cast, CliResult, RecordingHandler, SmtpServer, cli_env, iso, smtp_env

pytestmark = pytest.mark.slow


@pytest.fixture
def cast(services) -> Cast:
    return Cast(services)


def outbox(engine) -> list:
    with engine.connect() as connection:
        return list(connection.execute(select(OutboxRow).order_by(OutboxRow.id)))


def start(env, tmp_path, *args) -> subprocess.Popen:
    return subprocess.Popen([str(IDEAFLOW), *map(str, args)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_sweeps_and_two_flushes_at_once_fire_and_send_everything_once(
        engine, db_url, cast, smtp, tmp_path):
    ideas = [cast.submit(f"Idé {n}", Cast.proposer, T0) for n in range(150)]
    later = T0 + timedelta(days=31)  # every screening deadline (and reminder) is due
    smtp.handler.data_delay_s = 0.002  # a server that takes its time, so the flushes overlap
    env = cli_env(db_url, tmp_path, **smtp_env(smtp))
    processes = [start(env, tmp_path, "sweep", "--now", iso(later), "--batch-size", "20") for _ in range(2)]
    processes += [start(env, tmp_path, "outbox", "--flush", "--now", iso(later)) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, outputs
    # The flushes may have started before the sweeps queued their mail: one more delivers the rest.
    final = subprocess.run([str(IDEAFLOW), "outbox", "--flush", "--now", iso(later)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0 and "0 still pending" in final.stdout, final

    fired = [int(m) for out, _ in outputs[:2] for m in re.findall(r"fired (\d+) timer", out)]
    with engine.connect() as connection:
        timers = connection.execute(select(func.count()).select_from(TimerRow)
                                    .where(TimerRow.fired_at.is_not(None))).scalar_one()
        escalations = dict(connection.execute(select(HistoryRow.idea_id, func.count())
                                              .where(HistoryRow.action == "escalate")
                                              .group_by(HistoryRow.idea_id)).all())
    assert sum(fired) == timers == 2 * len(ideas)  # split between the two sweeps, nothing twice
    assert escalations == {idea: 1 for idea in ideas}
    rows = outbox(engine)
    assert all(r.status == "sent" and r.attempts == 1 for r in rows)
    ids = smtp.handler.ids()
    assert sorted(ids) == sorted(f"<{r.message_key}@kommune.dk>" for r in rows) and set(ids.values()) == {1}


@pytest.mark.parametrize("fault", ["is down", "refuses", "disconnects mid-DATA", "stalls past the timeout"])
def test_a_faulty_smtp_server_loses_nothing_and_once_it_recovers_delivers_everything_once(
        engine, db_url, cast, smtp, tmp_path, fault):
    for n in range(30):
        cast.submit(f"Idé {n}", Cast.proposer, T0)
    total = len(outbox(engine))
    assert total == 30 * 5  # a receipt, two coordinators told, two reviewers asked, for each idea
    mode = {"is down": "accept", "refuses": "tempfail", "disconnects mid-DATA": "disconnect",
            "stalls past the timeout": "stall"}[fault]
    # The client's time-out is short only where it is the subject (a stalling server). Elsewhere a
    # short one would, on a loaded machine, give up on a message the server had just accepted: the
    # one case where SMTP itself cannot avoid a second copy (see Guarantees in the README).
    timeout_s = 2.0 if mode == "stall" else 30.0
    smtp.handler.mode, smtp.handler.fail_after, smtp.handler.stall_s = mode, 10, 2 * timeout_s
    if fault == "is down":
        smtp.stop()  # connections are refused until it is started again on the same port
    env = cli_env(db_url, tmp_path, **smtp_env(smtp, smtp_timeout_s=str(timeout_s)))

    def flush(at):  # the console script's entry point, in this process (the fault is the subject, not the process)
        return CliResult(*run_cli_in(["outbox", "--flush", "--now", iso(at)], env, tmp_path))

    now = T0 + timedelta(minutes=1)
    for attempt in range(3):  # the server misbehaves for three flushes, a backoff apart
        result = flush(now)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result  # told, in one line
        assert "waiting to retry" in result.stderr
        now += timedelta(minutes=2 ** (attempt + 2))
    delivered_while_faulty = len(smtp.handler.received)
    assert delivered_while_faulty < total
    assert all(r.status in ("sent", "pending") for r in outbox(engine))  # nothing given up on, nothing lost

    smtp.handler.mode = "accept"
    if fault == "is down":
        smtp.start()
    for _ in range(3):
        now += timedelta(hours=6)  # beyond the longest backoff
        result = flush(now)
    assert result.returncode == 0 and "0 still pending" in result.stdout, result
    if mode == "stall":
        time.sleep(smtp.handler.stall_s)  # a stalled session that wakes up must not deliver what was given up on
    rows = outbox(engine)
    assert all(r.status == "sent" for r in rows) and len(rows) == total
    ids = smtp.handler.ids()
    assert sorted(ids) == sorted(f"<{r.message_key}@kommune.dk>" for r in rows)
    assert set(ids.values()) == {1}, [m for m, n in ids.items() if n > 1]


class KillsTheSender(RecordingHandler):
    """Accepts mail, and SIGKILLs `victim` right after accepting message number `kill_at` (before the
    sender can hear the server's 250 and mark that message sent)."""

    def __init__(self, kill_at: int) -> None:
        super().__init__()
        self.kill_at = kill_at
        self.victim: subprocess.Popen | None = None

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.received) == self.kill_at and self.victim is not None:
            self.victim.kill()
            self.victim.wait(timeout=10)
        return reply


def test_a_flush_killed_after_the_server_accepted_a_message_sends_that_one_again_with_its_message_id(
        engine, db_url, cast, tmp_path):
    """The one duplicate the README owns up to, and no other: only the message in flight is repeated."""
    for n in range(10):
        cast.submit(f"Idé {n}", Cast.proposer, T0)
    total = len(outbox(engine))
    smtp = SmtpServer()
    smtp.handler = handler = KillsTheSender(kill_at=20)
    smtp.start()
    try:
        env = cli_env(db_url, tmp_path, **smtp_env(smtp))
        now = T0 + timedelta(minutes=1)
        handler.victim = flush = start(env, tmp_path, "outbox", "--flush", "--now", iso(now))
        flush.communicate(timeout=120)
        assert flush.returncode == -signal.SIGKILL and len(handler.received) == 20
        in_flight = handler.received[-1].message_id

        def flush_at(moment):
            return subprocess.run([str(IDEAFLOW), "outbox", "--flush", "--now", iso(moment)], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)

        early = flush_at(now + timedelta(minutes=5))  # the dead flush's lease still holds: nothing is sent
        assert early.returncode == 0 and early.stdout.startswith("sent 0,") and len(handler.received) == 20, early
        late = flush_at(now + timedelta(minutes=11))  # the lease has run out
        assert late.returncode == 0 and "0 still pending" in late.stdout, late
    finally:
        smtp.stop()
    rows = outbox(engine)
    assert len(rows) == total and all(r.status == "sent" for r in rows)
    ids = handler.ids()
    assert sorted(ids) == sorted(f"<{r.message_key}@kommune.dk>" for r in rows)  # nothing lost
    assert {m: n for m, n in ids.items() if n > 1} == {in_flight: 2}  # the one in flight, once more
