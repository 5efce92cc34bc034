"""Read models: what `show`, `list` and `pool show` print, as pydantic models for `--json`.

Reads go through a read-only unit of work (a deferred BEGIN on SQLite) so they never queue behind
writers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from states.model import Idea, Person
from states.reviews import counting, readable_by, spread
from states.rules import Sight, available_actions, require_sight
from states.vocabulary import Stage
from storage.intake import IntakeRepository
from storage.tables import AllocationRow, IdeaRow, PersonRow, PoolRow
from storage.unit_of_work import UnitOfWork


class View(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class HistoryView(View):
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str
    at: datetime
    by: str | None
    reason: str
    action: str
    #: Whom the row is about when that is not the actor (the reviewer a coordinator asked).
    subject: str | None = None


class ReviewView(View):
    """One version of a review. `counts` marks the version that counts: the reviewer's newest submitted
    one at its gate and round (drafts and superseded versions are kept for the record)."""

    reviewer: str
    gate: str
    round: int
    version: int
    submitted: bool
    counts: bool
    scores: dict[str, int]
    must_meet: dict[str, bool]
    weighted_score: float | None
    comment: str
    at: datetime


class CriterionSpreadView(View):
    """How the counting reviews of one gate and round scored one criterion: `mean`, lowest and highest
    score (`min`, `max`) and `stdev`, the population standard deviation (0 when all agree)."""

    gate: str
    round: int
    criterion: str
    weight: float
    count: int
    mean: float | None
    min: int | None
    max: int | None
    stdev: float | None


class PilotView(View):
    start: date
    end: date
    sites: list[str]
    followers: list[str]
    measures: list[str]


class EvaluationView(View):
    by: str
    scores: dict[str, int]
    weighted_score: float | None
    outcome: str
    comment: str
    at: datetime


class EarlierVersionView(View):
    """A text of the idea that a revision by its proposer replaced: what the reviewers of `round` read.
    `replaced_in_round` is the round of the revision that replaced it."""

    round: int
    title: str
    description: str
    requested_dkk: int | None
    departments: list[str]
    replaced_at: datetime
    replaced_by: str
    replaced_in_round: int


class IdeaView(View):
    id: int
    title: str
    description: str
    stage: str
    pool: str
    proposer: str
    deadline: datetime | None
    open_gate: str | None
    reviewers_asked: list[str]
    held_from: str | None
    requested_dkk: int | None
    allocated_dkk: int | None
    departments: list[str]
    created_at: datetime
    reviews: list[ReviewView]
    criteria_summary: list[CriterionSpreadView]
    pilot: PilotView | None
    evaluation: EvaluationView | None
    history: list[HistoryView]
    #: People who declared a conflict of interest (they may neither review nor decide).
    conflicts: list[str]
    #: With a viewer (`show --as`): what that person may do on the idea now.
    actions: list[str] | None = None
    #: The texts revisions replaced, oldest first (empty for an idea never revised).
    earlier_versions: list[EarlierVersionView] = []


class IdeaLine(View):
    id: int
    title: str
    stage: str
    pool: str
    proposer: str
    deadline: datetime | None
    allocated_dkk: int | None


class CriterionView(View):
    name: str
    weight: float
    must_meet: bool
    description: str


class IntakeView(View):
    status: str
    opens_at: datetime | None
    closes_at: datetime | None
    description: str
    criteria_text: str
    grant_min_dkk: int | None
    grant_max_dkk: int | None


class GrantView(View):
    """A grant from the pool at a funding gate: to which idea, how much, when decided, and (released) when it went
    back to the pool because the idea ended before its pilot began."""

    idea_id: int
    title: str
    stage: str
    amount_dkk: int
    at: datetime
    #: When the grant went back to the pool (its idea ended before its pilot began); None while allocated.
    released_at: datetime | None = None


class PoolView(View):
    id: int
    name: str
    year: int
    budget_dkk: int
    allocated_dkk: int
    remaining_dkk: int
    #: What the grants given back to the pool add up to (not counted in `allocated_dkk`).
    released_dkk: int
    #: The grants `allocated_dkk` counts: also those of pilots stopped after they began (spent).
    allocations: list[GrantView]
    #: Grants given back to the pool: ideas killed or withdrawn before their pilots began.
    released: list[GrantView]
    criteria: list[CriterionView]
    deadlines_days: dict[str, int]
    on_screening_deadline: str
    ideas_by_stage: dict[str, int]
    intake: IntakeView


def idea_view(engine: Engine, idea_id: int, viewer: str | None = None) -> IdeaView:
    """The idea as `viewer` (an email) may see it, or everything when no viewer is given (the operator).

    A viewer must see the idea whole (the pool's staff, an administrator; a follower or the proposer
    is refused with where they do see it). They get the reviews the blind rule lets them read
    (`states.reviews.readable_by`), the per-criterion figures of those only (the figures reveal the
    scores), and what they may do now.
    """
    with UnitOfWork(engine, read_only=True) as uow:
        idea = uow.ideas.get(idea_id)
        person = uow.people.get(viewer) if viewer is not None else None
        return idea_view_in(uow, idea, person)


def idea_view_in(uow: UnitOfWork, idea: Idea, viewer: Person | None) -> IdeaView:
    """`idea_view` inside a unit of work the caller holds (a page that reads more in the same transaction).
    NotAllowed for a viewer who may not see the idea whole (a follower, its proposer, anybody else)."""
    if viewer is not None:
        require_sight(viewer, idea, Sight.STAFF)
    view = _idea_view(idea, uow, viewer)
    if viewer is not None:
        view.actions = [action.value for action in available_actions(viewer, idea)]
    return view


def _idea_view(idea: Idea, uow: UnitOfWork, viewer: Person | None) -> IdeaView:
    pilot, evaluation = idea.pilot, idea.evaluation
    reviews = uow.ideas.reviews(idea.id)
    if viewer is not None:
        reviews = readable_by(viewer, idea.pool, reviews)
    counted = {id(r) for r in counting(reviews, conflicted=idea.conflicted)}
    return IdeaView(
        id=idea.id, title=idea.title, description=idea.description, stage=idea.stage, pool=idea.pool.name,
        proposer=idea.proposer.email, deadline=idea.deadline, open_gate=idea.open_gate,
        reviewers_asked=[p.email for p in idea.assigned], held_from=idea.held_from,
        requested_dkk=idea.requested_dkk, allocated_dkk=idea.allocated_dkk, departments=list(idea.departments),
        created_at=idea.created_at,
        reviews=[
            ReviewView(reviewer=r.reviewer.email, gate=r.gate, round=r.round, version=r.version,
                       submitted=r.submitted, counts=id(r) in counted, scores=r.scores, must_meet=r.must_meet,
                       weighted_score=r.weighted_score, comment=r.comment, at=r.at)
            for r in reviews
        ],
        criteria_summary=[
            CriterionSpreadView(gate=c.gate, round=c.round, criterion=c.criterion, weight=c.weight, count=c.count,
                                mean=c.mean, min=c.min, max=c.max, stdev=c.stdev)
            for c in spread(idea.pool.criteria, reviews, conflicted=idea.conflicted)
        ],
        pilot=PilotView(start=pilot.start, end=pilot.end, sites=list(pilot.sites),
                        followers=[p.email for p in pilot.followers], measures=list(pilot.measures))
        if pilot else None,
        evaluation=EvaluationView(by=evaluation.by.email, scores=evaluation.scores,
                                  weighted_score=evaluation.weighted_score, outcome=evaluation.outcome,
                                  comment=evaluation.comment, at=evaluation.at)
        if evaluation else None,
        history=[
            HistoryView(from_=h.from_stage, to=h.to_stage, at=h.at, by=h.by, reason=h.reason, action=h.action,
                        subject=h.subject)
            for h in uow.ideas.history(idea.id)
        ],
        conflicts=sorted(idea.conflicted),
        earlier_versions=[
            EarlierVersionView(round=v.round, title=v.title, description=v.description,
                               requested_dkk=v.requested_dkk, departments=list(v.departments),
                               replaced_at=v.replaced_at, replaced_by=v.replaced_by.email,
                               replaced_in_round=v.replaced_in)
            for v in uow.ideas.versions([idea.id]).get(idea.id, [])
        ],
    )


def idea_lines(engine: Engine, *, stage: Stage | None = None, pool: str | None = None) -> list[IdeaLine]:
    with UnitOfWork(engine, read_only=True) as uow:
        query = (
            select(IdeaRow.id, IdeaRow.title, IdeaRow.stage, PoolRow.name, PersonRow.email, IdeaRow.deadline,
                   IdeaRow.allocated_dkk)
            .join(PoolRow, IdeaRow.pool_id == PoolRow.id)
            .join(PersonRow, IdeaRow.proposer_id == PersonRow.id)
            .order_by(IdeaRow.id)
        )
        if stage is not None:
            query = query.where(IdeaRow.stage == stage)
        if pool is not None:
            query = query.where(IdeaRow.pool_id == uow.pools.get(pool).id)
        return [
            IdeaLine(id=i, title=t, stage=s, pool=p, proposer=e, deadline=d, allocated_dkk=a)
            for i, t, s, p, e, d, a in uow.session.execute(query)
        ]


def pool_view(engine: Engine, name: str, now: datetime | None = None) -> PoolView:
    """The pool, its budget, grants and criteria, ideas per stage, and its intake as of `now` (default: the clock).
    What `pool show` prints and the console's pool page shows."""
    with UnitOfWork(engine, read_only=True) as uow:
        pool = uow.pools.get(name)
        intake = IntakeRepository(uow.session).intake(pool.id)
        counts = dict(
            uow.session.execute(
                select(IdeaRow.stage, func.count()).where(IdeaRow.pool_id == pool.id).group_by(IdeaRow.stage)
            ).all()
        )
        grants = [
            GrantView(idea_id=idea_id, title=title, stage=stage, amount_dkk=amount, at=at, released_at=released_at)
            for idea_id, title, stage, amount, at, released_at in uow.session.execute(
                select(IdeaRow.id, IdeaRow.title, IdeaRow.stage, AllocationRow.amount_dkk, AllocationRow.at,
                       AllocationRow.released_at)
                .join(AllocationRow, AllocationRow.idea_id == IdeaRow.id)
                .where(AllocationRow.pool_id == pool.id).order_by(AllocationRow.at, IdeaRow.id))]
        released = [grant for grant in grants if grant.released_at is not None]
        policy = pool.policy
        return PoolView(
            id=pool.id, name=pool.name, year=pool.year, budget_dkk=pool.budget_dkk, allocated_dkk=pool.allocated_dkk,
            remaining_dkk=pool.remaining_dkk, released_dkk=sum(grant.amount_dkk for grant in released),
            allocations=[grant for grant in grants if grant.released_at is None], released=released,
            criteria=[CriterionView(name=c.name, weight=c.weight, must_meet=c.must_meet, description=c.description)
                      for c in pool.criteria],
            deadlines_days={"screening": policy.screening_days, "funding": policy.funding_days,
                            "evaluation": policy.evaluation_days, "reminder": policy.reminder_days},
            on_screening_deadline=policy.on_screening_deadline,
            ideas_by_stage={s.value: counts.get(s.value, 0) for s in Stage},
            intake=IntakeView(status=intake.status(now or datetime.now(UTC)), opens_at=intake.opens_at,
                              closes_at=intake.closes_at, description=intake.description,
                              criteria_text=intake.criteria_text, grant_min_dkk=intake.grant_min_dkk,
                              grant_max_dkk=intake.grant_max_dkk),
        )
