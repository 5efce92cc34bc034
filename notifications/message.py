"""Build the RFC 5322 message for an outbox row.

The Message-ID and Date come from the row, not from the moment of sending, so a message retried
after a crash is byte-for-byte the same message and mail clients (and tests) recognise the repeat.
The Message-ID's left part is a random key drawn when the row was written: row ids repeat from one
installation to the next, and archives that de-duplicate by Message-ID would hide real mail.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING

from notifications import links
from notifications.render import known_name, render

if TYPE_CHECKING:
    from storage.repository import OutgoingMail


@dataclass(frozen=True, slots=True)
class Letterhead:
    """What an installation puts on every message: its sender and the web console's public address,
    from the settings, handed in by the composition root."""

    sender: str
    public_url: str


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


def message_id(key: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ideaflow.invalid"
    return f"<{key}@{domain}>"


def ascii_domain(address: str) -> str:
    """The address with its domain in IDNA form (`æblegård.dk` as `xn--blegrd-...`): a non-ASCII
    domain then needs no SMTPUTF8. A non-ASCII local part (`søren@`) still does; it is kept."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def build_message(mail: OutgoingMail, letterhead: Letterhead) -> EmailMessage:
    is_digest = mail.kind == "digest"
    # A one-time link's token is kept beside the row, not in its payload (see OutboxRepository.add_to_address).
    payload = {**mail.payload, "secret": mail.secret} if mail.secret else mail.payload
    rendered = render(mail.kind, mail.lang, payload, mail.recipient_name, mail.recipient_email,
                      letterhead.public_url, mail.unsubscribe_token if is_digest else None)
    recipient = ascii_domain(mail.recipient_email)
    # RFC 6532: an address with æ/ø/å in its local part goes as UTF-8 in the header; it can travel
    # only to a server that offers SMTPUTF8 (smtplib asks for it; one without it refuses for good).
    # Every other message keeps 7-bit headers, readable by any server.
    international = not (recipient.isascii() and parseaddr(letterhead.sender)[1].isascii())
    message = EmailMessage(policy=email.policy.SMTPUTF8 if international else email.policy.default)
    message["Subject"] = rendered.subject if rendered.subject.isascii() else _Subject(rendered.subject)
    message["From"] = letterhead.sender
    username, _, domain = recipient.rpartition("@")
    name = known_name(mail.recipient_name, mail.recipient_email) or ""
    message["To"] = Address(display_name=name, username=username, domain=domain)
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = message_id(mail.message_key, letterhead.sender)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office or read receipts back
    if is_digest and mail.unsubscribe_token:
        # RFC 2369 and RFC 8058: mail clients offer "unsubscribe", and may POST to it in one click.
        unsubscribe = links.absolute(letterhead.public_url, links.unsubscribe(mail.unsubscribe_token))
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Ideaflow-Kind"] = mail.kind
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
