"""Turn domain events into outbox rows, inside the transaction of the change that caused them.

Who hears what: proposers about their own ideas, followers about their own pilots (its plan when they join
its follow-up group and when it changes, its start and end, a hold, resume, stop or withdrawal, and its
evaluation; never a decision's reason, an amount or who the proposer is), the reviewers of
the idea's pool when a gate asks for their review (all who may review it when it opens, then the ones
a coordinator assigned, and reminders go to the assigned ones if any were; the same when the proposer
revises an idea sent back to them), and the coordinators of the idea's pool about everything that
needs a decision. Roles on other pools count for nothing.

The person who did something (the event's `by`: who decided, assigned, evaluated, resumed, withdrew,
revised or submitted) is not mailed about it: they just saw it happen. Only mail meant for them still
goes to them: the receipt of their idea or of its withdrawal (`FOR_THE_ACTOR`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from notifications import links
from notifications.render import display_name
from states import events
from states.model import Idea, Person, PilotPlan
from states.reviews import asked, done
from states.vocabulary import Decision, Gate, Role, Stage

if TYPE_CHECKING:
    from storage.unit_of_work import UnitOfWork


def _idea_payload(idea: Idea) -> dict:
    return {
        "idea_id": idea.id,
        "title": idea.title,
        "pool": idea.pool.name,
        "stage": idea.stage.value,
        "proposer": display_name(idea.proposer.name, idea.proposer.email),
    }


def _followers(idea: Idea) -> tuple[Person, ...]:
    return idea.pilot.followers if idea.pilot else ()


# One group of recipients: the message kind, who they are to this idea (which page their link opens:
# see notifications.links), the people, and what the message says beyond the idea itself.
Group = tuple[str, Role, list[Person], dict]


def _groups(uow: UnitOfWork, event: events.Event) -> list[Group]:
    """Of two groups of one kind, staff come first: someone who is both gets one mail, with the staff link."""
    idea = event.idea
    coordinators = uow.people.holding(Role.COORDINATOR, idea.pool)
    proposer = [idea.proposer]
    match event:
        case events.IdeaSubmitted():
            return [("idea_received", Role.PROPOSER, proposer, {}),
                    ("idea_submitted", Role.COORDINATOR, coordinators, {})]
        case events.GateOpened(gate=gate, deadline=deadline):
            extra = {"gate": gate.value, "round": idea.gate_round, "deadline": deadline.isoformat(),
                     "criteria": _criteria(idea)}
            if gate == Gate.EVALUATION:
                return [("review_requested", Role.COORDINATOR, coordinators, extra)]
            # A gate reopened by a resume keeps its round: who already reviewed in it is not asked again.
            return [("review_requested", Role.REVIEWER, _still_to_review(uow, idea), extra)]
        case events.ReviewersAssigned(gate=gate, deadline=deadline, reviewers=reviewers, by=by):
            extra = {"gate": gate.value, "round": idea.gate_round, "deadline": deadline.isoformat(),
                     "criteria": _criteria(idea), "asked_by": by.name}
            # Named after the round began, a reviewer may have been asked already (everyone is, while
            # nobody is named): one request per reviewer and round.
            already = uow.outbox.recipients("review_requested", idea.id, gate=gate.value, round_=idea.gate_round)
            return [("review_requested", Role.REVIEWER, [p for p in reviewers if p.id not in already], extra)]
        case events.GateDecided(gate=gate, decision=decision, by=by, reason=reason):
            extra = {"gate": gate.value if gate else None, "decision": decision.value, "by": by.name,
                     "reason": reason, "allocated_dkk": idea.allocated_dkk}
            return [("gate_decided", Role.COORDINATOR, coordinators, {**extra, **_released(idea)}),
                    ("gate_decided", Role.PROPOSER, proposer, extra),
                    *(_pilot_status(idea, decision.value) if decision in (Decision.HOLD, Decision.KILL) else [])]
        case events.IdeaRevised(changed=changed):
            extra = {"gate": idea.open_gate.value, "round": idea.gate_round, "deadline": idea.deadline.isoformat(),
                     "changed": list(changed)}
            # The reviewers this round asks (as reminders count them), told whether they may revise a
            # review they submitted; first, so a coordinator who also reviews gets the review form's link.
            waiting, finished = _asked_and_done(uow, idea)
            return [("idea_revised", Role.REVIEWER, [p for p in waiting if p.email in finished],
                     {**extra, "reviewed": True}),
                    ("idea_revised", Role.REVIEWER, [p for p in waiting if p.email not in finished],
                     {**extra, "reviewed": False}),
                    ("idea_revised", Role.COORDINATOR, coordinators, extra)]
        case events.DeadlineApproaching(gate=gate, deadline=deadline):
            extra = {"gate": gate.value, "deadline": deadline.isoformat()}
            if gate == Gate.EVALUATION:
                return [("deadline_reminder", Role.COORDINATOR, coordinators, extra)]
            return [("deadline_reminder", Role.REVIEWER, _still_to_review(uow, idea), extra)]
        case events.DeadlinePassed(gate=gate, deadline=deadline, lapsed=lapsed):
            extra = {"gate": gate.value, "deadline": deadline.isoformat(), "lapsed": lapsed}
            return [("deadline_escalated", Role.COORDINATOR, coordinators, extra),
                    *([("deadline_escalated", Role.PROPOSER, proposer, extra)] if lapsed else [])]
        case events.PilotPlanned(earlier=earlier, extended=extended):
            return _plan_news(idea, earlier, extended, proposer)
        case events.PilotStarted():
            return _pilot_news("pilot_started", idea, proposer, _pilot_extra(idea))
        case events.PilotEnded():
            return _pilot_news("pilot_ended", idea, proposer, _pilot_extra(idea))
        case events.EvaluationRecorded(outcome=outcome):
            extra = {"outcome": outcome.value, **_pilot_extra(idea)}
            return [("evaluation_recorded", Role.COORDINATOR, coordinators, extra),
                    *_pilot_news("evaluation_recorded", idea, proposer, extra)]
        case events.IdeaWithdrawn(reason=reason):
            extra = {"reason": reason}
            return [("withdrawal_received", Role.PROPOSER, proposer, extra),
                    ("idea_withdrawn", Role.COORDINATOR, coordinators, {**extra, **_released(idea)}),
                    *_pilot_status(idea, "withdraw")]
        case events.IdeaResumed(by=by):
            extra = {"by": by.name}
            return [("idea_resumed", Role.COORDINATOR, coordinators, extra),
                    ("idea_resumed", Role.PROPOSER, proposer, extra),
                    *_pilot_status(idea, "resume")]
    raise TypeError(f"no handler for {type(event).__name__}")


def _released(idea: Idea) -> dict:
    """For the coordinators' mail of a kill or withdrawal: the grant it gave back to the pool (`Idea._release_grant`:
    the idea ended before its pilot began), if any. Not for the proposer or the follow-up group."""
    return {"released_dkk": idea.new_release_dkk} if idea.new_release_dkk else {}


def _asked_and_done(uow: UnitOfWork, idea: Idea) -> tuple[list[Person], set[str]]:
    """Whom the open screening or funding gate asks (`states.reviews.asked`, as the inbox counts them), and
    the addresses of those among them whose review counts in this round (a draft is not done)."""
    waiting = asked(idea, uow.people.holding(Role.REVIEWER, idea.pool))
    return waiting, {p.email for p in done(idea, waiting)}


def _still_to_review(uow: UnitOfWork, idea: Idea) -> list[Person]:
    """The reviewers the round asks who have no review that counts in it yet."""
    waiting, finished = _asked_and_done(uow, idea)
    return [p for p in waiting if p.email not in finished]


def _pilot_news(kind: str, idea: Idea, proposer: list[Person], extra: dict) -> list[Group]:
    return [(kind, Role.FOLLOWER, list(_followers(idea)), extra), (kind, Role.PROPOSER, proposer, extra)]


def _pilot_status(idea: Idea, change: str) -> list[Group]:
    """A planned or running pilot put on hold, resumed, stopped (`kill`) or withdrawn by its proposer, told to
    its follow-up group in plain words: not why (a coordinator's reason may be internal), nor by whom. `begun`
    tells a pilot that had started (or, resumed, runs again) from one that was only planned."""
    if idea.pilot is None:
        return []
    begun = idea.stage == Stage.PILOTING if change == "resume" else idea.moved_from == Stage.PILOTING
    return [("pilot_status", Role.FOLLOWER, list(idea.pilot.followers),
             {"change": change, "begun": begun, **_pilot_extra(idea)})]


def _plan_news(idea: Idea, earlier: PilotPlan | None, extended: bool, proposer: list[Person]) -> list[Group]:
    """Who joined the follow-up group reads the whole plan; who stays in it, what changed in it (if more than
    the group did); who left it, only that they have left. The proposer hears when the pilot's dates move
    (not of its group, sites or measures). `extended`: the pilot's evaluation had opened and waits again,
    for its new last day, which the mail says in so many words."""
    plan = idea.pilot
    before = {p.email for p in earlier.followers} if earlier else set()
    after = {p.email for p in plan.followers}
    whole = {**_pilot_extra(idea), "measures": list(plan.measures), "extended": extended}
    groups: list[Group] = [
        ("follow_up_joined", Role.FOLLOWER, [p for p in plan.followers if p.email not in before], whole)]
    if earlier is not None:
        if changes := _plan_changes(earlier, plan):
            groups.append(("pilot_replanned", Role.FOLLOWER, [p for p in plan.followers if p.email in before],
                           {**whole, "changes": changes}))
        groups.append(("follow_up_left", Role.FOLLOWER, [p for p in earlier.followers if p.email not in after],
                       {"path": links.PILOTS}))
        if dates := {k: v for k, v in _plan_changes(earlier, plan).items() if k in ("start", "end")}:
            groups.append(("pilot_replanned", Role.PROPOSER, proposer,
                           {**_pilot_extra(idea), "extended": extended, "changes": dates}))
    return groups


def _plan_changes(earlier: PilotPlan, plan: PilotPlan) -> dict:
    """What a re-plan changed for the follow-up group: dates moved (old and new), sites and measures added and
    removed. Empty when only the group itself changed."""
    changes: dict = {}
    for what in ("start", "end"):
        old, new = getattr(earlier, what), getattr(plan, what)
        if old != new:
            changes[what] = [old.isoformat(), new.isoformat()]
    for what in ("sites", "measures"):
        old, new = getattr(earlier, what), getattr(plan, what)
        if added := [x for x in new if x not in old]:
            changes[f"{what}_added"] = added
        if removed := [x for x in old if x not in new]:
            changes[f"{what}_removed"] = removed
    return changes


def _criteria(idea: Idea) -> list[str]:
    return [c.name for c in idea.pool.criteria]


def _path(kind: str, audience: Role, idea_id: int) -> str:
    """A reviewer's request or reminder opens the review form; every other notice the reader's idea page."""
    if audience == Role.REVIEWER and kind in ("review_requested", "deadline_reminder", "idea_revised"):
        return links.review_form(idea_id)
    return links.idea_page(audience.value, idea_id)


def _pilot_extra(idea: Idea) -> dict:
    pilot = idea.pilot
    return {"start": pilot.start.isoformat(), "end": pilot.end.isoformat(), "sites": list(pilot.sites)}


#: The mail about a review gate's round: once the round is over they ask for nothing.
ABOUT_THE_ROUND = ("review_requested", "deadline_reminder")
#: The mail that goes to the person who acted as well: what they did gives them something to keep.
FOR_THE_ACTOR = ("idea_received", "withdrawal_received")


def queue_mail(uow: UnitOfWork, event: events.Event, now: datetime) -> None:
    """The unit of work's subscriber: one outbox row per recipient and message kind. When a review round
    ends, its requests and reminders not yet sent are dropped instead (kept in the outbox as `dropped`,
    with why): a reviewer is not asked to review an idea that was decided or withdrawn meanwhile."""
    if isinstance(event, events.ReviewRoundEnded):
        uow.outbox.drop_unsent(event.idea.id, ABOUT_THE_ROUND, now,
                               f"not sent: the {event.gate} round ended before it went out")
        return
    actor = getattr(event, "by", None)
    reached: set[tuple[str, str]] = set()
    for kind, audience, recipients, extra in _groups(uow, event):
        payload = {**_idea_payload(event.idea), "path": _path(kind, audience, event.idea.id), **extra}
        if audience == Role.FOLLOWER:
            del payload["proposer"]  # nothing personal about the proposer, not even in the row (a data export)
        for person in recipients:
            if actor is not None and person.email == actor.email and kind not in FOR_THE_ACTOR:
                continue  # they did it: they know
            if (kind, person.email) not in reached:
                reached.add((kind, person.email))
                uow.outbox.add(kind, person, event.idea, payload, now)
