"""Ways to hand a message to the world: an SMTP server, or `.eml` files in a folder.

Each transport raises `TemporaryFailure` (try again later: timeout, 4xx) or `PermanentFailure` (5xx:
the address or message is refused for good). A temporary failure that lost the connection says so,
so the caller stops hammering a server that is gone. `Unavailable`, a temporary failure too, is one
of the server or the settings before any message was handed over (nothing listens, the login or
STARTTLS is refused, the folder cannot be written): no message was tried, so none loses an attempt.
"""

from __future__ import annotations

import os
import smtplib
import tempfile
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from states.errors import BadInput


class DeliveryFailure(Exception):
    pass


class TemporaryFailure(DeliveryFailure):
    def __init__(self, reason: str, connection_lost: bool = False) -> None:
        super().__init__(reason)
        self.connection_lost = connection_lost


class Unavailable(TemporaryFailure):
    """The server or the settings failed before the message was handed over (connection refused or
    timed out, STARTTLS or the login refused, the mail folder not writable): the message was not tried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, connection_lost=True)


class PermanentFailure(DeliveryFailure):
    pass


class Transport(Protocol):
    def send(self, message: Message, recipient: str) -> None: ...

    def close(self) -> None: ...


class FolderTransport:
    """One `.eml` file per message, named by its Message-ID's random key, written atomically (temp file + rename)."""

    def __init__(self, folder: Path, why: str = "") -> None:
        self.folder = folder
        self.why = why  # why mail goes into a folder (the composition root's words), for reports
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: Message, recipient: str) -> None:
        name = message["Message-ID"].strip("<>").partition("@")[0] + ".eml"
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(message.as_bytes())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.folder / name)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise Unavailable(f"cannot write {self.folder / name}: {error.strerror}") from error

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SmtpConfig:
    """What the SMTP transport needs to know, and nothing else: the composition root builds it from
    the settings, so delivery does not depend on how ideaflow is configured."""

    host: str
    mail_from: str  # its address is the envelope sender
    port: int = 25
    user: str | None = None
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout_s: float = 30.0


# Domains that never receive mail from the Internet (RFC 6761, RFC 2606, mDNS): a sender there
# makes every reply bounce and many servers reject the mail outright.
_LOCAL_DOMAINS = ("localhost", "localdomain", "invalid", "local", "test", "example")


def refuse_local_sender(sender: str) -> None:
    """Refuse, in one line, a sender no recipient's server would accept, before any mail goes out."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2].lower().rstrip(".")
    if not domain or "." not in domain or domain.rpartition(".")[2] in _LOCAL_DOMAINS:
        raise BadInput(f"the sender {address or sender!r} is not an address on the Internet; set IDEAFLOW_MAIL_FROM "
                       "to an address at your municipality's domain before delivering by SMTP")


class SmtpTransport:
    """One connection per flush, opened on the first message and reopened after it is lost."""

    def __init__(self, config: SmtpConfig) -> None:
        refuse_local_sender(config.mail_from)
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        """Connect, STARTTLS and log in; a failure of any is the server's or the settings', no message's."""
        c = self.config
        try:
            connection = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
        except (OSError, smtplib.SMTPException) as error:
            raise Unavailable(f"cannot connect to {c.host}:{c.port}: {_reason(error)}") from error
        step = ""
        try:
            if c.starttls:
                step = "STARTTLS (IDEAFLOW_SMTP_STARTTLS)"
                connection.starttls()
            if c.user:
                step = f"the login as {c.user} (IDEAFLOW_SMTP_USER, IDEAFLOW_SMTP_PASSWORD)"
                connection.login(c.user, c.password)
        except (OSError, smtplib.SMTPException) as error:
            connection.close()
            raise Unavailable(f"{c.host}:{c.port} refused {step}: {_reason(error)}") from error
        return connection

    def send(self, message: Message, recipient: str) -> None:
        if self.connection is None:
            self.connection = self._connect()
        sender = parseaddr(self.config.mail_from)[1]
        try:
            self.connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reason = next(iter(error.recipients.values()))
            self._fail(code, f"{recipient} refused: {code} {reason.decode(errors='replace')}")
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            self._fail(error.smtp_code, f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}")
        except smtplib.SMTPNotSupportedError as error:
            # Raised before MAIL FROM, so the connection stays usable; no later attempt would differ.
            raise PermanentFailure(f"{recipient}: the server {self.config.host} does not offer SMTPUTF8, "
                                   "which an address with non-ASCII letters needs") from error
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError, smtplib.SMTPException) as error:
            self.close()
            raise TemporaryFailure(f"connection to {self.config.host} lost: {error}", True) from error

    @staticmethod
    def _fail(code: int, reason: str) -> None:
        raise (PermanentFailure(reason) if code >= 500 else TemporaryFailure(reason))

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None


def _reason(error: Exception) -> str:
    """An SMTP error's words: smtplib's exceptions carry the server's reply as (code, bytes)."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}"
    return str(error) or type(error).__name__
