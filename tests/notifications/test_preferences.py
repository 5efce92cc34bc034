"""Stopping the weekly digest: a person's preference, and the one-click unsubscribe link in every digest.

The digest carries `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 2369, RFC 8058) with a random
per-person token; the web console's `POST /preferences/unsubscribe?token=…` calls
`Services.unsubscribe_digest`, tested here directly, and `ideaflow person digest EMAIL on|off` is the
staff's way. Only the digest stops: notices about a person's own ideas keep coming.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from test_digests import cph

from ideaflow.digests import Cadence
from states.errors import NotFound
from storage.db import make_engine
from storage.tables import OutboxRow, PersonRow

from mailtest import PUBLIC_URL, Cast, parts

MONDAY = cph("2026-03-09T07:05")
WEEK = timedelta(days=7)


def tokens(db) -> dict[str, str]:
    with db.connect() as connection:
        return {e: t for e, t in connection.execute(select(PersonRow.email, PersonRow.digest_token))}


def digests_to(db, since_id: int = 0) -> dict[str, dict]:
    with db.connect() as connection:
        return {email: payload for email, payload in connection.execute(
            select(PersonRow.email, OutboxRow.payload).join(PersonRow, OutboxRow.recipient_id == PersonRow.id)
            .where(OutboxRow.kind == "digest", OutboxRow.id > since_id))}


def last_outbox_id(db) -> int:
    with db.connect() as connection:
        return connection.scalar(select(OutboxRow.id).order_by(OutboxRow.id.desc()).limit(1)) or 0


def test_the_digest_link_stops_that_persons_digest_and_nothing_else(svc, cast, db, smtp, flush):
    cast.submit("Cykelparkering", Cast.proposer, cph("2026-03-03T10:00"))
    svc.queue_digests(MONDAY, Cadence())
    assert flush(MONDAY).ok
    delivered = {r.rcpt[0]: r.message for r in smtp.handler.take() if r.message["X-Ideaflow-Kind"] == "digest"}
    assert Cast.coordinator in delivered and Cast.coordinator_en in delivered

    # every digest names its reader's own unguessable token, in the header and in both parts
    known = tokens(db)
    assert len(set(known.values())) == len(known) and all(re.fullmatch(r"[\w-]{43}", t) for t in known.values())
    for email, message in delivered.items():
        link = f"{PUBLIC_URL}preferences/unsubscribe?token={known[email]}"
        assert message["List-Unsubscribe"] == f"<{link}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        plain, html = parts(message)
        assert link in plain and f'href="{link}"' in html
    assert "Stop ugens overblik: " in parts(delivered[Cast.coordinator])[0]
    assert "Stop the weekly digest: " in parts(delivered[Cast.coordinator_en])[0]

    # the one-click POST: the coordinator's digest stops, once; repeating it changes nothing
    clicked = MONDAY + timedelta(hours=1)
    assert svc.unsubscribe_digest(known[Cast.coordinator], clicked) == Cast.coordinator
    assert svc.unsubscribe_digest(known[Cast.coordinator], clicked + timedelta(days=1)) == Cast.coordinator
    assert svc.digest_opted_out(Cast.coordinator) == clicked
    assert svc.digest_opted_out(Cast.coordinator_en) is None

    # the next week: no digest for them, one for the other coordinator; their other mail still comes
    idea = cast.submit("Grønne tage", Cast.proposer, MONDAY + timedelta(days=2))
    before = last_outbox_id(db)
    report = svc.queue_digests(MONDAY + WEEK, Cadence())
    week2 = digests_to(db, before)
    assert Cast.coordinator not in week2 and Cast.coordinator_en in week2
    assert report.opted_out == 1 and "1 stopped their digest" in report.summary()
    assert flush(MONDAY + WEEK).ok
    notices = [r for r in smtp.handler.take() if r.rcpt == (Cast.coordinator,)]
    assert [m.message["X-Ideaflow-Kind"] for m in notices] == ["idea_submitted"]
    assert f"ideas/{idea}" in parts(notices[0].message)[0]


def test_a_resumed_digest_starts_from_the_resumption_and_the_cli_switches_it(svc, cast, db, ideaflow):
    result = ideaflow("person", "digest", Cast.proposer, "off")
    assert result.returncode == 0 and f"weekly digest for {Cast.proposer}: off" in result.stdout, result
    assert svc.digest_opted_out(Cast.proposer) is not None
    while_stopped = cast.submit("Mens pausen", Cast.proposer, cph("2026-03-03T10:00"))
    svc.queue_digests(MONDAY, Cadence())
    assert Cast.proposer not in digests_to(db)

    assert ideaflow("person", "digest", Cast.proposer, "on").returncode == 0
    assert svc.digest_opted_out(Cast.proposer) is None
    after = cast.submit("Efter pausen", Cast.proposer, MONDAY + timedelta(days=1))
    before = last_outbox_id(db)
    svc.queue_digests(MONDAY + WEEK, Cadence())
    moved = {m["idea_id"] for m in digests_to(db, before)[Cast.proposer]["moved"]}
    assert moved == {after} and while_stopped not in moved  # what happened while stopped is not replayed

    for bad in (["person", "digest", "nobody@kommune.dk", "off"], ["person", "digest", Cast.proposer, "maybe"]):
        refused = ideaflow(*bad)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused


@pytest.mark.parametrize("token", ["", "x" * 43, "../" * 15, "a" * 10_000, "' OR 1=1 --"])
def test_an_unknown_token_changes_nothing(svc, cast, db, token):
    before = tokens(db)
    with pytest.raises(NotFound, match="not valid"):
        svc.unsubscribe_digest(token, MONDAY)
    assert tokens(db) == before
    assert all(svc.digest_opted_out(email) is None for email in before)


def test_forgetting_a_person_voids_their_old_link(svc, cast, db):
    old = tokens(db)[Cast.proposer]
    pseudonym = svc.forget_person(Cast.proposer, MONDAY)
    with pytest.raises(NotFound):
        svc.unsubscribe_digest(old, MONDAY)
    assert svc.digest_opted_out(pseudonym) is None and tokens(db)[pseudonym] != old


def test_the_upgrade_keeps_queued_message_ids_and_gives_everyone_a_token(tmp_path):
    """A database from before the upgrade: mail already queued keeps the Message-ID it had (a message
    handed to a server before the upgrade and retried after it must not look new), people get tokens."""
    from alembic import command

    from storage.migrate import alembic_config, head, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "3c5e9a1f7b24")
        connection.execute(text("INSERT INTO people (id, email, name, lang, created_at) VALUES "
                                "(101, 'a@kommune.dk', 'A', 'da', '2026-03-01 09:00:00'), "
                                "(102, 'b@kommune.dk', 'B', 'da', '2026-03-01 09:00:00')"))
        connection.execute(text("INSERT INTO outbox (id, kind, recipient_id, payload, created_at, status, attempts, "
                                 "next_attempt_at) VALUES (7, 'digest', 101, '{}', '2026-03-01 09:00:00', 'pending', 1,"
                                 " '2026-03-01 09:00:00')"))
    assert upgrade(engine) == head()
    with engine.connect() as connection:
        assert connection.execute(select(OutboxRow.message_key)).scalars().all() == ["outbox-7"]
        people_tokens = connection.execute(select(PersonRow.digest_token)).scalars().all()
    engine.dispose()
    assert len(people_tokens) >= 2 and len(set(people_tokens)) == len(people_tokens)
    assert all(re.fullmatch(r"[\w-]{43}", t) for t in people_tokens)
