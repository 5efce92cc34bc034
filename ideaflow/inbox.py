"""The reviewer's side of a gate: the inbox of ideas waiting for their review, and the review form.

    reviewing = container.reviewing
    reviewing.inbox("lars@taarnby.dk", now, page=2)     # what waits for Lars, soonest deadline first, 50 a page
    reviewing.form(idea_id, "lars@taarnby.dk", now)     # the form's data, or a refusal
    reviewing.form(idea_id, "lars@taarnby.dk", now, at_gate=Gate.SCREENING, at_round=1)  # refused once that is over
    reviewing.check(idea_id, "lars@taarnby.dk", now)    # the same checks, before a posted review is saved

Saving a review is `Services.review` (the same use case as `ideaflow review`). What waits for whom
is the domain's answer (`states.reviews.asked`: the reviewers a coordinator asked, or every reviewer
of the pool when nobody was asked), and what a reviewer may read of the others' reviews is the blind
rule of `ideaflow.views.idea_view`; this module only gathers them for the pages.

Every object is checked against the person: an idea they may not see at all (another pool's) is
reported as unknown, exactly like an idea that does not exist, and one they see but may not review
(their own, a declared conflict, a coordinator who does not review, a gate already decided) is
refused with its reason. Either attempt is recorded in the refusals audit. A reviewer whose role on
the pool was revoked after the idea came in (the form may have been open) is told so, not that the
idea does not exist.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Engine, select

from ideaflow.audit import record_refusal
from ideaflow.digests import GATE_STAGES, scope_of
from ideaflow.ideapage import Attachment, attachments_of
from ideaflow.views import CriterionSpreadView, ReviewView, idea_view
from states.errors import NotAllowed, NotFound, Refused
from states.model import Idea, Person
from states.reviews import asked, done
from states.rules import Action, Sight, require, sight
from states.vocabulary import Gate, Role
from storage.tables import IdeaRow
from storage.unit_of_work import UnitOfWork

#: Ideas on a page of the inbox.
PER_PAGE = 50


class InboxLine(BaseModel):
    """One idea waiting for the reviewer. `status`: `to_do` (nothing saved), `unfinished` (a draft
    only), `submitted` (theirs counts; they may still revise it until the gate is decided).
    `done` of `asked` reviewers have a review that counts."""

    id: int
    title: str
    pool: str
    gate: str
    round: int
    #: Which text of the idea it shows (`Idea.text_version`): the form carries it back, with the gate and round.
    text_version: int = 0
    deadline: datetime | None
    overdue: bool
    status: str
    asked: int
    done: int


class Inbox(BaseModel):
    """One page of what waits for the reviewer (`page` of `pages`, at least 1); `total` waits in all, and
    the page's first line is the `first` of them (counted from 1)."""

    lines: list[InboxLine]
    total: int
    page: int
    pages: int
    first: int


class CriterionField(BaseModel):
    """A criterion as the form asks it; `index` names its fields (`score-<index>`, `must-<index>`)."""

    index: int
    name: str
    weight: float
    must_meet: bool
    description: str


class ReviewForm(BaseModel):
    """What the review form shows: the idea, the pool's criteria, the reviewer's newest version of this
    gate and round (to pre-fill: a draft or their submitted review), and the other reviewers' counting
    reviews with the per-criterion spread — empty until the reviewer has submitted their own."""

    id: int
    title: str
    description: str
    pool: str
    gate: str
    round: int
    #: Which text of the idea it shows (`Idea.text_version`): the form carries it back, with the gate and round.
    text_version: int = 0
    deadline: datetime | None
    requested_dkk: int | None
    departments: list[str]
    criteria: list[CriterionField]
    current: ReviewView | None
    submitted: bool
    others: list[ReviewView]
    spread: list[CriterionSpreadView]
    asked: int
    done: int
    #: The files that came with the idea (a public submission's), for the reviewer to download.
    attachments: tuple[Attachment, ...] = ()
    #: The pool's reviewers' names by address: the others' reviews are headed by who wrote them.
    names: dict[str, str] = {}


class Reviewing:
    """The reviewer's read models, bound to one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def inbox(self, email: str, now: datetime, *, page: int = 1, per_page: int = PER_PAGE) -> Inbox:
        """The ideas whose open screening or funding gate asks `email` for a review (on the pools they
        review), soonest deadline first, `per_page` a page (a page beyond the last shows the last); a
        submitted review stays listed, revisable, until the decision.

        Who is asked is the domain's rule (`states.reviews.asked`), so every idea at a gate of the
        reviewer's pools is loaded to ask it, and the page is cut from the answer: ~0.1 s for 1,000
        waiting ideas."""
        lines = self._waiting(email, now)
        pages = max((len(lines) + per_page - 1) // per_page, 1)
        page = min(max(page, 1), pages)
        start = (page - 1) * per_page
        return Inbox(lines=lines[start:start + per_page], total=len(lines), page=page, pages=pages, first=start + 1)

    def _waiting(self, email: str, now: datetime) -> list[InboxLine]:
        with UnitOfWork(self.engine, read_only=True) as uow:
            person = uow.people.get(email)
            scope = scope_of(person, Role.REVIEWER)
            if scope is False:
                return []
            query = select(IdeaRow.id).where(IdeaRow.stage.in_(GATE_STAGES)).order_by(IdeaRow.deadline, IdeaRow.id)
            if scope is not None:
                query = query.where(IdeaRow.pool_id.in_(scope))
            ideas = uow.ideas.load(uow.session.scalars(query))
            lines = []
            for idea in ideas.values():
                waiting = asked(idea, uow.people.holding(Role.REVIEWER, idea.pool))
                if not any(p.email == person.email for p in waiting):
                    continue
                mine = [r for r in idea.reviews if r.reviewer.email == person.email]
                status = ("submitted" if any(r.submitted for r in mine) else "unfinished" if mine else "to_do")
                lines.append(InboxLine(
                    id=idea.id, title=idea.title, pool=idea.pool.name, gate=idea.open_gate, round=idea.gate_round,
                    deadline=idea.deadline, overdue=idea.deadline is not None and idea.deadline < now,
                    status=status, asked=len(waiting), done=len(done(idea, waiting)),
                ))
            return lines

    def form(self, idea_id: int, email: str, now: datetime, *, at_gate: Gate | None = None,
             at_round: int | None = None, at_text_version: int | None = None) -> ReviewForm:
        """The review form's data for `email`, after the checks of `check`."""
        with self._refusals_recorded(idea_id, email, now), UnitOfWork(self.engine, read_only=True) as uow:
            person, idea = uow.people.get(email), uow.ideas.get(idea_id)
            _require_reviewable(uow, person, idea, at_gate, at_round, at_text_version)
            reviewers = uow.people.holding(Role.REVIEWER, idea.pool)
            waiting = asked(idea, reviewers)
            asked_count, done_count = len(waiting), len(done(idea, waiting))
            files = attachments_of(uow, idea.id)
            names = {p.email: p.name for p in reviewers}
        view = idea_view(self.engine, idea_id, viewer=email)  # the blind rule decides what is read
        gate, round_ = idea.open_gate, idea.gate_round
        here = [r for r in view.reviews if (r.gate, r.round) == (gate, round_)]
        mine = [r for r in here if r.reviewer == email]
        submitted = any(r.submitted for r in mine)
        return ReviewForm(
            id=idea.id, title=idea.title, description=idea.description, pool=idea.pool.name, gate=gate,
            round=round_, text_version=idea.text_version, deadline=idea.deadline, requested_dkk=idea.requested_dkk,
            departments=list(idea.departments),
            criteria=[CriterionField(index=i, name=c.name, weight=c.weight, must_meet=c.must_meet,
                                     description=c.description) for i, c in enumerate(idea.pool.criteria)],
            current=max(mine, key=lambda r: r.version, default=None), submitted=submitted,
            # A coordinator who also reviews may read the others' reviews on the idea page; the form
            # shows them, like to every reviewer, once the reviewer's own review is submitted.
            others=[r for r in here if r.reviewer != email and r.counts] if submitted else [],
            spread=[s for s in view.criteria_summary if (s.gate, s.round) == (gate, round_)] if submitted else [],
            asked=asked_count, done=done_count, attachments=files, names=names,
        )

    def check(self, idea_id: int, email: str, now: datetime, *, at_gate: Gate | None = None,
              at_round: int | None = None) -> None:
        """Refuse, and record the attempt, unless `email` may review the idea now: NotFound when they may
        not even see it (as for an idea that does not exist), NotAllowed when they see it but may not
        review it (own idea, conflict, no reviewer role on its pool, or no longer one), InvalidTransition
        when no screening or funding gate is open (already decided), or not `at_gate` in round `at_round`
        (the gate and round a posted form was written for: `Idea.review_gate_for`)."""
        with self._refusals_recorded(idea_id, email, now), UnitOfWork(self.engine, read_only=True) as uow:
            _require_reviewable(uow, uow.people.get(email), uow.ideas.get(idea_id), at_gate, at_round)

    @contextmanager
    def _refusals_recorded(self, idea_id: int, email: str, now: datetime):
        """Record a refused attempt in the refusals audit (its own transaction), then refuse; an idea
        the person may not see is refused as unknown, so its existence is not given away."""
        try:
            yield
        except Refused as refusal:
            record_refusal(self.engine, email, "review", idea_id, refusal, now)
            if isinstance(refusal, NotAllowed) and refusal.code == "not_allowed.sight":
                raise NotFound("idea.unknown", field="idea", idea=idea_id) from None
            raise


def _require_reviewable(uow: UnitOfWork, person: Person, idea: Idea, at_gate: Gate | None,
                        at_round: int | None, at_text_version: int | None = None) -> None:
    try:
        if sight(person, idea) == Sight.NONE:
            raise NotAllowed("not_allowed.sight", person=person.email, idea=idea.id, pool=idea.pool.name)
        require(person, Action.REVIEW, idea)
    except NotAllowed as refusal:
        # Their reviewer role on the pool was taken away since the idea came in: they may have had its form
        # open, and are told why what they wrote is not saved (they knew the idea; nothing is given away).
        revoked = uow.people.revoked_at(person, Role.REVIEWER, idea.pool)
        if (refusal.code in ("not_allowed.sight", "not_allowed.role_needed") and revoked is not None
                and idea.created_at is not None and revoked >= idea.created_at):
            raise NotAllowed("not_allowed.no_longer_reviewer", person=person.email, idea=idea.id,
                             pool=idea.pool.name, revoked_at=revoked) from None
        raise
    idea.review_gate_for(at_gate, at_round, at_text_version)
