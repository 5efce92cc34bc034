"""One unit of work = one database transaction = one command.

On commit it writes what the loaded ideas recorded, hands their domain events to the subscribers
(which add outbox rows in this same transaction), and commits. A concurrent change to the same idea
surfaces as `Conflict` (a refused action), never as a crash; leaving the block without committing
rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from states.errors import Conflict
from states.events import Event
from storage.db import READ_ONLY
from storage.repository import (
    IdeaRepository,
    OutboxRepository,
    PersonRepository,
    PoolRepository,
    TimerRepository,
)
from storage.signin import SignInRepository

Subscriber = Callable[["UnitOfWork", Event, datetime], None]


class UnitOfWork:
    def __init__(self, engine: Engine, *, read_only: bool = False, subscriber: Subscriber | None = None) -> None:
        self.engine = engine
        self.read_only = read_only
        self.subscriber = subscriber

    def __enter__(self) -> UnitOfWork:
        self.connection = self.engine.connect()
        if self.read_only:
            self.connection.execution_options(**{READ_ONLY: True})
        self.session = Session(bind=self.connection, expire_on_commit=False, autoflush=False)
        self.people = PersonRepository(self.session)
        self.pools = PoolRepository(self.session)
        self.ideas = IdeaRepository(self.session, self.people, self.pools)
        self.timers = TimerRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.signin = SignInRepository(self.session)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.rollback()
        self.session.close()
        self.connection.close()

    def commit(self, now: datetime) -> None:
        try:
            self.ideas.persist_changes(now)
            self._publish(now)
            self.outbox.write_queued()
            self.session.commit()
        except StaleDataError:
            self.session.rollback()
            raise Conflict("conflict.concurrent") from None
        except IntegrityError as error:
            self.session.rollback()
            raise Conflict("conflict.stored_data", detail=str(error.orig).splitlines()[0]) from None
        except OperationalError as error:
            if "locked" not in str(error.orig) and "deadlock" not in str(error.orig):
                raise
            self.session.rollback()
            raise Conflict("conflict.busy") from None

    def _publish(self, now: datetime) -> None:
        for idea in list(self.ideas.seen.values()):
            pending, idea.events = idea.events, []
            for event in pending:
                if self.subscriber is not None:
                    self.subscriber(self, event, now)
            idea.forget_changes()
