"""Delivery against a real SMTP server that goes away, refuses, drops the line or stalls.

Nothing in the outbox is lost, nothing is delivered twice (counted by Message-ID on the server),
a temporary failure backs off, a permanent one is marked failed, reported and never retried.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from notifications.delivery import SmtpConfig, SmtpTransport
from notifications.message import Letterhead
from states.errors import NotAllowed
from states.vocabulary import OPERATOR_EMAIL
from storage.tables import OutboxRow

from mailtest import IDEAFLOW, MAIL_FROM, PUBLIC_URL, T0, Cast, RecordingHandler, SmtpServer, cli_env, iso, smtp_env


def rows(db) -> list:
    with db.connect() as connection:
        return list(connection.execute(select(OutboxRow).order_by(OutboxRow.id)))


def queue(cast, n_ideas: int = 2) -> int:
    """Submit ideas; each one queues 5 mails (receipt, 2 coordinators, 2 reviewers)."""
    for i in range(n_ideas):
        cast.submit(f"Idé {i} — æøå", Cast.proposer, T0)
    return 5 * n_ideas


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ideaflow: "), stderr
    return lines[0]


def test_an_outage_keeps_the_mail_and_a_flush_once_the_server_is_back_delivers_each_message_once(
        cast, smtp, db, ideaflow, flush):
    total = queue(cast)
    smtp.stop()  # the mail server is down

    first = T0 + timedelta(minutes=1)
    result = ideaflow("outbox", "--flush", "--now", iso(first), **smtp_env(smtp))
    assert result.returncode == 1, result
    assert f"{total} still pending" in one_line(result.stderr)
    after = rows(db)
    assert [r.status for r in after] == ["pending"] * total
    # no message was tried: the server failed, not a message, so none used up an attempt
    assert [r.attempts for r in after] == [0] * total
    assert all(r.next_attempt_at > first for r in after)
    assert all(r.last_error for r in after) and all(r.leased_until is None for r in after)
    # and the one line says why
    assert f"cause: cannot connect to 127.0.0.1:{smtp.port}: " in one_line(result.stderr), result.stderr

    # flushed again and again while still down: nothing is used up, the wait grows, the mail stays
    second = first + timedelta(minutes=10)
    for _ in range(10):  # more than the 8 attempts a message has
        result = ideaflow("outbox", "--flush", "--now", iso(second), **smtp_env(smtp))
        assert result.returncode == 1 and f"{total} still pending" in one_line(result.stderr)
        assert "failed permanently" not in result.stderr
    again = rows(db)
    assert [r.attempts for r in again] == [0] * total and all(r.status == "pending" for r in again)
    assert again[0].next_attempt_at - second > after[0].next_attempt_at - first

    listing = ideaflow("outbox", **smtp_env(smtp))
    assert listing.returncode == 0 and f"{total} pending, 0 failed" in listing.stdout

    smtp.start()  # back up, same port; every message still waits for its backoff
    back = second + timedelta(minutes=1)
    assert all(r.next_attempt_at > back for r in rows(db))
    scheduled = flush(back)  # the scheduled delivery (deliver-outbox) keeps the backoff
    assert scheduled.sent == 0 and smtp.handler.received == [] and not scheduled.ok
    result = ideaflow("outbox", "--flush", "--now", iso(back), **smtp_env(smtp))  # an operator's flush: now
    assert result.returncode == 0, result
    assert f"sent {total}, 0 still pending" in result.stdout
    result = ideaflow("outbox", "--flush", "--now", iso(back + timedelta(days=1)), **smtp_env(smtp))
    assert result.returncode == 0 and "sent 0, 0 still pending" in result.stdout

    ids = smtp.handler.ids()
    assert sorted(ids) == sorted(f"<{r.message_key}@kommune.dk>" for r in again)
    assert set(ids.values()) == {1}
    assert all(r.status == "sent" and r.sent_at == back for r in rows(db))


def test_a_4xx_refusal_is_retried_after_the_backoff_and_delivered_once(cast, smtp, db, flush):
    total = queue(cast)
    smtp.handler.mode = "tempfail"
    now = T0 + timedelta(minutes=1)
    report = flush(now)
    assert (report.sent, report.retrying, report.failed, report.pending) == (0, total, [], total)
    assert not report.ok and f"{total} still pending" in report.summary()
    assert smtp.handler.received == [] and sum(smtp.handler.rcpt_attempts.values()) == total
    assert all(r.status == "pending" and r.attempts == 1 and r.next_attempt_at > now and "451" in r.last_error
               for r in rows(db))

    smtp.handler.mode = "accept"
    assert flush(now + timedelta(seconds=59)).sent == 0  # not due yet
    report = flush(now + timedelta(minutes=2))
    assert (report.sent, report.pending) == (total, 0) and report.ok
    assert flush(now + timedelta(hours=1)).sent == 0
    assert len(smtp.handler.ids()) == total and set(smtp.handler.ids().values()) == {1}


def test_a_permanently_refused_address_is_failed_reported_and_never_retried(cast, smtp, db, ideaflow):
    refused = Cast.proposer_en
    smtp.handler.refused[refused] = "550 5.1.1 <citizen@example.com>: no such user"
    cast.submit("Cykelsti til skolen", refused, T0)  # receipt to the refused address + 4 others

    now = T0 + timedelta(minutes=1)
    result = ideaflow("outbox", "--flush", "--now", iso(now), **smtp_env(smtp))
    assert result.returncode == 1, result
    assert "failed permanently 1" in one_line(result.stderr) and "0 still pending" in result.stderr
    assert f"failed: {refused}" in result.stdout and "550" in result.stdout
    by_status = {r.status: r for r in rows(db) if r.status != "sent"}
    assert list(by_status) == ["failed"] and "550" in by_status["failed"].last_error
    assert len(smtp.handler.received) == 4

    listing = ideaflow("outbox", **smtp_env(smtp))
    assert "0 pending, 1 failed" in listing.stdout and refused in listing.stdout
    failed_row = next(line for line in listing.stdout.splitlines() if refused in line)
    cells = " ".join(failed_row.split())
    assert "│ failed │ 1 │ – │ citizen@example.com refused: 550" in cells, failed_row  # no next attempt for it

    for days in (1, 30):  # later flushes leave it alone
        result = ideaflow("outbox", "--flush", "--now", iso(now + timedelta(days=days)), **smtp_env(smtp))
        assert result.returncode == 0 and "sent 0, 0 still pending" in result.stdout, result
    assert smtp.handler.rcpt_attempts[refused] == 1
    assert [r.attempts for r in rows(db) if r.status == "failed"] == [1]


def test_a_server_that_drops_the_line_mid_data_loses_nothing_and_sends_nothing_twice(cast, smtp, db, flush):
    total = queue(cast)
    smtp.handler.mode, smtp.handler.fail_after = "disconnect", 2
    now = T0 + timedelta(minutes=1)
    report = flush(now)
    assert (report.sent, report.retrying, report.pending) == (2, total - 2, total - 2)
    assert len(smtp.handler.received) == 2

    smtp.handler.mode = "accept"
    report = flush(now + timedelta(minutes=2))
    assert (report.sent, report.pending) == (total - 2, 0)
    assert sorted(smtp.handler.ids()) == sorted(f"<{r.message_key}@kommune.dk>" for r in rows(db))
    assert set(smtp.handler.ids().values()) == {1}


def test_a_server_that_stalls_past_the_timeout_loses_nothing_and_sends_nothing_twice(cast, smtp, db, svc):
    total = queue(cast)
    config = SmtpConfig(host="127.0.0.1", port=smtp.port, timeout_s=0.3, mail_from=MAIL_FROM)
    smtp.handler.mode, smtp.handler.fail_after, smtp.handler.stall_s = "stall", 1, 1.2
    now = T0 + timedelta(minutes=1)
    report = svc.flush_outbox(now, SmtpTransport(config), Letterhead(MAIL_FROM, PUBLIC_URL))
    # The client gave up at its own timeout, not at the server's pace: had it waited the 1.2 s, the
    # stalled server would have taken every message (a stopwatch here failed on a busy CI machine).
    assert (report.sent, report.retrying, report.pending) == (1, total - 1, total - 1)
    assert any("timed out" in (r.last_error or "") for r in rows(db)), [r.last_error for r in rows(db)]

    smtp.handler.mode = "accept"
    # The recovered server is given the usual time: 0.3 s for every command of nine messages is a race
    # against a busy machine (the whole suite beside it), and this flush is not what the test is about.
    recovered = SmtpConfig(host="127.0.0.1", port=smtp.port, timeout_s=10, mail_from=MAIL_FROM)
    report = svc.flush_outbox(now + timedelta(minutes=2), SmtpTransport(recovered), Letterhead(MAIL_FROM, PUBLIC_URL))
    assert (report.sent, report.pending) == (total - 1, 0)
    time.sleep(1.5)  # let the stalled server session wake up: it must not deliver what the client gave up on
    assert sorted(smtp.handler.ids()) == sorted(f"<{r.message_key}@kommune.dk>" for r in rows(db))
    assert set(smtp.handler.ids().values()) == {1}


@pytest.mark.parametrize("wrong", ["login", "starttls"])
def test_wrong_smtp_settings_use_up_no_attempts_say_why_and_once_fixed_everything_is_sent(
        cast, smtp, db, ideaflow, wrong):
    """A server without AUTH given IDEAFLOW_SMTP_USER, or without STARTTLS told to use it: the settings
    fail, not a message, however often the operator flushes."""
    total = queue(cast)
    setting = {"smtp_user": "ideaflow", "smtp_password": "hemmelig"} if wrong == "login" else {"smtp_starttls": "true"}
    now = T0 + timedelta(minutes=1)
    for flushes in range(10):  # more than the 8 attempts a message has
        result = ideaflow("outbox", "--flush", "--now", iso(now + timedelta(hours=flushes)),
                          **smtp_env(smtp, **setting))
        line = one_line(result.stderr)
        assert result.returncode == 1 and f"{total} still pending" in line and "failed permanently" not in line
    extension = "AUTH" if wrong == "login" else "STARTTLS"
    assert f"cause: 127.0.0.1:{smtp.port} refused " in line and f"{extension} extension not supported" in line, line
    assert all(r.status == "pending" and r.attempts == 0 for r in rows(db))
    assert smtp.handler.received == []

    fixed = ideaflow("outbox", "--flush", "--now", iso(now + timedelta(hours=11)), **smtp_env(smtp))
    assert fixed.returncode == 0 and f"sent {total}, 0 still pending" in fixed.stdout, fixed
    assert len(smtp.handler.ids()) == total and set(smtp.handler.ids().values()) == {1}


def test_a_message_the_server_keeps_refusing_for_a_while_still_fails_after_its_attempts(cast, smtp, db, flush):
    """Only the server's answer to a message counts against it: eight 4xx replies end it."""
    cast.submit("Cykelsti", Cast.proposer_en, T0)
    smtp.handler.mode = "tempfail"
    now = T0 + timedelta(minutes=1)
    for _ in range(8):
        report = flush(now)
        now += timedelta(hours=7)  # past the longest backoff
    assert len(report.failed) == 5 and "451" in report.cause
    assert all(r.status == "failed" and r.attempts == 8 for r in rows(db))


def test_failed_mail_is_sent_again_by_an_administrator_with_its_attempts_reset_and_its_history_kept(
        cast, smtp, db, ideaflow, svc):
    refused = Cast.proposer_en
    smtp.handler.refused[refused] = "550 5.1.1 <citizen@example.com>: no such user"
    cast.submit("Cykelsti til skolen", refused, T0)
    now = T0 + timedelta(minutes=1)
    assert ideaflow("outbox", "--flush", "--now", iso(now), **smtp_env(smtp)).returncode == 1
    [failed] = [r for r in rows(db) if r.status == "failed"]

    with pytest.raises(NotAllowed):  # a coordinator may not (and the attempt is recorded)
        svc.resend_failed(now, by=Cast.coordinator)
    assert [r.status for r in rows(db) if r.id == failed.id] == ["failed"]

    del smtp.handler.refused[refused]  # the address works now
    later = now + timedelta(days=2)
    result = ideaflow("outbox", "--resend-failed", "--flush", "--now", iso(later), **smtp_env(smtp))
    assert result.returncode == 0, result
    assert "1 failed message put back to be sent" in result.stdout and "sent 1, 0 still pending" in result.stdout
    [again] = [r for r in rows(db) if r.id == failed.id]
    assert again.status == "sent" and again.attempts == 1 and again.sent_at == later
    assert [r.rcpt for r in smtp.handler.received].count((refused,)) == 1
    assert smtp.handler.rcpt_attempts[refused] == 2


def test_resending_failed_mail_keeps_the_error_and_leaves_one_time_links_failed(cast, smtp, db, ideaflow, svc):
    smtp.handler.refused[Cast.proposer_en] = "550 5.1.1 no such user"
    cast.submit("Cykelsti til skolen", Cast.proposer_en, T0)
    now = T0 + timedelta(minutes=1)
    with db.begin() as connection:  # a sign-in link that failed: its token was cleared with it
        connection.execute(OutboxRow.__table__.insert().values(
            kind="signin_link", to_email="ny@kommune.dk", to_name="Ny", to_lang="da", payload={}, created_at=T0,
            status="failed", attempts=8, next_attempt_at=T0, last_error="451 try later"))
    ideaflow("outbox", "--flush", "--now", iso(now), **smtp_env(smtp))
    result = ideaflow("outbox", "--resend-failed", "--now", iso(now + timedelta(hours=1)), **smtp_env(smtp))
    assert result.returncode == 0 and "1 failed message put back to be sent; 1 left failed" in result.stdout, result
    by_kind = {r.kind: r for r in rows(db) if r.status != "sent"}
    assert by_kind["signin_link"].status == "failed"
    resent = by_kind["idea_received"]
    assert (resent.status, resent.attempts, resent.next_attempt_at) == ("pending", 0, now + timedelta(hours=1))
    assert resent.last_error.startswith(f"sent again by {OPERATOR_EMAIL} at ") and "550 5.1.1" in resent.last_error


class HoldsTheFirstMessage(RecordingHandler):
    """Accepts mail, but holds the first message's DATA until `release` is set: a flush caught mid-batch."""

    def __init__(self) -> None:
        super().__init__()
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.received:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def test_mail_another_flush_is_sending_is_reported_as_such_and_is_no_failure(cast, db, db_url, ideaflow, tmp_path):
    total = queue(cast)
    smtp = SmtpServer()
    smtp.handler = handler = HoldsTheFirstMessage()
    smtp.stop()  # an outage first, so every message waits to be retried after a failure
    now = T0 + timedelta(minutes=1)
    assert ideaflow("outbox", "--flush", "--now", iso(now), **smtp_env(smtp)).returncode == 1
    smtp.start()
    first = subprocess.Popen([str(IDEAFLOW), "outbox", "--flush", "--now", iso(now)], cwd=tmp_path,
                             env=cli_env(db_url, tmp_path, **smtp_env(smtp)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert handler.holding.wait(60), "the first flush never reached the server"
        second = ideaflow("outbox", "--flush", "--now", iso(now), **smtp_env(smtp))
        assert second.returncode == 0, second
        assert f"sent 0, 0 still pending, {total} being sent by another flush" in second.stdout, second
    finally:
        handler.release.set()
        out, err = first.communicate(timeout=60)
        smtp.stop()
    assert first.returncode == 0 and f"sent {total}, 0 still pending" in out, (out, err)
    assert set(handler.ids().values()) == {1} and len(handler.ids()) == total
