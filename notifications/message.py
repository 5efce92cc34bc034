"""Build the RFC 5322 message for an outbox row.

The Message-ID and Date come from the row, not from the moment of sending, so a message retried
after a crash is byte-for-byte the same message and mail clients (and tests) recognise the repeat.
"""

from __future__ import annotations

from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING

from notifications.render import render

if TYPE_CHECKING:
    from storage.repository import OutgoingMail


class _Subject(str):
    """A Subject the standard library folds without losing spaces.

    Python's own folder (3.11 here; fixed upstream only in 2026, python/cpython gh-144156) splits a
    long non-ASCII subject into adjacent encoded words with the space between them outside both, and
    RFC 2047 decoders drop that space: "Velfærdsteknologi på" arrives as "Velfærdsteknologipå". The
    older `email.header.Header` encoder keeps every space inside an encoded word.
    """

    name = "Subject"

    def fold(self, *, policy) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name, maxlinelen=policy.max_line_length)
        return f"{self.name}: {encoded.encode(linesep=policy.linesep)}{policy.linesep}"


def message_id(mail_id: int, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ideaflow.invalid"
    return f"<outbox-{mail_id}@{domain}>"


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    rendered = render(mail.kind, mail.lang, mail.payload, mail.recipient_name)
    message = EmailMessage()
    message["Subject"] = rendered.subject if rendered.subject.isascii() else _Subject(rendered.subject)
    message["From"] = sender
    username, _, domain = mail.recipient_email.rpartition("@")
    message["To"] = Address(display_name=mail.recipient_name, username=username, domain=domain)
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = message_id(mail.id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Ideaflow-Kind"] = mail.kind
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
