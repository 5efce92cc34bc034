"""Who may do what, on which pool, and what a person can do on an idea right now.

Roles belong to a pool: a coordinator of pool A decides A's ideas and nothing of pool B, and the same
person may review B. Nobody judges or steers an idea they proposed or declared a conflict of interest
on (`JUDGING`): they neither review, decide, evaluate, ask reviewers for it, plan its pilot nor resume
it, whatever roles they hold. Nor does its proposer read its reviews (`sight`). An idea's own proposer
withdraws it, and revises it while it is sent back for revision. Administrators create pools and people
and grant roles; they decide nothing by being administrators. The command line's operator may do what an
administrator may, and plan pilots (the contract lets `ideaflow pilot` go without `--by`).

`available_actions` is the one answer to "which buttons does this person get": it combines these
rules with the lifecycle (stage, open gate) and the gates' guards, so no entry point re-derives them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from states.errors import InvalidTransition, NotAllowed
from states.vocabulary import FINAL_STAGES, OPEN_STAGES, Decision, Gate, Role, Stage

if TYPE_CHECKING:
    from states.model import Idea, Person, Pool


class Action(StrEnum):
    REVIEW = "review"
    GO = "go"
    KILL = "kill"
    HOLD = "hold"
    RECYCLE = "recycle"
    ASSIGN = "assign"
    PLAN_PILOT = "plan_pilot"
    EVALUATE = "evaluate"
    RESUME = "resume"
    WITHDRAW = "withdraw"
    REVISE = "revise"
    DECLARE_CONFLICT = "declare_conflict"

    @classmethod
    def deciding(cls, decision: Decision) -> Action:
        return cls(decision.value)


DECISIONS = (Action.GO, Action.KILL, Action.HOLD, Action.RECYCLE)
#: Actions that judge or steer the idea (who reviews it, its pilot, whether a held idea goes on): its
#: proposer and anyone with a declared conflict are kept out, whatever roles they hold.
JUDGING = (Action.REVIEW, *DECISIONS, Action.ASSIGN, Action.PLAN_PILOT, Action.EVALUATE, Action.RESUME)
#: Actions that are the idea's proposer's own, whatever roles they hold.
PROPOSERS = (Action.WITHDRAW, Action.REVISE)
#: The role each action needs on the idea's pool (the proposer's own actions need none).
ROLE_FOR: dict[Action, Role] = {
    Action.REVIEW: Role.REVIEWER,
    **dict.fromkeys(DECISIONS, Role.COORDINATOR),
    Action.ASSIGN: Role.COORDINATOR,
    Action.PLAN_PILOT: Role.COORDINATOR,
    Action.EVALUATE: Role.COORDINATOR,
    Action.RESUME: Role.COORDINATOR,
}


def coordinates(person: Person, pool: Pool) -> bool:
    return person.holds(Role.COORDINATOR, pool)


def is_staff_of(person: Person, pool: Pool) -> bool:
    return person.holds(Role.COORDINATOR, pool) or person.holds(Role.REVIEWER, pool)


def may_administer(person: Person) -> bool:
    return person.holds(Role.ADMINISTRATOR) or person.holds(Role.OPERATOR)


def require_administrator(person: Person, task: str) -> None:
    """Refuse unless `person` administers; `task` names what they tried (a `task` term of states.messages)."""
    if not may_administer(person):
        raise NotAllowed("not_allowed.administrator", person=person.email, task=task)


def is_last_administrator(person: Person, revoked: Role, administrators: int) -> bool:
    """Whether revoking `revoked` would take the administrator role from the last person who holds it
    (`administrators` counts them now): nobody could then give roles in the console, and only the
    operator's command line could mend it. Another administrator must be named first."""
    return revoked == Role.ADMINISTRATOR and person.holds(Role.ADMINISTRATOR) and administrators <= 1


def require_an_administrator_left(person: Person, revoked: Role, administrators: int) -> None:
    """Refuse what `is_last_administrator` describes."""
    if is_last_administrator(person, revoked, administrators):
        raise InvalidTransition("role.last_administrator", person=person.email)


def why_not(person: Person, action: Action, idea: Idea) -> str | None:
    """Why `person` may not take `action` on `idea` whatever its stage (a reason that completes the
    code `not_allowed.<reason>` of states.messages), or None if their role allows it."""
    if action in PROPOSERS:
        return None if person.email == idea.proposer.email else "proposer_only"
    if action in JUDGING:
        if person.email == idea.proposer.email:
            return "own_idea"
        if person.email in idea.conflicted:
            return "conflicted"
    if action == Action.DECLARE_CONFLICT:
        return None if is_staff_of(person, idea.pool) else "staff_only"
    if action == Action.PLAN_PILOT and person.holds(Role.OPERATOR):
        return None
    return None if person.holds(ROLE_FOR[action], idea.pool) else "role_needed"


def may(person: Person, action: Action, idea: Idea) -> bool:
    return why_not(person, action, idea) is None


def require(person: Person, action: Action, idea: Idea) -> None:
    reason = why_not(person, action, idea)
    if reason is not None:
        raise NotAllowed(f"not_allowed.{reason}", person=person.email, action=action, idea=idea.id,
                         pool=idea.pool.name, role=ROLE_FOR.get(action))


def stage_allows(action: Action, idea: Idea) -> bool:
    """Whether the idea's stage, open gate and the gates' guards let `action` happen now."""
    gate = idea.open_gate
    review_gate_open = gate in (Gate.SCREENING, Gate.FUNDING)
    match action:
        case Action.REVIEW | Action.ASSIGN | Action.RECYCLE:
            return review_gate_open
        case Action.GO:
            return review_gate_open and idea.go_blocked_by() is None
        case Action.KILL | Action.WITHDRAW:
            return idea.stage not in FINAL_STAGES
        case Action.HOLD:
            return idea.stage in OPEN_STAGES
        case Action.RESUME:
            return idea.stage == Stage.ON_HOLD
        case Action.PLAN_PILOT:  # before it starts, while it runs, or once it ended until it is evaluated
            return idea.stage in (Stage.FUNDED, Stage.PILOTING) and idea.evaluation is None
        case Action.EVALUATE:
            return gate == Gate.EVALUATION
        case Action.DECLARE_CONFLICT:
            return idea.stage not in FINAL_STAGES
        case Action.REVISE:
            return idea.sent_back
    raise ValueError(action)


class Sight(StrEnum):
    """How much of an idea a person may see (the read models shape what they return by it)."""

    NONE = "none"  # not even that it exists: a page answers 404
    PROPOSER = "proposer"  # their own idea (whatever roles they hold): stage, decisions and reasons, the pilot;
    # no reviewers, scores or internal notes
    FOLLOWER = "follower"  # a pilot they follow: its plan, status and history; nothing personal about the proposer
    STAFF = "staff"  # the pool's coordinators and reviewers, administrators: everything the blind rule allows


def sight(person: Person, idea: Idea) -> Sight:
    """What `person` may see of `idea`. Checked on every request, so typing another pool's idea's
    address shows nothing: staff of the idea's pool and administrators see it whole, a follower its
    pilot, the proposer their own idea; anybody else nothing. The proposer sees their own idea as its
    proposer even when they are staff of its pool or an administrator: who reviewed it, the scores and
    the comments are not for the one whose idea they judge (nor do they judge it: `JUDGING`)."""
    own = person.email == idea.proposer.email
    if not own and (is_staff_of(person, idea.pool) or may_administer(person)):
        return Sight.STAFF
    if idea.pilot is not None and any(f.email == person.email for f in idea.pilot.followers):
        return Sight.FOLLOWER
    if own:
        return Sight.PROPOSER
    return Sight.NONE


def require_sight(person: Person, idea: Idea, at_least: Sight) -> None:
    """Refuse unless `person` sees `idea` at least as `at_least` grants (STAFF > FOLLOWER > PROPOSER)."""
    order = (Sight.NONE, Sight.PROPOSER, Sight.FOLLOWER, Sight.STAFF)
    seen = sight(person, idea)
    if order.index(seen) >= order.index(at_least):
        return
    if seen == Sight.NONE:
        raise NotAllowed("not_allowed.sight", person=person.email, idea=idea.id, pool=idea.pool.name)
    # A follower or the proposer is told where they do see the idea, not that they see nothing.
    raise NotAllowed(f"not_allowed.sight_{seen}", person=person.email, idea=idea.id, pool=idea.pool.name)


def available_actions(person: Person, idea: Idea) -> list[Action]:
    """What `person` can do on `idea` now: allowed by their role on its pool and possible in its state."""
    return [action for action in Action
            if may(person, action, idea) and stage_allows(action, idea)
            and not (action == Action.DECLARE_CONFLICT and person.email in idea.conflicted)]
