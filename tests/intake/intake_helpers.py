"""Helpers for the public intake tests: an Intake on a test database with its confirmation mail delivered
at once to a real SMTP server (aiosmtpd), a valid form to vary, and the token of a mailed link.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ideaflow.intake import Intake, IntakeSettings
from ideaflow.services import Services
from notifications.delivery import SmtpConfig, SmtpTransport
from notifications.handlers import queue_mail
from notifications.message import Letterhead
from states.intake import Submission, Upload
from states.vocabulary import Language

from mailtest import MAIL_FROM, parts

KEY = b"intake tests' key"
LETTERHEAD = Letterhead(MAIL_FROM, "https://ideer.kommune.dk/")
T0 = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
POOL = "Borgerpuljen"
COORDINATOR = "koordinator@kommune.dk"
REVIEWER = "bedoemmer@kommune.dk"
FOLLOWER = "byraad@kommune.dk"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)


def intake_for(engine, deliver: bool = True, smtp_port: int | None = None, **settings) -> Intake:
    """An Intake on `engine`; with an SMTP port, its confirmation mail is delivered there at once."""
    deliver_now = None
    if smtp_port is not None:
        mail = SmtpConfig(host="127.0.0.1", mail_from=MAIL_FROM, port=smtp_port, timeout_s=5.0)
        services = Services(engine, subscriber=queue_mail)
        deliver_now = lambda mails, now: services.deliver_leased(mails, now, SmtpTransport(mail), LETTERHEAD)  # noqa: E731
    return Intake(engine, IntakeSettings(**settings), lambda: KEY,
                  deliver_now, subscriber=queue_mail)


def form(**changes) -> Submission:
    values = dict(title="Grønne skolegårde", description="Plant træer i skolegårdene.\nBørnene hjælper.",
                  name="Åse Ærlig", email="aase@example.dk", proposer_kind="citizen", department="Børn og unge",
                  requested_dkk=150_000, attachments=(Upload("plan.pdf", PDF),))
    values.update(changes)
    return Submission(**values)


def submit(intake: Intake, pool_id: int, now: datetime = T0, client: str = "192.0.2.1", lang=Language.DA,
           **changes):
    return intake.submit(pool_id, form(**changes), client=client, lang=lang, now=now)


def token_from(message) -> str:
    """The token of the confirmation link in a delivered mail (checked in both its parts)."""
    text, html = parts(message)
    found = re.findall(r"https://ideer\.kommune\.dk/submissions/confirm\?token=([A-Za-z0-9_-]+)", text)
    assert len(found) == 1, text
    assert f'href="https://ideer.kommune.dk/submissions/confirm?token={found[0]}"' in html
    return found[0]


def later(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)
