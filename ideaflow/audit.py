"""Refused attempts are audited: who tried what, on which idea, when, and why they were refused.

The record is written in a transaction of its own, because the refused command's transaction rolls
back (or, for a page that only reads, never writes); then the refusal goes on to the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine

from states.errors import NotAllowed, Refused
from storage.unit_of_work import UnitOfWork


def record_refusal(engine: Engine, email: str, command: str, idea_id: int | None, refusal: Refused,
                   now: datetime) -> None:
    with UnitOfWork(engine) as uow:
        uow.people.record_refusal(uow.people.get(email), command, idea_id, str(refusal), now)
        uow.commit(now)


@contextmanager
def refusals_recorded(engine: Engine, command: str, email: str, idea_id: int | None, now: datetime) -> Iterator[None]:
    """Let a refusal of who-may-do-what raised in the block propagate, once recorded."""
    try:
        yield
    except NotAllowed as refusal:
        record_refusal(engine, email, command, idea_id, refusal, now)
        raise
