"""`ideaflow outbox --flush` as coordinators run it: two at once on one SQLite file, or into a folder."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.tables import OutboxRow

from mailtest import IDEAFLOW, T0, Cast, cli_env, iso, parts, smtp_env


def rows(db) -> list:
    with db.connect() as connection:
        return list(connection.execute(select(OutboxRow).order_by(OutboxRow.id)))


@pytest.mark.slow
def test_two_concurrent_flushes_deliver_every_message_exactly_once(cast, smtp, db, db_url, tmp_path):
    for i in range(50):  # 5 mails each: 250, more than one flush batch (100)
        cast.submit(f"Idé {i}", Cast.proposer, T0)
    total = len(rows(db))
    assert total == 250
    smtp.handler.data_delay_s = 0.003  # a server that takes its time, so the two flushes overlap
    env = cli_env(db_url, tmp_path, **smtp_env(smtp))
    command = [str(IDEAFLOW), "outbox", "--flush", "--now", iso(T0 + timedelta(minutes=1))]
    flushes = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [f.communicate(timeout=120) for f in flushes]
    assert [f.returncode for f in flushes] == [0, 0], outputs
    sent = [int(re.search(r"sent (\d+)", out).group(1)) for out, _ in outputs]
    assert sum(sent) == total, outputs
    print("split between the two flushes:", sent)

    ids = smtp.handler.ids()
    assert len(ids) == total and set(ids.values()) == {1}, [m for m, n in ids.items() if n > 1]
    assert all(r.status == "sent" and r.attempts == 1 for r in rows(db))


def test_without_an_smtp_host_the_flush_writes_one_eml_per_message(cast, db, tmp_path, ideaflow):
    cast.submit("Grøn omstilling på rådhuset — «citat» & <tags>", Cast.proposer_en, T0)
    queued = rows(db)
    mail_dir = tmp_path / "udbakke"
    result = ideaflow("outbox", "--flush", "--now", iso(T0 + timedelta(minutes=1)), mail_dir=str(mail_dir),
                      smtp_hots="127.0.0.1")
    # said as what it is: written to files, not sent, and why (a mistyped IDEAFLOW_SMTP_HOTS is no host)
    assert result.returncode == 0 and result.stdout.startswith(
        f"written {len(queued)} as .eml files to {mail_dir}/ (no IDEAFLOW_SMTP_HOST set), 0 still pending"), result
    files = sorted(mail_dir.iterdir())
    assert [f.name for f in files] == sorted(f"{r.message_key}.eml" for r in queued)  # no temporary files left
    for row in queued:
        message = email.message_from_bytes((mail_dir / f"{row.message_key}.eml").read_bytes(),
                                           policy=email.policy.default)
        assert message["Message-ID"] == f"<{row.message_key}@kommune.dk>"
        assert message["Auto-Submitted"] == "auto-generated" and message["Date"] and message["From"]
        assert message["X-Ideaflow-Kind"] == row.kind
        text, html = parts(message)
        assert "Grøn omstilling på rådhuset — «citat» & <tags>" in text
        assert "&lt;tags&gt;" in html and "<tags>" not in html
        assert "Grøn omstilling på rådhuset" in message["Subject"]
    assert all(r.status == "sent" for r in rows(db))
    again = ideaflow("outbox", "--flush", "--now", iso(T0 + timedelta(hours=1)), mail_dir=str(mail_dir))
    assert again.returncode == 0 and "written 0" in again.stdout
    assert sorted(mail_dir.iterdir()) == files
