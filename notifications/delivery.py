"""Ways to hand a message to the world: an SMTP server, or `.eml` files in a folder.

Each transport raises `TemporaryFailure` (try again later: server down, timeout, 4xx) or
`PermanentFailure` (5xx: the address or message is refused for good). A temporary failure that lost
the connection says so, so the caller stops hammering a server that is gone.
"""

from __future__ import annotations

import os
import smtplib
import tempfile
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from ideaflow.config import Settings


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


class SmtpTransport:
    """One connection per flush, opened on the first message and reopened after it is lost."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            connection = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
            if s.smtp_starttls:
                connection.starttls()
            if s.smtp_user:
                connection.login(s.smtp_user, s.smtp_password.get_secret_value() if s.smtp_password else "")
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"cannot connect to {s.smtp_host}:{s.smtp_port}: {error}", True) from error
        return connection

    def send(self, message: EmailMessage, recipient: str) -> None:
        if self.connection is None:
            self.connection = self._connect()
        sender = parseaddr(self.settings.mail_from)[1]
        try:
            self.connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reason = next(iter(error.recipients.values()))
            self._fail(code, f"{recipient} refused: {code} {reason.decode(errors='replace')}")
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            self._fail(error.smtp_code, f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}")
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError, smtplib.SMTPException) as error:
            self.close()
            raise TemporaryFailure(f"connection to {self.settings.smtp_host} lost: {error}", True) from error

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


def transport_for(settings: Settings) -> Transport:
    return SmtpTransport(settings) if settings.smtp_host else FolderTransport(settings.mail_dir)
