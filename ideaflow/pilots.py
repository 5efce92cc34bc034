"""A follow-up group's view of its pilots: what a follower may see, and nothing else.

    pilots = container.pilots
    pilots.followed("byraad@roskilde.dk")          # the pilots whose plan lists this person as follower
    pilots.pilot(idea_id, "byraad@roskilde.dk", now) # one of them, or NotFound

A follower (`states.rules.sight` FOLLOWER) sees a pilot's plan (sites, dates, measures), its status
and its history, and nothing personal about the proposer: no name, no address, and no history row's
actor or free text (a coordinator's reason may name people). The shape is decided here, so a page
cannot show more than this read model holds. Another pilot's address, or an idea without a pilot,
is answered as unknown, and the attempt is recorded in the refusals audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ideaflow.audit import record_refusal
from ideaflow.follower_words import BEGUN, HALTING, Halt, halt, status_key
from states.errors import NotAllowed, NotFound
from states.model import Idea
from states.rules import Sight, sight
from states.vocabulary import Stage
from storage.tables import HistoryRow, IdeaRow, PilotFollowerRow, PilotRow
from storage.unit_of_work import UnitOfWork

#: The history a follower sees: the idea's path through the lifecycle and its pilot. Reviews, reviewers
#: asked, conflicts, escalations and erasures are the staff's business.
FOLLOWER_HISTORY = ("submit", "go", "kill", "hold", "resume", "recycle", "withdraw", "lapse", "plan_pilot",
                    "replan_pilot", "start_pilot", "open_evaluation", "close_evaluation", "evaluate")


class PilotLine(BaseModel):
    id: int
    title: str
    pool: str
    stage: str
    #: how the follower's words name where it is (`ideaflow.follower_words.status_key`)
    status: str
    start: date
    end: date
    #: stopped, cancelled or put on hold, and when (`ideaflow.follower_words.halt`); None while it may run
    halt: Halt | None = None
    sites: list[str]


class PilotHistoryLine(BaseModel):
    """What happened and when; not who, nor the reasons typed."""

    at: datetime
    action: str
    from_: str | None
    to: str


class PilotPage(BaseModel):
    id: int
    title: str
    description: str
    pool: str
    stage: str
    status: str
    start: date
    end: date
    halt: Halt | None = None
    sites: list[str]
    measures: list[str]
    evaluation_open: bool
    outcome: str | None
    history: list[PilotHistoryLine]


class Pilots:
    """The follower's read models, bound to one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def followed(self, email: str) -> list[PilotLine]:
        """The pilots whose plan lists `email` as a follower, soonest start first."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            person = uow.people.get(email)
            ids = list(uow.session.scalars(
                select(PilotRow.idea_id).join(PilotFollowerRow, PilotFollowerRow.pilot_id == PilotRow.id)
                .where(PilotFollowerRow.person_id == person.id).order_by(PilotRow.start_date, PilotRow.idea_id)))
            halted = halts(uow.session, ids)
            return [_line(idea, halted.get(idea.id)) for idea in uow.ideas.load(ids).values()]

    def pilot(self, idea_id: int, email: str, now: datetime) -> PilotPage:
        """One pilot `email` follows (or sees as staff of its pool); NotFound, recorded as a refusal,
        for any other idea, so that typing another pilot's address tells nothing."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            person, idea = uow.people.get(email), uow.ideas.get(idea_id)
            allowed = idea.pilot is not None and sight(person, idea) in (Sight.FOLLOWER, Sight.STAFF)
            history = [PilotHistoryLine(at=h.at, action=h.action, from_=h.from_stage, to=h.to_stage)
                       for h in uow.ideas.history(idea_id) if h.action in FOLLOWER_HISTORY] if allowed else []
            halted = halt(idea.stage, ((h.action, h.at) for h in history))
        if not allowed:
            refusal = NotAllowed("not_allowed.sight", person=email, idea=idea_id, pool=idea.pool.name)
            record_refusal(self.engine, email, "pilot", idea_id, refusal, now)
            raise NotFound("idea.unknown", field="idea", idea=idea_id)
        pilot = idea.pilot
        return PilotPage(
            id=idea.id, title=idea.title, description=idea.description, pool=idea.pool.name, stage=idea.stage,
            status=status_key(idea.stage, idea.evaluation_open), start=pilot.start, end=pilot.end, halt=halted,
            sites=list(pilot.sites), measures=list(pilot.measures), evaluation_open=idea.evaluation_open,
            outcome=idea.evaluation.outcome if idea.evaluation else None, history=history,
        )


def halts(session: Session, idea_ids: Iterable[int]) -> dict[int, Halt]:
    """How each of these ideas' pilots was stopped or put on hold (`ideaflow.follower_words.halt`), for those
    that were: what the follower's list, page and digest say instead of the dates it will not run."""
    histories: dict[int, tuple[str, list[tuple[str, datetime]]]] = {}
    for idea_id, stage, action, at in session.execute(
        select(HistoryRow.idea_id, IdeaRow.stage, HistoryRow.action, HistoryRow.at)
        .join(IdeaRow, HistoryRow.idea_id == IdeaRow.id)
        .where(HistoryRow.idea_id.in_(list(idea_ids)), HistoryRow.action.in_((BEGUN, *HALTING)),
               IdeaRow.stage.in_((Stage.REJECTED, Stage.WITHDRAWN, Stage.ON_HOLD)))
        .order_by(HistoryRow.id)
    ):
        histories.setdefault(idea_id, (stage, []))[1].append((action, at))
    return {idea_id: halted for idea_id, (stage, rows) in histories.items() if (halted := halt(stage, rows))}


def _line(idea: Idea, halted: Halt | None) -> PilotLine:
    return PilotLine(id=idea.id, title=idea.title, pool=idea.pool.name, stage=idea.stage,
                     status=status_key(idea.stage, idea.evaluation_open), start=idea.pilot.start,
                     end=idea.pilot.end, halt=halted, sites=list(idea.pilot.sites))
