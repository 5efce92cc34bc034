"""Ways to hand a message to the world: an SMTP server, or `.eml` files in a folder.

Each transport raises `TemporaryFailure` (try again later: server down, timeout, 4xx) or
`PermanentFailure` (5xx: the address or message is refused for good). A temporary failure that lost
the connection says so, so the caller stops hammering a server that is gone.
"""

from __future__ import annotations

import os
import smtplib
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol


class DeliveryFailure(Exception):
    pass


class TemporaryFailure(DeliveryFailure):
    def __init__(self, reason: str, connection_lost: bool = False) -> None:
        super().__init__(reason)
        self.connection_lost = connection_lost


class PermanentFailure(DeliveryFailure):
    pass


class Transport(Protocol):
    def send(self, message: EmailMessage, recipient: str) -> None: ...

    def close(self) -> None: ...


class FolderTransport:
    """One `.eml` file per message, named by its outbox id, written atomically (temp file + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: EmailMessage, recipient: str) -> None:
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
            raise TemporaryFailure(f"cannot write {self.folder / name}: {error.strerror}") from error

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


class SmtpTransport:
    """One connection per flush, opened on the first message and reopened after it is lost."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        try:
            connection = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
            if c.starttls:
                connection.starttls()
            if c.user:
                connection.login(c.user, c.password)
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"cannot connect to {c.host}:{c.port}: {error}", True) from error
        return connection

    def send(self, message: EmailMessage, recipient: str) -> None:
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
