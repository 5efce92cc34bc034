"""Build the RFC 5322 message for an outbox row.

The Message-ID and the Date come from the row, and the MIME boundary is fixed, so
a message retried after a crash is byte-for-byte the same message and mail clients (and tests)
recognise the repeat. The Message-ID's left part is a random key drawn when the row was written: row
ids repeat from one installation to the next, and archives that de-duplicate by Message-ID would
hide real mail.

Nearly every message has 7-bit headers (RFC 2047 encoded words for names and subjects with æ/ø/å) and
is built with the standard library's older `compat32` classes, whose headers are plain strings: the
`email.policy.default` classes parse every header they are given into objects and fold them again on
output, which cost ~5 ms of a ~6 ms message and made building the confirmation mail a fifth of the
public form's POST. A message that needs UTF-8 in its headers (RFC 6532: an address with æ/ø/å before
the @) is built with `email.policy.SMTPUTF8`, which alone knows how to write it.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr
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


class _Policy(Compat32):
    """compat32, writing a one-line ASCII header as it is when it is short or has no space to fold at (a
    link: compat32 would break the line before it, and parsers then read a leading space); compat32 runs
    every header through `email.header.Header` to fold it, which leaves a short line unchanged anyway.
    Any other header is folded by compat32."""

    @staticmethod
    def _as_is(name: str, value: object) -> bool:
        if not (isinstance(value, str) and value.isascii()) or "\n" in value or "\r" in value:
            return False
        length = len(name) + len(value) + 2
        return length <= 78 or (" " not in value and length <= 998)

    def fold(self, name: str, value: object) -> str:
        return f"{name}: {value}{self.linesep}" if self._as_is(name, value) else super().fold(name, value)

    def fold_binary(self, name: str, value: object) -> bytes:
        if self._as_is(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _Policy()
#: Both parts as UTF-8 in quoted-printable: 7-bit, lines within 76 characters, and no "=_" in them, so a boundary
#: that starts with "=_" can never occur in them (RFC 2045 suggests it for exactly this) and need not be random.
#: Short, so the Content-Type line needs no folding.
BOUNDARY = "=_ideaflow"
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = BASE64
_UTF8.body_encoding = QP


def build_message(mail: OutgoingMail, letterhead: Letterhead) -> Message:
    is_digest = mail.kind == "digest"
    # A one-time link's token is kept beside the row, not in its payload (see OutboxRepository.add_to_address).
    payload = {**mail.payload, "secret": mail.secret} if mail.secret else mail.payload
    rendered = render(mail.kind, mail.lang, payload, mail.recipient_name, mail.recipient_email,
                      letterhead.public_url, mail.unsubscribe_token if is_digest else None)
    recipient = ascii_domain(mail.recipient_email)
    name = known_name(mail.recipient_name, mail.recipient_email) or ""
    headers = {
        "Date": format_datetime(mail.created_at),
        "Message-ID": message_id(mail.message_key, letterhead.sender),
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",  # Exchange: no out-of-office or read receipts back
    }
    if is_digest and mail.unsubscribe_token:
        # RFC 2369 and RFC 8058: mail clients offer "unsubscribe", and may POST to it in one click.
        unsubscribe = links.absolute(letterhead.public_url, links.unsubscribe(mail.unsubscribe_token))
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["X-Ideaflow-Kind"] = mail.kind
    # RFC 6532: an address with æ/ø/å in its local part goes as UTF-8 in the header; it can travel
    # only to a server that offers SMTPUTF8 (smtplib asks for it; one without it refuses for good).
    # Every other message keeps 7-bit headers, readable by any server.
    if not (recipient.isascii() and parseaddr(letterhead.sender)[1].isascii()):
        return _international(rendered, letterhead.sender, recipient, name, headers)
    message = MIMEMultipart("alternative", boundary=BOUNDARY, policy=_POLICY)
    message["Subject"] = rendered.subject if rendered.subject.isascii() else Header(
        rendered.subject, "utf-8", header_name="Subject")  # every space kept inside an encoded word (see _Subject)
    message["From"] = letterhead.sender if letterhead.sender.isascii() else _address(*parseaddr(letterhead.sender))
    message["To"] = _address(name, recipient)
    for header, value in headers.items():
        message[header] = value
    message.attach(MIMEText(rendered.text, "plain", _UTF8, policy=_POLICY))
    message.attach(MIMEText(rendered.html, "html", _UTF8, policy=_POLICY))
    return message


def _address(name: str, address: str) -> str:
    """`Name <address>` with 7-bit characters only: a name with æ/ø/å as encoded words (RFC 2047) short
    enough that the first fits on the header's line, one with specials quoted."""
    if name.isascii():
        return formataddr((name, address))
    words = Header(name, _UTF8).encode(maxlinelen=70).split()  # encoded words hold no spaces: split at the folds
    return f"{' '.join(words)} <{address}>"


def _international(rendered, sender: str, recipient: str, name: str, headers: dict[str, str]) -> EmailMessage:
    """A message with UTF-8 in its headers (RFC 6532), by `email.policy.SMTPUTF8`."""
    message = EmailMessage(policy=email.policy.SMTPUTF8)
    message["Subject"] = rendered.subject if rendered.subject.isascii() else _Subject(rendered.subject)
    message["From"] = sender
    username, _, domain = recipient.rpartition("@")
    message["To"] = Address(display_name=name, username=username, domain=domain)
    for header, value in headers.items():
        message[header] = value
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
