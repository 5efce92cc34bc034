"""Turn domain events into outbox rows, inside the transaction of the change that caused them.

Who hears what: proposers about their own ideas, followers about their own pilots, the reviewers of
the idea's pool when a gate asks for their review (all who may review it when it opens, then the ones
a coordinator assigned, and reminders go to the assigned ones if any were), and the coordinators of
the idea's pool about everything that needs a decision. Roles on other pools count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from states import events
from states.model import Idea, Person
from states.rules import Action, may
from states.vocabulary import Gate, Role

if TYPE_CHECKING:
    from storage.unit_of_work import UnitOfWork


def _idea_payload(idea: Idea) -> dict:
    return {
        "idea_id": idea.id,
        "title": idea.title,
        "pool": idea.pool.name,
        "stage": idea.stage.value,
        "proposer": idea.proposer.name,
    }


def _unique(people: Iterable[Person]) -> list[Person]:
    return list({person.email: person for person in people}.values())


def _followers(idea: Idea) -> tuple[Person, ...]:
    return idea.pilot.followers if idea.pilot else ()


def _messages(uow: UnitOfWork, event: events.Event) -> list[tuple[str, list[Person], dict]]:
    idea = event.idea
    coordinators = uow.people.holding(Role.COORDINATOR, idea.pool)
    match event:
        case events.IdeaSubmitted():
            return [("idea_received", [idea.proposer], {}), ("idea_submitted", coordinators, {})]
        case events.GateOpened(gate=gate, deadline=deadline):
            asked = coordinators if gate == Gate.EVALUATION else _reviewers(uow, idea)
            criteria = [c.name for c in idea.pool.criteria]
            return [("review_requested", asked, {"gate": gate.value, "deadline": deadline.isoformat(),
                                                  "criteria": criteria})]
        case events.ReviewersAssigned(gate=gate, deadline=deadline, reviewers=reviewers, by=by):
            criteria = [c.name for c in idea.pool.criteria]
            return [("review_requested", list(reviewers), {"gate": gate.value, "deadline": deadline.isoformat(),
                                                           "criteria": criteria, "asked_by": by.name})]
        case events.GateDecided(gate=gate, decision=decision, by=by, reason=reason):
            extra = {"gate": gate.value if gate else None, "decision": decision.value, "by": by.name,
                     "reason": reason, "allocated_dkk": idea.allocated_dkk}
            return [("gate_decided", [idea.proposer, *coordinators], extra)]
        case events.DeadlineApproaching(gate=gate, deadline=deadline):
            if gate == Gate.EVALUATION:
                asked = coordinators
            else:
                reviewed = {review.reviewer.email for review in idea.counting_reviews}  # a draft is not done
                candidates = idea.assigned or _reviewers(uow, idea)
                asked = [p for p in candidates if p.email not in reviewed]
            return [("deadline_reminder", asked, {"gate": gate.value, "deadline": deadline.isoformat()})]
        case events.DeadlinePassed(gate=gate, deadline=deadline, lapsed=lapsed):
            extra = {"gate": gate.value, "deadline": deadline.isoformat(), "lapsed": lapsed}
            return [("deadline_escalated", coordinators + ([idea.proposer] if lapsed else []), extra)]
        case events.PilotStarted():
            return [("pilot_started", [idea.proposer, *_followers(idea)], _pilot_extra(idea))]
        case events.PilotEnded():
            return [("pilot_ended", [idea.proposer, *_followers(idea)], _pilot_extra(idea))]
        case events.EvaluationRecorded(outcome=outcome):
            return [("evaluation_recorded", [idea.proposer, *_followers(idea), *coordinators],
                     {"outcome": outcome.value, **_pilot_extra(idea)})]
    raise TypeError(f"no handler for {type(event).__name__}")


def _reviewers(uow: UnitOfWork, idea: Idea) -> list[Person]:
    """The pool's reviewers who may review this idea (not its proposer, nobody with a conflict)."""
    return [p for p in uow.people.holding(Role.REVIEWER, idea.pool) if may(p, Action.REVIEW, idea)]


def _pilot_extra(idea: Idea) -> dict:
    pilot = idea.pilot
    return {"start": pilot.start.isoformat(), "end": pilot.end.isoformat(), "sites": list(pilot.sites)}


def queue_mail(uow: UnitOfWork, event: events.Event, now: datetime) -> None:
    """The unit of work's subscriber: one outbox row per recipient and message kind."""
    for kind, recipients, extra in _messages(uow, event):
        payload = {**_idea_payload(event.idea), **extra}
        for person in _unique(recipients):
            uow.outbox.add(kind, person, event.idea, payload, now)
