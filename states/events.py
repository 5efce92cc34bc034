"""Domain events: facts the lifecycle announces and notifications subscribe to.

They are recorded on the idea during a command and handled before the command's transaction commits,
so an email row is written together with the change that caused it, or not at all.

An event that a person caused names them as `by` (the actor): the mail it causes goes to everyone
concerned but them, since they just saw it happen, except mail meant for them (a receipt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from states.vocabulary import Decision, Gate, Outcome

if TYPE_CHECKING:
    from states.model import Idea, Person, PilotPlan


@dataclass(frozen=True, slots=True)
class IdeaSubmitted:
    idea: Idea
    by: Person  # its proposer


@dataclass(frozen=True, slots=True)
class GateOpened:
    idea: Idea
    gate: Gate
    deadline: datetime


@dataclass(frozen=True, slots=True)
class ReviewRoundEnded:
    """The open screening or funding gate's round is over: decided, sent back, put on hold, withdrawn or
    lapsed; or the evaluation gate closed again, its pilot extended (`Idea.plan_pilot`). What was queued
    to ask for its reviews, or to remind of its deadline, asks for nothing now."""

    idea: Idea
    gate: Gate


@dataclass(frozen=True, slots=True)
class ReviewersAssigned:
    idea: Idea
    gate: Gate
    deadline: datetime
    reviewers: tuple[Person, ...]
    by: Person


@dataclass(frozen=True, slots=True)
class GateDecided:
    idea: Idea
    gate: Gate | None
    decision: Decision
    by: Person
    reason: str


@dataclass(frozen=True, slots=True)
class IdeaRevised:
    """The proposer revised an idea that was sent back to them; `changed` names the fields (`Idea.revise`)."""

    idea: Idea
    by: Person
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeadlineApproaching:
    idea: Idea
    gate: Gate
    deadline: datetime


@dataclass(frozen=True, slots=True)
class DeadlinePassed:
    idea: Idea
    gate: Gate
    deadline: datetime
    lapsed: bool


@dataclass(frozen=True, slots=True)
class PilotPlanned:
    """The pilot was planned (`earlier` None) or re-planned (`earlier` the plan it replaced): its plan is now
    `idea.pilot`. A re-plan that changes nothing is no event. `extended`: its end had passed and its evaluation
    gate was open; the re-plan gave it a later last day and closed the gate until then."""

    idea: Idea
    by: Person
    earlier: PilotPlan | None
    extended: bool = False


@dataclass(frozen=True, slots=True)
class PilotStarted:
    idea: Idea


@dataclass(frozen=True, slots=True)
class PilotEnded:
    idea: Idea


@dataclass(frozen=True, slots=True)
class EvaluationRecorded:
    idea: Idea
    outcome: Outcome
    by: Person


@dataclass(frozen=True, slots=True)
class IdeaWithdrawn:
    """The proposer (`by`) withdrew the idea; `reason` is what they said, empty if nothing."""

    idea: Idea
    by: Person
    reason: str


@dataclass(frozen=True, slots=True)
class IdeaResumed:
    """An idea on hold went back to the stage it left."""

    idea: Idea
    by: Person


Event = (
    IdeaSubmitted | GateOpened | ReviewRoundEnded | ReviewersAssigned | GateDecided | IdeaRevised
    | DeadlineApproaching | DeadlinePassed | PilotPlanned | PilotStarted | PilotEnded | EvaluationRecorded
    | IdeaWithdrawn | IdeaResumed
)
