"""The idea page's read model: what one signed-in person may see of one idea and do on it, now.

    page = idea_page(engine, idea_id, "karin@kommune.dk", now)

What a person sees follows `states.rules.sight`, checked on every request: staff of the idea's pool
and administrators get the whole idea (the reviews as the blind rule lets them read them, through
the same view as `ideaflow show --as`), the reviewers who may be asked, who was asked and who
answered, and the idea's version, which every form on the page carries back so that a change made
meanwhile (another coordinator's decision) refuses the stale form instead of acting on what the
person did not see. A follower or the proposer get only their `sight` (their own pages show their
part). Anybody else is refused with `NotAllowed`, recorded in the refusals audit like every other
refusal; a page answers it with 404, so typing another pool's idea's address tells nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from ideaflow.audit import record_refusal
from ideaflow.views import IdeaView, idea_view_in
from states import alphabet, reviews
from states.criteria import Criterion
from states.errors import InvalidTransition, NotAllowed
from states.rules import Action, Sight, is_staff_of, may, sight
from states.vocabulary import Role
from storage.intake import IntakeRepository
from storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Reviewer:
    """One of the pool's reviewers who may review the idea: are they asked at the open gate this round
    (`states.reviews.asked`: by name, or all of them while nobody is named), were they named by a
    coordinator, and did they submit a review that counts."""

    email: str
    name: str
    asked: bool
    named: bool
    answered: bool


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with the idea (downloaded at `/attachments/{id}` by the pool's staff)."""

    id: int
    filename: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class IdeaPage:
    sight: Sight
    #: The idea as the person may see it (None unless `sight` is STAFF); `idea.actions` is what they may do.
    idea: IdeaView | None = None
    #: The idea's version when it was read: forms carry it back as `seen_version`.
    version: int = 0
    criteria: tuple[Criterion, ...] = ()
    reviewers: tuple[Reviewer, ...] = ()
    #: How many of the reviewers asked (everyone who may review, if nobody was asked by name) answered.
    answered: int = 0
    asked: int = 0
    remaining_dkk: int = 0
    #: Names of the people the page mentions, by address (an address unknown here is shown as it is).
    names: dict[str, str] | None = None
    #: The files that came with the idea, for the pool's coordinators and reviewers (who may download them).
    attachments: tuple[Attachment, ...] = ()
    #: Why a go at the open screening or funding gate would be refused now (no review that counts yet,
    #: nothing left in the pool), so the page can say why it offers no go; None when a go is possible.
    go_blocked: InvalidTransition | None = None

    def name(self, email: str | None) -> str:
        return (self.names or {}).get(email or "", email or "")


def idea_page(engine: Engine, idea_id: int, email: str, now: datetime) -> IdeaPage:
    """The idea page for `email`; NotAllowed (recorded) if they may not see the idea at all, NotFound
    if there is no such idea or person."""
    with UnitOfWork(engine, read_only=True) as uow:
        idea = uow.ideas.get(idea_id)
        person = uow.people.get(email)
        seen = sight(person, idea)
        if seen == Sight.STAFF:
            # The version first: a view read after it can only be newer, so a form is never taken
            # as acting on a state its page did not show.
            version = idea.version
            view = idea_view_in(uow, idea, person)
            answered_by = {r.reviewer.email for r in idea.counting_reviews}
            named = {p.email for p in idea.assigned}
            eligible = [p for p in uow.people.holding(Role.REVIEWER, idea.pool) if may(p, Action.REVIEW, idea)]
            asked = {p.email for p in reviews.asked(idea, eligible)}
            reviewers = tuple(Reviewer(p.email, p.name, p.email in asked, p.email in named, p.email in answered_by)
                              for p in sorted(eligible, key=lambda p: (alphabet.order_key(p.name), p.email)))
            mentioned = ({r.reviewer for r in view.reviews} | {h.by for h in view.history if h.by}
                         | {h.subject for h in view.history if h.subject} | set(view.conflicts)
                         | ({view.evaluation.by} if view.evaluation else set()) | {view.proposer}
                         | set(view.pilot.followers if view.pilot else ())
                         | {v.replaced_by for v in view.earlier_versions})
            names = {p.email: p.name for p in eligible}
            for address in mentioned - names.keys():
                known = uow.people.find(address)
                names[address] = known.name if known is not None else address
            files = attachments_of(uow, idea.id) if is_staff_of(person, idea.pool) else ()
            return IdeaPage(seen, view, version, idea.pool.criteria, reviewers, len(asked & answered_by), len(asked),
                            idea.pool.remaining_dkk, names, files, idea.go_blocked_by())
        if seen != Sight.NONE:
            return IdeaPage(seen)
        refusal = NotAllowed("not_allowed.sight", person=email, idea=idea_id, pool=idea.pool.name)
    record_refusal(engine, email, "show", idea_id, refusal, now)
    raise refusal


def attachments_of(uow: UnitOfWork, idea_id: int) -> tuple[Attachment, ...]:
    """The files that came with the idea, as the staff's pages list them (the idea page, the review form)."""
    return tuple(Attachment(a.id, a.filename, a.size_bytes)
                 for a in IntakeRepository(uow.session).attachments(idea_ids=[idea_id]))
