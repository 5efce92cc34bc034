"""Addresses as they are: names nobody gave, æ/ø/å before the @, servers with and without SMTPUTF8,
and a sender that no recipient's server would accept.

The SMTP servers are real (aiosmtpd on free local ports), one offering SMTPUTF8 (RFC 6531) and one not,
as most municipal relays did not until recently; the CLI runs as the installed console script.
"""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
from sqlalchemy import select

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.vocabulary import Language, Role
from storage.tables import OutboxRow

from mailtest import MAIL_FROM, PUBLIC_URL, T0, Cast, SmtpServer, iso, parts, smtp_env

UTF8_ADDRESS = "søren.ærø@kommune.dk"  # the local part has æ/ø: only SMTPUTF8 can carry it
IDN_ADDRESS = "borger@æblegård.dk"  # only the domain is non-ASCII: IDNA makes it ASCII, no SMTPUTF8 needed
IDN_ACE = "borger@xn--blegrd-luad.dk"


def outbox(db) -> list:
    with db.connect() as connection:
        return list(connection.execute(select(OutboxRow).order_by(OutboxRow.id)))


@pytest.fixture
def server():
    """`server(smtputf8)`: a second recording SMTP server, started; stopped after the test."""
    started = []

    def start(smtputf8: bool) -> SmtpServer:
        started.append(SmtpServer(smtputf8=smtputf8))
        started[-1].start()
        return started[-1]

    yield start
    for one in started:
        one.stop()


def deliver(svc, server: SmtpServer, now):
    app = bootstrap(Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=server.port, smtp_timeout_s=5.0,
                             mail_from=MAIL_FROM, public_url=PUBLIC_URL))
    return svc.flush_outbox(now, app.mail_transport(), app.letterhead)


def test_a_proposer_without_a_name_is_greeted_without_one(svc, cast, smtp, flush):
    """The CLI registers an unknown proposer with their address's local part as name ("ejendomme"):
    that is not a name to greet anyone by, nor to tell the coordinators who proposed."""
    idea = svc.submit(title="Fælles vaskeri", description="…", proposer="ejendomme@taarnby.dk", pool=Cast.pool,
                      now=T0)
    assert flush(T0).ok
    got = {(r.rcpt[0], r.message["X-Ideaflow-Kind"]): r.message for r in smtp.handler.take()}
    receipt = got[("ejendomme@taarnby.dk", "idea_received")]
    text, html = parts(receipt)
    assert text.startswith("Hej,\n\n") and "<p>Hej,</p>" in html and "ejendomme," not in text
    assert str(receipt["To"]) == "ejendomme@taarnby.dk"  # no display name made up from the address
    notice, _ = parts(got[(Cast.coordinator, "idea_submitted")])
    assert f'ejendomme@taarnby.dk har indsendt idé {idea} "Fælles vaskeri"' in notice
    # a person with a name is greeted by it, in English too; English has its own neutral greeting
    assert parts(got[(Cast.coordinator, "idea_submitted")])[0].startswith("Kære Karin Koordinator,\n")
    svc.add_person("x.y@example.com", "x.y", Role.PROPOSER, T0, Language.EN)
    svc.submit(title="Shared laundry", description="…", proposer="x.y@example.com", pool=Cast.pool, now=T0)
    assert flush(T0).ok
    (receipt_en,) = [r.message for r in smtp.handler.take() if r.rcpt == ("x.y@example.com",)]
    assert parts(receipt_en)[0].startswith("Hello,\n\n")


def test_an_address_with_aeoeaa_in_its_local_part_goes_as_utf8_to_a_server_that_offers_smtputf8(
        svc, cast, db, server):
    svc.add_person(UTF8_ADDRESS, "Søren Ærø", Role.PROPOSER, T0)
    svc.submit(title="Idé", description="…", proposer=UTF8_ADDRESS, pool=Cast.pool, now=T0)
    utf8 = server(smtputf8=True)
    report = deliver(svc, utf8, T0)
    assert report.ok and report.sent == len(outbox(db)), report.failed
    (received,) = [r for r in utf8.handler.received if r.rcpt == (UTF8_ADDRESS,)]
    raw = received.message.as_bytes(policy=email.policy.SMTPUTF8)
    to_line = next(line for line in raw.split(b"\r\n") + raw.split(b"\n") if line.startswith(b"To:"))
    # RFC 6532: the address as UTF-8, not an RFC 2047 encoded word (which is not allowed in an address)
    assert to_line == "To: Søren Ærø <søren.ærø@kommune.dk>".encode()
    assert str(received.message["To"]) == "Søren Ærø <søren.ærø@kommune.dk>"
    # every other message kept 7-bit headers: any server could have taken them
    others = [r for r in utf8.handler.received if r.rcpt != (UTF8_ADDRESS,)]
    assert others and all(r.message.as_bytes().split(b"\n\n")[0].isascii() for r in others)


def test_a_server_without_smtputf8_is_a_permanent_failure_reported_once(svc, cast, db, server, ideaflow, db_url):
    """Retrying would ask the same server the same question for hours: the row fails at once, with the
    reason, and the rest of the batch is delivered."""
    svc.add_person(UTF8_ADDRESS, "Søren Ærø", Role.PROPOSER, T0)
    svc.submit(title="Idé", description="…", proposer=UTF8_ADDRESS, pool=Cast.pool, now=T0)
    plain = server(smtputf8=False)
    result = ideaflow("outbox", "--flush", "--now", iso(T0), **smtp_env(plain))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result
    assert "failed permanently 1" in result.stderr and f"failed: {UTF8_ADDRESS}" in result.stdout, result
    rows = outbox(db)
    (failed,) = [r for r in rows if r.status != "sent"]
    assert failed.status == "failed" and failed.attempts == 1 and "SMTPUTF8" in failed.last_error
    assert len(plain.handler.received) == len(rows) - 1  # the others went through on the same connection
    later = ideaflow("outbox", "--flush", "--now", iso(T0 + timedelta(days=1)), **smtp_env(plain))
    assert later.returncode == 0 and "sent 0" in later.stdout, later  # not tried again, not reported again
    assert outbox(db)[rows.index(failed)].attempts == 1


def test_a_non_ascii_domain_needs_no_smtputf8(svc, cast, db, server):
    svc.add_person(IDN_ADDRESS, "Birte Borger", Role.PROPOSER, T0)
    svc.submit(title="Idé", description="…", proposer=IDN_ADDRESS, pool=Cast.pool, now=T0)
    plain = server(smtputf8=False)
    report = deliver(svc, plain, T0)
    assert report.ok and report.sent == len(outbox(db)), report.failed
    (received,) = [r for r in plain.handler.received if r.rcpt == (IDN_ACE,)]
    assert received.message["To"].addresses[0].addr_spec == IDN_ACE


@pytest.mark.parametrize("sender", ["ideaflow <ideaflow@localhost>", "ideaflow@server.localhost",
                                    "Innovation <innovation@kommune>", "noreply@ideaflow.invalid"])
def test_smtp_delivery_refuses_to_start_with_a_sender_no_server_would_accept(cast, db, smtp, ideaflow, sender):
    before = outbox(db)
    result = ideaflow("outbox", "--flush", "--now", iso(T0), mail_from=sender, **smtp_env(smtp))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result
    assert "IDEAFLOW_MAIL_FROM" in result.stderr and "Traceback" not in result.stderr
    assert smtp.handler.received == [] and outbox(db) == before
    # without SMTP (.eml files for a developer) the default sender is fine
    files = ideaflow("outbox", "--flush", "--now", iso(T0), mail_from=sender)
    assert files.returncode == 0 and f"written {len(before)} as .eml files" in files.stdout, files


def test_message_ids_are_random_and_differ_between_installations(tmp_path, smtp, flush, svc, cast, db):
    """Two installations both number their outbox from 1; their Message-IDs must still differ (archives
    de-duplicate by Message-ID). That a retried message keeps its own: tests/reliability/test_mail.py."""
    from storage.migrate import upgrade

    with bootstrap(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'other.db'}")) as other:
        upgrade(other.engine)
        Cast(other.services).submit("Idé", Cast.proposer, T0)
        with other.engine.connect() as connection:
            theirs = {r.id: r.message_key for r in connection.execute(select(OutboxRow))}
    cast.submit("Idé", Cast.proposer, T0)
    ours = {r.id: r.message_key for r in outbox(db)}
    assert set(theirs) & set(ours) and not set(theirs.values()) & set(ours.values())
    assert flush(T0).ok
    ids = [r.message_id for r in smtp.handler.received]
    assert sorted(ids) == sorted(f"<{key}@kommune.dk>" for key in ours.values())
