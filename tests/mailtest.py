"""Helpers shared by the notification tests: the recording SMTP server, the cast, small utilities."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import socket
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from aiosmtpd.controller import Controller

from ideaflow.services import Services
from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Language, Role

IDEAFLOW = Path(sys.executable).with_name("ideaflow")
MAIL_FROM = "Innovation <ideaflow@kommune.dk>"
PUBLIC_URL = "https://innovation.kommune.dk/ideaflow/"  # with a path: links keep it (a reverse proxy's prefix)
ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Received(NamedTuple):
    rcpt: tuple[str, ...]
    message: email.message.EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


class RecordingHandler:
    """Accepts mail and remembers it; `mode` and `refused` make it misbehave on demand."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self.refused: dict[str, str] = {}  # address -> reply at RCPT, e.g. "550 5.1.1 no such user"
        self.mode = "accept"  # accept | tempfail | disconnect | stall
        self.fail_after = 0  # misbehave only once this many messages were accepted in `mode`
        self.stall_s = 2.0
        self.data_delay_s = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts[address] += 1
        if address in self.refused:
            return self.refused[address]
        if self.mode == "tempfail":
            return "451 4.3.0 mail system temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode in ("disconnect", "stall") and len(self.received) >= self.fail_after:
            if self.mode == "disconnect":
                server.transport.close()  # the connection drops before the message is accepted
                return "421 4.4.2 gone"
            await asyncio.sleep(self.stall_s)  # the client gives up first (and its leaving cancels us)
            if server.transport is None or server.transport.is_closing():
                return "421 4.4.2 too late"
        if self.data_delay_s:
            await asyncio.sleep(self.data_delay_s)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(tuple(envelope.rcpt_tos), message))
        return "250 2.0.0 queued"

    # -- what the tests read ----------------------------------------------------------------------

    def ids(self) -> Counter[str]:
        return Counter(r.message_id for r in self.received)

    def take(self) -> list[Received]:
        """The messages received since the last call."""
        start = getattr(self, "_taken", 0)
        self._taken = len(self.received)
        return self.received[start:]


class SmtpServer:
    """`smtputf8`: whether the server offers SMTPUTF8 (RFC 6531), which aiosmtpd does not by default."""

    def __init__(self, smtputf8: bool = False) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.smtputf8 = smtputf8
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=self.smtputf8)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# -- the people ----------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, Copenhagen winter time


class Cast:
    """A pool and its people: two of each role, one of each pair speaking English."""

    pool = "Innovationspuljen"
    coordinator = "koordinator@kommune.dk"
    coordinator_en = "chief@kommune.dk"
    reviewer = "bedoemmer@kommune.dk"
    reviewer_en = "reviewer@kommune.dk"
    proposer = "borger@example.dk"
    proposer_en = "citizen@example.com"
    follower = "byraad@kommune.dk"
    follower_en = "council@kommune.dk"
    other_follower = "anden.foelger@kommune.dk"

    PEOPLE = [
        (coordinator, "Karin Koordinator", Role.COORDINATOR, Language.DA),
        (coordinator_en, "Ingrid Chief", Role.COORDINATOR, Language.EN),
        (reviewer, "Bent Bedømmer", Role.REVIEWER, Language.DA),
        (reviewer_en, "Rita Reviewer", Role.REVIEWER, Language.EN),
        (proposer, "Birgit Borger", Role.PROPOSER, Language.DA),
        (proposer_en, "Carl Citizen", Role.PROPOSER, Language.EN),
        (follower, "Frede Følger", Role.FOLLOWER, Language.DA),
        (follower_en, "Fiona Follower", Role.FOLLOWER, Language.EN),
        (other_follower, "Ole Anden", Role.FOLLOWER, Language.DA),
    ]
    LANG = {e: lang.value for e, _, _, lang in PEOPLE}
    COORDINATORS = {coordinator, coordinator_en}
    REVIEWERS = {reviewer, reviewer_en}

    def __init__(self, services: Services, now: datetime = T0, people=None) -> None:
        self.services = services
        services.create_pool(self.pool, 5_000_000, now.year, now)
        for address, name, role, lang in people or self.PEOPLE:
            services.add_person(address, name, role, now, lang)

    def submit(self, title: str, proposer: str, now: datetime, requested_dkk: int = 100_000) -> int:
        return self.services.submit(title=title, description="En god idé.", proposer=proposer, pool=self.pool,
                                    now=now, requested_dkk=requested_dkk)


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def cli_env(db_url: str, home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    env.update(IDEAFLOW_DATABASE_URL=db_url, IDEAFLOW_MAIL_FROM=MAIL_FROM, HOME=str(home),
               PYTHONDONTWRITEBYTECODE="1")
    env.update({f"IDEAFLOW_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def smtp_env(smtp: SmtpServer, **extra) -> dict[str, str]:
    return {"smtp_host": "127.0.0.1", "smtp_port": str(smtp.port), **extra}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def parts(message) -> tuple[str, str]:
    """(text/plain, text/html) of a multipart/alternative message; fails if it is anything else."""
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    plain, html = list(message.iter_parts())
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    return plain.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")
