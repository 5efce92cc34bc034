"""Who may do what.

Coordinators decide gates, ask reviewers, plan pilots, resume held ideas and evaluate; reviewers review; an idea's
own proposer withdraws it. Nobody else. Anyone registered may submit an idea.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from states.errors import NotAllowed
from states.vocabulary import Role

if TYPE_CHECKING:
    from states.model import Idea, Person


class Action(StrEnum):
    REVIEW = "review"
    DECIDE = "decide"
    ASSIGN = "ask reviewers for"
    PLAN_PILOT = "plan a pilot for"
    EVALUATE = "evaluate"
    RESUME = "resume"
    WITHDRAW = "withdraw"


ROLE_MAY: dict[Action, Role] = {
    Action.REVIEW: Role.REVIEWER,
    Action.DECIDE: Role.COORDINATOR,
    Action.ASSIGN: Role.COORDINATOR,
    Action.PLAN_PILOT: Role.COORDINATOR,
    Action.EVALUATE: Role.COORDINATOR,
    Action.RESUME: Role.COORDINATOR,
}


def may(person: Person, action: Action, idea: Idea) -> bool:
    if action == Action.WITHDRAW:
        return person.email == idea.proposer.email
    return person.role == ROLE_MAY[action]


def require(person: Person, action: Action, idea: Idea) -> None:
    if not may(person, action, idea):
        who = "the idea's proposer" if action == Action.WITHDRAW else f"a {ROLE_MAY[action]}"
        raise NotAllowed(f"{person.email} ({person.role}) may not {action} idea {idea.id}: only {who} may")
