"""The idea aggregate and the value objects around it.

`Idea` is the consistency boundary: every command goes through one of its methods, which checks who
is acting, fires the shared lifecycle machine, and records what happened (history entries, the
timers the new state needs, events for notifications). Storage persists those records; it never
decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from states import events, text
from states.criteria import Criterion, check_scores, missing_scores, scored_by_name, weighted_score
from states.errors import BadInput, BudgetExceeded, InvalidTransition
from states.formatting import dkk
from states.intake import DEPARTMENT_MAX, DESCRIPTION_MAX, TITLE_MAX
from states.lifecycle import allowed_triggers, fire, screening_refusal
from states.reviews import counting
from states.rules import Action, require, stage_allows, why_not
from states.vocabulary import (
    COPENHAGEN,
    DeadlinePolicy,
    Decision,
    Gate,
    Language,
    Outcome,
    Role,
    Stage,
    TimerKind,
)

#: The review gate open in each stage that has one (`open_gate`: the evaluation gate as well).
GATE_OF_STAGE = {Stage.SUBMITTED: Gate.SCREENING, Stage.SCREENED: Gate.FUNDING}
#: The stage an idea is in while each gate is open.
STAGE_OF_GATE = {**{gate: stage for stage, gate in GATE_OF_STAGE.items()}, Gate.EVALUATION: Stage.PILOTING}


class Keep(Enum):
    KEEP = "keep"


#: `Idea.revise`'s default for a field the revision leaves as it is (None is a value: no amount asked for).
KEEP = Keep.KEEP

#: The fields a proposer may revise, and how the record names them (`Idea.revise`'s history line).
REVISABLE = {"title": "title", "description": "description", "requested_dkk": "requested amount",
             "departments": "departments"}
_REVISED = "revised by the proposer: "


def revised_fields(reason: str) -> tuple[str, ...] | None:
    """The fields (`REVISABLE`'s keys) a `revise` history line names, or None for a line of another form."""
    named = {said: name for name, said in REVISABLE.items()}
    fields = tuple(named.get(said) for said in reason.removeprefix(_REVISED).split(", "))
    return fields if reason.startswith(_REVISED) and all(fields) else None


def released_line(amount_dkk: int) -> str:
    """The record's line for a grant given back to the pool (the history's `release` action)."""
    return f"grant of {dkk(amount_dkk)} released to the pool"


def open_gate(stage: Stage, evaluation_open: bool) -> Gate | None:
    """The gate open for an idea in `stage`: a review gate by stage, the evaluation gate once its pilot
    has ended. (Read models that hold only the row's columns ask this too.)"""
    if stage == Stage.PILOTING:
        return Gate.EVALUATION if evaluation_open else None
    return GATE_OF_STAGE.get(stage)


def local_midnight(day: date) -> datetime:
    """The UTC instant a Copenhagen calendar day begins: pilots start and end on local days."""
    return datetime.combine(day, time.min, tzinfo=COPENHAGEN).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Grant:
    """A role held on one pool (`pool_id`) or on every pool (None)."""

    role: Role
    pool_id: int | None = None


def everywhere(*roles: Role) -> frozenset[Grant]:
    return frozenset(Grant(role) for role in roles)


@dataclass(eq=False, slots=True)
class Person:
    email: str
    name: str
    lang: Language = Language.DA
    id: int | None = None
    grants: frozenset[Grant] = frozenset()

    def holds(self, role: Role, pool: Pool | None = None) -> bool:
        """Whether the person holds `role` on `pool` (by a grant on it or on every pool); without a
        pool, whether they hold it on every pool."""
        return any(g.role == role and (g.pool_id is None or (pool is not None and g.pool_id == pool.id))
                   for g in self.grants)


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """A pool's deadlines, in days; reminders are sent `reminder_days` before a gate deadline."""

    screening_days: int = 30
    funding_days: int = 45
    evaluation_days: int = 30
    reminder_days: int = 5
    on_screening_deadline: DeadlinePolicy = DeadlinePolicy.ESCALATE

    def check(self) -> None:
        """Refuse a reminder set further ahead than a gate's deadline: its moment would have passed when
        the gate opens, so it would never be sent."""
        shortest = min(self.screening_days, self.funding_days, self.evaluation_days)
        if self.reminder_days >= shortest:
            raise BadInput("policy.reminder_too_early", field="reminder_days", reminder=self.reminder_days,
                           days=shortest)

    def days_for(self, gate: Gate) -> int:
        return {
            Gate.SCREENING: self.screening_days,
            Gate.FUNDING: self.funding_days,
            Gate.EVALUATION: self.evaluation_days,
        }[gate]


#: The least budget a pool may have: a pool of nothing could fund no idea.
MIN_BUDGET_DKK = 1


def check_budget(budget_dkk: int, field: str = "budget_dkk") -> int:
    """A pool's budget: whole kroner, at least MIN_BUDGET_DKK (and below a trillion, as every amount)."""
    if budget_dkk < MIN_BUDGET_DKK:
        raise BadInput("pool.budget_not_positive", field=field, low_dkk=MIN_BUDGET_DKK)
    return text.amount_dkk(budget_dkk, field)


@dataclass(eq=False, slots=True)
class Pool:
    name: str
    year: int
    budget_dkk: int
    criteria: tuple[Criterion, ...]
    policy: GatePolicy = field(default_factory=GatePolicy)
    allocated_dkk: int = 0
    id: int | None = None

    @property
    def remaining_dkk(self) -> int:
        return self.budget_dkk - self.allocated_dkk

    def check_affordable(self, amount_dkk: int) -> None:
        """The budget invariant: a pool never allocates more than its budget."""
        if amount_dkk > self.remaining_dkk:
            raise BudgetExceeded("budget.exceeded", field="amount_dkk", pool=self.name, amount_dkk=amount_dkk,
                                 remaining_dkk=self.remaining_dkk)

    def allocate(self, amount_dkk: int) -> None:
        self.check_affordable(amount_dkk)
        self.allocated_dkk += amount_dkk

    def release(self, amount_dkk: int) -> None:
        """A grant goes back to the pool (`Idea._release_grant`): the pool may allocate it again."""
        if not 0 < amount_dkk <= self.allocated_dkk:
            raise ValueError(f"cannot release {amount_dkk} of the {self.allocated_dkk} allocated from {self.name}")
        self.allocated_dkk -= amount_dkk


@dataclass(frozen=True, slots=True)
class Review:
    """One version of a reviewer's review of a gate and round (see states/reviews.py for which counts).

    A draft (`submitted` False) may be incomplete; a submitted version scores every criterion and
    answers every must-meet criterion. Versions are numbered from 1 per reviewer, gate and round.
    """

    reviewer: Person
    gate: Gate
    round: int
    scores: dict[str, int]
    must_meet: dict[str, bool]
    comment: str
    weighted_score: float | None
    at: datetime
    version: int
    submitted: bool


@dataclass(frozen=True, slots=True)
class PilotPlan:
    """A pilot's plan: it runs from its first day (`start`) to its last (`end`), both included."""

    start: date
    end: date
    sites: tuple[str, ...]
    followers: tuple[Person, ...] = ()
    measures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:  # both days are included: a pilot of one day starts and ends on the same date
            raise BadInput("pilot.ends_before_start", field="end", start=self.start, end=self.end)
        if not self.sites:
            raise BadInput("pilot.no_site", field="sites")

    def summary(self) -> str:
        """The plan in one line for the record. Followers are counted, not named: the history is
        append-only, and a name written into it could not be erased when the person is forgotten."""
        parts = [f"{self.start.isoformat()} to {self.end.isoformat()}", f"sites: {', '.join(self.sites)}"]
        if self.measures:
            parts.append(f"measures: {'; '.join(self.measures)}")
        parts.append(f"follow-up group of {len(self.followers)}")
        return ", ".join(parts)

    def changes_since(self, earlier: PilotPlan) -> str:
        """What re-planning changed, in one line (empty if nothing did)."""
        changes = []
        for what, old, new in (("start", earlier.start, self.start), ("end", earlier.end, self.end)):
            if old != new:
                changes.append(f"{what} {old.isoformat()} → {new.isoformat()}")
        for what, old, new in (("sites", earlier.sites, self.sites), ("measures", earlier.measures, self.measures)):
            added, removed = [x for x in new if x not in old], [x for x in old if x not in new]
            if added or removed:
                changes.append(f"{what} " + ", ".join([f"+{x}" for x in added] + [f"−{x}" for x in removed]))
        old_group, new_group = {p.email for p in earlier.followers}, {p.email for p in self.followers}
        if old_group != new_group:
            changes.append(f"follow-up group {len(new_group - old_group)} added, {len(old_group - new_group)} removed"
                           f" (now {len(new_group)})")
        return "; ".join(changes)


@dataclass(frozen=True, slots=True)
class Evaluation:
    by: Person
    scores: dict[str, int]
    outcome: Outcome
    comment: str
    weighted_score: float | None
    at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of the append-only record: who moved the idea from where to where, when and why.

    `by` is None when the system acted (a timer fired). Entries whose from and to are equal record
    gate events that change no stage (recycle, escalation, the evaluation gate opening).
    """

    action: str
    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    by: Person | None
    reason: str
    #: The person the entry is about when that is not the actor (a reviewer asked by a coordinator).
    subject: Person | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A declared conflict of interest: the person may neither review nor decide the idea."""

    person: Person
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Timer:
    kind: TimerKind
    due_at: datetime


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    gate: Gate | None
    round: int
    decision: Decision
    by: Person
    amount_dkk: int | None
    reason: str
    at: datetime
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class IdeaVersion:
    """An earlier text of an idea, kept when a revision by its proposer replaced it (`Idea.revise`): what
    the reviewers of its round read and scored stays on the record, beside the history line that names
    the fields changed.

    `round` is the gate round it was the text of, the latest one its reviewers judged: the round before
    the revision's (a recycle decided that round and sent the idea back), or, for a text written by an
    earlier revision in the same round, that round itself. `replaced_in` is the round of the revision
    that replaced it."""

    round: int
    title: str
    description: str
    requested_dkk: int | None
    departments: tuple[str, ...]
    replaced_at: datetime
    replaced_by: Person
    replaced_in: int


@dataclass(frozen=True, slots=True)
class Assignment:
    gate: Gate
    round: int
    reviewer: Person
    by: Person
    at: datetime


@dataclass(eq=False, slots=True)
class Idea:
    title: str
    description: str
    pool: Pool
    proposer: Person
    stage: Stage = Stage.SUBMITTED
    requested_dkk: int | None = None
    departments: tuple[str, ...] = ()
    held_from: Stage | None = None
    gate_round: int = 1
    deadline: datetime | None = None
    evaluation_open: bool = False
    allocated_dkk: int | None = None
    pilot: PilotPlan | None = None
    evaluation: Evaluation | None = None
    #: Every version of every review of the `round_gate` in this round, drafts included.
    reviews: list[Review] = field(default_factory=list)
    #: Reviewers a coordinator asked for at the `round_gate` in this round (empty: every reviewer is asked).
    assigned: list[Person] = field(default_factory=list)
    #: Emails of the people who declared a conflict of interest on this idea.
    conflicted: set[str] = field(default_factory=set)
    #: The gate and round the idea's latest recycle decision opened (loaded only while that round is open).
    recycled_into: tuple[Gate, int] | None = None
    #: The gate round the idea's title, description, amount and departments were written in: 1 (submitted),
    #: or the round of its latest revision (loaded while the round began with a recycle: `recycled_into`).
    text_round: int = 1
    #: Which text of the idea this is: 0 as submitted, n after its proposer's n-th revision (`Idea.revise`;
    #: the n texts replaced are kept, `IdeaVersion`). Loaded, like `reviews`, with the round of the
    #: screening or funding gate (an idea in its first round was never sent back, so never revised): a
    #: review form carries it, and a review written against an earlier text is refused (`review_gate_for`).
    text_version: int = 0
    created_at: datetime | None = None
    id: int | None = None
    version: int = 0
    # What this command changed, for the repository to persist and the bus to publish.
    new_history: list[HistoryEntry] = field(default_factory=list)
    new_reviews: list[Review] = field(default_factory=list)
    new_decisions: list[DecisionRecord] = field(default_factory=list)
    new_assignments: list[Assignment] = field(default_factory=list)
    new_conflicts: list[Conflict] = field(default_factory=list)
    new_timers: list[Timer] | None = None
    new_pilot: PilotPlan | None = None
    #: The stage this command's latest move left (for an idea that was on hold, the stage it was held from):
    #: whether a pilot stopped, withdrawn or put on hold had begun (`notifications`). Not stored.
    moved_from: Stage | None = None
    new_evaluation: Evaluation | None = None
    new_allocation_dkk: int | None = None
    #: The grant this command gave back to the pool (`_release_grant`).
    new_release_dkk: int | None = None
    #: The idea's own columns a revision changed, with their new values (`Idea.revise`).
    new_revision: dict[str, object] | None = None
    #: The texts a revision replaced, for the record (`IdeaVersion`).
    new_versions: list[IdeaVersion] = field(default_factory=list)
    events: list[events.Event] = field(default_factory=list)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def submit(
        cls,
        *,
        title: str,
        description: str,
        pool: Pool,
        proposer: Person,
        now: datetime,
        requested_dkk: int | None = None,
        departments: tuple[str, ...] = (),
    ) -> Idea:
        idea = cls(
            title=title,
            description=description,
            pool=pool,
            proposer=proposer,
            requested_dkk=requested_dkk,
            departments=departments,
            created_at=now,
        )
        idea._record("submit", None, Stage.SUBMITTED, now, proposer, "submitted")
        idea.events.append(events.IdeaSubmitted(idea, proposer))
        idea._arm(now)
        return idea

    # -- gates ---------------------------------------------------------------------------------

    @property
    def open_gate(self) -> Gate | None:
        return open_gate(self.stage, self.evaluation_open)

    @property
    def round_gate(self) -> Gate | None:
        """The screening or funding gate whose round the idea is in: the open one or, while the idea is
        on hold, the one a resume reopens. A hold pauses the round without ending its reviews and named
        reviewers, so they are loaded with the idea either way (`reviews`, `assigned`)."""
        return GATE_OF_STAGE.get(self.held_from if self.stage == Stage.ON_HOLD else self.stage)

    def assign_reviewers(self, reviewers: list[Person], by: Person, now: datetime) -> list[Person]:
        """Ask these reviewers for a review at the open gate; returns those not already asked this round.

        Repeating an assignment changes nothing, so a retried or duplicated request asks nobody twice.
        """
        require(by, Action.ASSIGN, self)
        gate = self._review_gate()
        not_reviewers = [p.email for p in reviewers if not p.holds(Role.REVIEWER, self.pool)]
        if not_reviewers:
            raise BadInput("assign.not_reviewers", field="reviewers", people=not_reviewers, pool=self.pool.name)
        barred = [p.email for p in reviewers if why_not(p, Action.REVIEW, self)]
        if barred:
            raise InvalidTransition("assign.barred", field="reviewers", people=barred)
        asked = {p.email for p in self.assigned}
        new = [p for p in {p.email: p for p in reviewers}.values() if p.email not in asked]
        self.assigned += new
        self.new_assignments += [Assignment(gate, self.gate_round, p, by, now) for p in new]
        for person in new:
            self._record("assign", self.stage, self.stage, now, by, f"asked to review at the {gate} gate",
                         subject=person)
        if new:
            self.events.append(events.ReviewersAssigned(self, gate, self.deadline, tuple(new), by))
        return new

    def _review_gate(self) -> Gate:
        gate = self.open_gate
        if gate not in (Gate.SCREENING, Gate.FUNDING):
            raise InvalidTransition("gate.no_review_gate", stage=self.stage)
        return gate

    def review_gate_for(self, at_gate: Gate | None = None, at_round: int | None = None,
                        at_text_version: int | None = None) -> Gate:
        """The open screening or funding gate, refused unless it is the gate and round a review was written
        for (`at_gate`, `at_round`; None: whichever is open now). A review form shown at the screening stays
        a screening review: once that gate is decided it is refused, not counted at the funding gate; one
        written before the idea was sent back for revision is refused in the new round, whose text may differ;
        one written against a text the proposer has revised since, in the same round (`at_text_version`, the
        `text_version` the form was shown with; None: no such check), is refused too."""
        gate = self._review_gate()
        if at_gate is not None and at_gate != gate:
            if at_gate == Gate.SCREENING and gate == Gate.FUNDING:  # the screening was decided meanwhile
                raise InvalidTransition("review.gate_decided", field="gate", idea=self.id, gate=at_gate,
                                        open_gate=gate)
            raise InvalidTransition("gate.not_this_one", field="gate", idea=self.id, gate=at_gate, open_gate=gate)
        if at_round is not None and at_round < self.gate_round:  # sent back for revision meanwhile
            raise InvalidTransition("review.new_round", field="round", idea=self.id, gate=gate,
                                    round=self.gate_round, seen_round=at_round)
        if at_round is not None and at_round != self.gate_round:
            raise InvalidTransition("review.not_this_round", field="round", idea=self.id, gate=gate,
                                    round=self.gate_round, seen_round=at_round)
        if at_text_version is not None and at_text_version < self.text_version:  # the proposer revised it meanwhile
            raise InvalidTransition("review.text_revised", field="text_version", idea=self.id, gate=gate,
                                    round=self.gate_round)
        if at_text_version is not None and at_text_version != self.text_version:
            raise InvalidTransition("review.not_this_text", field="text_version", idea=self.id,
                                    text_version=self.text_version, seen_text_version=at_text_version)
        return gate

    def review(
        self,
        reviewer: Person,
        scores: dict[str, int],
        must_meet: dict[str, bool],
        comment: str,
        now: datetime,
        *,
        draft: bool = False,
        at_gate: Gate | None = None,
        at_round: int | None = None,
        at_text_version: int | None = None,
    ) -> Review:
        """Add a version of `reviewer`'s review of the open gate: a draft, a submission or a revision.

        `at_gate`, `at_round` and `at_text_version` name the gate, round and text of the idea the review was
        written for (a web form carries them); a gate decided, a round begun or a revision by the proposer
        since is refused (`review_gate_for`), drafts included.

        A submission must be complete (bad input otherwise, naming what is missing); a draft may be
        anything valid. Submissions and revisions are recorded in the history (who, not the scores).
        The same review as the reviewer's newest version of this gate and round (a double click, a
        form sent again) is that version: no new version, no history line.
        """
        require(reviewer, Action.REVIEW, self)
        gate = self.review_gate_for(at_gate, at_round, at_text_version)
        criteria = self.pool.criteria
        scores = scored_by_name(criteria, scores, "scores")  # "effekt=4" scores the criterion "Effekt"
        must_meet = scored_by_name(criteria, must_meet, "must_meet")
        check_scores(criteria, scores)
        must_names = {c.name for c in criteria if c.must_meet}
        unknown = set(must_meet) - must_names
        if unknown:
            raise BadInput("review.not_must_meet", field="must_meet", criteria=sorted(unknown), pool=self.pool.name,
                           must=sorted(must_names) or "–")
        if draft and not (scores or must_meet or comment):
            raise BadInput("review.empty_draft", field="score")
        if not draft:
            unscored = missing_scores(criteria, scores)
            unanswered = [c.name for c in criteria if c.must_meet and c.name not in must_meet]
            if unscored or unanswered:
                what = "both" if unscored and unanswered else "scores" if unscored else "must"
                raise BadInput(f"review.incomplete_{what}", field="score" if unscored else "must_meet",
                               unscored=unscored, unanswered=unanswered)
        mine = [r for r in self.reviews if r.reviewer.email == reviewer.email]
        newest = max(mine, key=lambda r: r.version, default=None)
        if newest is not None and (newest.scores, newest.must_meet, newest.comment, newest.submitted) == (
                scores, must_meet, comment, not draft):
            return newest
        review = Review(
            reviewer, gate, self.gate_round, dict(scores), dict(must_meet), comment,
            weighted_score(criteria, scores), now, (newest.version if newest else 0) + 1, not draft,
        )
        self.reviews.append(review)
        self.new_reviews.append(review)
        if not draft:
            where = f"at the {gate} gate, round {self.gate_round}"
            if any(r.submitted for r in mine):
                self._record("revise_review", self.stage, self.stage, now, reviewer,
                             f"review revised {where} (version {review.version})")
            else:
                self._record("submit_review", self.stage, self.stage, now, reviewer, f"review submitted {where}")
        return review

    @property
    def counting_reviews(self) -> list[Review]:
        """The reviews of the open gate this round that count: each reviewer's newest submitted version, none
        by anybody who declared a conflict of interest on the idea (`states.reviews.counting`)."""
        return counting(self.reviews, conflicted=self.conflicted)

    def decide(
        self, decision: Decision, by: Person, now: datetime, *, amount_dkk: int | None = None, reason: str = "",
        at_gate: Gate | None = None, request_id: str | None = None,
    ) -> None:
        """Record a gate decision. `at_gate` names the gate the decider saw, so a stale or repeated
        request cannot decide the next gate instead; `request_id` lets storage recognise a retry."""
        require(by, Action.deciding(decision), self)
        gate = self.open_gate
        if at_gate is not None and gate != at_gate:
            if gate is None:
                raise InvalidTransition("gate.not_this_one_none", field="gate", idea=self.id, gate=at_gate,
                                        stage=self.stage)
            raise InvalidTransition("gate.not_this_one", field="gate", idea=self.id, gate=at_gate, open_gate=gate)
        # The state is checked before the amount: a funding go that finds the gate already decided
        # (e.g. it lost a race) is refused (exit 1), not misreported as bad input (exit 2).
        if decision in (Decision.GO, Decision.RECYCLE):
            if gate is None:
                raise InvalidTransition("gate.none_open", stage=self.stage)
            if gate == Gate.EVALUATION:
                raise InvalidTransition("gate.evaluation_by_evaluate")
        if amount_dkk is not None and not (decision == Decision.GO and gate == Gate.FUNDING):
            raise BadInput("amount.only_funding_go", field="amount_dkk")
        # Killing an idea or sending it back is explained to its proposer and kept in the public
        # record: it needs a reason. (Asked only where the move is possible at all, so a stale kill
        # of an idea already rejected is refused as such, exit 1, not misreported as bad input.)
        if (decision in (Decision.KILL, Decision.RECYCLE) and not reason.strip()
                and decision.value in allowed_triggers(self.stage)):
            raise BadInput("decide.reason_needed", field="reason", decision=decision.value)
        if decision == Decision.GO and gate == Gate.FUNDING:
            amount_dkk = self._funding_amount(amount_dkk)
            from_stage, _ = fire(self, "go", amount_dkk=amount_dkk)
            self.pool.allocate(amount_dkk)
            self.allocated_dkk = self.new_allocation_dkk = amount_dkk
        else:
            from_stage, _ = fire(self, decision.value)
        if decision == Decision.HOLD:
            self.held_from = from_stage
        if decision == Decision.RECYCLE:
            self.gate_round += 1
            self.recycled_into = (gate, self.gate_round)
        if decision in (Decision.GO, Decision.RECYCLE):  # a new gate or round: its reviews start afresh
            self.reviews = []
            self.assigned = []
        said = reason or f"{decision} at the {gate or from_stage} gate"
        if decision == Decision.GO and gate == Gate.FUNDING:  # the record states the amount, whatever was said
            said = f"go at the funding gate, {dkk(amount_dkk)} allocated" + (f": {reason}" if reason else "")
        self._moved(decision.value, from_stage, by, now, said)
        self.new_decisions.append(
            DecisionRecord(gate, self.gate_round, decision, by, amount_dkk, reason, now, request_id)
        )
        self.events.append(events.GateDecided(self, gate, decision, by, reason))

    def _funding_amount(self, amount_dkk: int | None) -> int:
        amount = amount_dkk if amount_dkk is not None else self.requested_dkk
        if amount is None:
            raise BadInput("amount.needed", field="amount_dkk")
        if amount <= 0:
            raise BadInput("amount.not_positive", field="amount_dkk")
        return amount

    # -- pilots and evaluation -------------------------------------------------------------------

    def plan_pilot(self, plan: PilotPlan, by: Person, now: datetime) -> None:
        """Plan the pilot, or re-plan it: before it starts, or while it runs (a follow-up group changes with
        the council, a pilot is extended; its first day is history by then). The history says what changed.

        A pilot whose evaluation gate is open (its end passed, no evaluation recorded yet) may be extended
        to a new last day (today or later): that closes the evaluation gate, its deadline and reminders
        cancelled, and the pilot runs on until the sweep opens the evaluation again after the new end
        (a pilot put on hold and resumed after its end date, for one)."""
        require(by, Action.PLAN_PILOT, self)
        if not stage_allows(Action.PLAN_PILOT, self):
            raise self.plan_refusal()
        if self.stage == Stage.PILOTING and plan.start != self.pilot.start:
            raise BadInput("pilot.started", field="start", start=self.pilot.start)
        if plan.end < now.astimezone(COPENHAGEN).date():
            # A pilot over before it is planned would start and end at the next sweep, and its mail would
            # announce a start that nobody saw. One begun already may be recorded late; one ended may not.
            raise BadInput("pilot.over", field="end", end=plan.end)
        earlier, self.pilot = self.pilot, plan
        if earlier is None:
            self._record("plan_pilot", self.stage, self.stage, now, by, f"pilot planned: {plan.summary()}")
        else:
            changes = plan.changes_since(earlier)
            if not changes:
                return
            self._record("replan_pilot", self.stage, self.stage, now, by, f"pilot re-planned: {changes}")
        extended = self.evaluation_open
        if extended:  # its end passed, and the new one has not (checked above): it runs on
            self.evaluation_open = False
            self._record("close_evaluation", self.stage, self.stage, now, by,
                         f"evaluation gate closed: the pilot runs on until {plan.end.isoformat()}")
            self.events.append(events.ReviewRoundEnded(self, Gate.EVALUATION))
        self.new_pilot = plan
        self._arm(now)
        self.events.append(events.PilotPlanned(self, by, earlier, extended))

    def plan_refusal(self) -> InvalidTransition:
        """Why the idea's pilot cannot be planned in its stage: the real reason, not merely the stage."""
        if self.stage == Stage.EVALUATED:
            return InvalidTransition("pilot.evaluated")
        if self.stage == Stage.ON_HOLD:
            return InvalidTransition("pilot.on_hold")
        return InvalidTransition("pilot.not_funded", stage=self.stage)

    def declare_conflict(self, person: Person, reason: str, now: datetime) -> None:
        """Record that `person` has a conflict of interest: from now on they neither review nor decide, nor steer
        it (`states.rules.JUDGING`), and none of their reviews of it counts (`states.reviews.counting`), also
        those written before; those stay in the record."""
        require(person, Action.DECLARE_CONFLICT, self)
        if person.email in self.conflicted:
            raise InvalidTransition("conflict.already_declared", person=person.email, idea=self.id)
        self.conflicted.add(person.email)
        self.new_conflicts.append(Conflict(person, reason, now))
        self._record("conflict", self.stage, self.stage, now, person, f"conflict of interest declared: {reason}")

    def go_blocked_by(self) -> InvalidTransition | None:
        """Why a go at the open screening or funding gate would be refused now, or None."""
        if self.open_gate == Gate.SCREENING:
            return screening_refusal(self)
        if self.open_gate == Gate.FUNDING and self.pool.remaining_dkk <= 0:
            return InvalidTransition("funding.nothing_left", pool=self.pool.name)
        return None

    def start_pilot(self, now: datetime) -> None:
        from_stage, _ = fire(self, "start_pilot")
        self._moved("start_pilot", from_stage, None, now, f"pilot start date {self.pilot.start.isoformat()} arrived")
        self.events.append(events.PilotStarted(self))

    def end_pilot(self, now: datetime) -> None:
        """The pilot's end date has passed: open the evaluation gate (the stage stays piloting)."""
        if self.stage != Stage.PILOTING or self.evaluation_open:
            raise InvalidTransition("pilot.not_running", stage=self.stage)
        self.evaluation_open = True
        self._moved("open_evaluation", self.stage, None, now, f"pilot ended {self.pilot.end.isoformat()}")
        self.events.append(events.PilotEnded(self))

    def evaluate(self, by: Person, scores: dict[str, int], outcome: Outcome, comment: str, now: datetime) -> None:
        require(by, Action.EVALUATE, self)
        scores = scored_by_name(self.pool.criteria, scores, "scores")
        check_scores(self.pool.criteria, scores)
        missing = [c.name for c in self.pool.criteria if c.name not in scores]
        if missing:
            raise BadInput("score.missing", field="scores", criteria=missing)
        from_stage, _ = fire(self, "evaluate")
        self.evaluation = self.new_evaluation = Evaluation(
            by, dict(scores), outcome, comment, weighted_score(self.pool.criteria, scores), now
        )
        self._moved("evaluate", from_stage, by, now, f"outcome {outcome}" + (f": {comment}" if comment else ""))
        self.events.append(events.EvaluationRecorded(self, outcome, by))

    # -- the proposer and the coordinator -----------------------------------------------------

    def withdraw(self, by: Person, now: datetime, reason: str = "") -> None:
        require(by, Action.WITHDRAW, self)
        from_stage, _ = fire(self, "withdraw")
        self._moved("withdraw", from_stage, by, now, reason or "withdrawn by the proposer")
        self.events.append(events.IdeaWithdrawn(self, by, reason))

    @property
    def sent_back(self) -> bool:
        """Whether the idea is back with its proposer for revision: the round of its open screening or
        funding gate began with a recycle decision, and that gate is not decided yet. (Not on hold: no
        gate is open then. Not merely `gate_round > 1`: the round count goes on through a go, so the
        funding gate after a recycled screening would pass for sent back.)"""
        gate = self.open_gate
        return gate in (Gate.SCREENING, Gate.FUNDING) and self.recycled_into == (gate, self.gate_round)

    @property
    def awaiting_revision(self) -> bool:
        """Whether the idea waits for its proposer's revision: sent back (`sent_back`: the gate the recycle
        reopened is open and not decided since) and not revised in this round yet. Once revised it waits for
        the reviewers again, also after a hold and a resume; the proposer may still revise it once more
        (`sent_back`), but is no longer asked to."""
        return self.sent_back and self.text_round != self.gate_round

    def revise(
        self, by: Person, now: datetime, *, title: str | Keep = KEEP, description: str | Keep = KEEP,
        requested_dkk: int | None | Keep = KEEP, departments: tuple[str, ...] | Keep = KEEP,
    ) -> tuple[str, ...]:
        """The proposer revises their idea while it is sent back for revision (`sent_back`), until its
        gate is decided. Fields not given (KEEP) stay as they are; `requested_dkk=None` asks for no
        amount. The fields follow the rules of a submission. Returns the fields that changed, in
        `REVISABLE`'s order; a revision that changes nothing records nothing. The text it replaces is kept
        whole (`new_versions`: all four fields, the round it was the text of, who replaced it and when)."""
        require(by, Action.REVISE, self)
        if not self.sent_back:
            raise InvalidTransition("revise.not_sent_back", idea=self.id, stage=self.stage)
        if title is not KEEP:
            text.text(title, "title", max_length=TITLE_MAX)
        if description is not KEEP:
            text.text(description, "description", max_length=DESCRIPTION_MAX, multiline=True)
        if requested_dkk is not KEEP and requested_dkk is not None:
            text.amount_dkk(requested_dkk, "requested_dkk")
        if departments is not KEEP:
            departments = tuple(departments)
            for department in departments:
                text.text(department, "departments", max_length=DEPARTMENT_MAX)
        asked = {"title": title, "description": description, "requested_dkk": requested_dkk,
                 "departments": departments}
        changes = {name: value for name, value in asked.items() if value is not KEEP and value != getattr(self, name)}
        if not changes:
            return ()
        # The text the recycle sent back was judged in the round before; one revised already in this round is its own.
        judged_in = self.gate_round if self.text_round == self.gate_round else self.gate_round - 1
        self.new_versions.append(IdeaVersion(judged_in, self.title, self.description, self.requested_dkk,
                                             tuple(self.departments), now, by, self.gate_round))
        self.text_round = self.gate_round
        self.text_version += 1
        for name, value in changes.items():
            setattr(self, name, value)
        self.new_revision = {**(self.new_revision or {}), **changes}
        changed = tuple(changes)
        self._record("revise", self.stage, self.stage, now, by,
                     _REVISED + ", ".join(REVISABLE[name] for name in changed))
        self.events.append(events.IdeaRevised(self, by, changed))
        return changed

    def resume(self, by: Person, now: datetime) -> None:
        require(by, Action.RESUME, self)
        from_stage, _ = fire(self, "resume")
        self._moved("resume", from_stage, by, now, "resumed")
        self.events.append(events.IdeaResumed(self, by))

    # -- timers --------------------------------------------------------------------------------

    def deadline_passed(self, now: datetime) -> None:
        """A gate deadline fired: escalate to the coordinators, or let an unscreened idea lapse."""
        gate = self.open_gate
        if gate is None:
            raise InvalidTransition("gate.none_open", stage=self.stage)
        deadline = self.deadline
        lapse = gate == Gate.SCREENING and self.pool.policy.on_screening_deadline == DeadlinePolicy.LAPSE
        if lapse:
            from_stage, _ = fire(self, "kill")
            self._moved("lapse", from_stage, None, now,
                        "screening deadline passed; the pool's policy lets the idea lapse")
        else:
            self._record("escalate", self.stage, self.stage, now, None, f"{gate} deadline passed; escalated")
        self.events.append(events.DeadlinePassed(self, gate, deadline, lapse))

    def fire_timer(self, kind: TimerKind, now: datetime) -> str:
        """Do what a due timer stands for and say what happened, or why nothing did."""
        try:
            if kind == TimerKind.PILOT_START:
                self.start_pilot(now)
                return "pilot started"
            if kind == TimerKind.PILOT_END:
                self.end_pilot(now)
                return "pilot ended; evaluation gate opened"
            if kind == TimerKind.GATE_REMINDER:
                return self.remind(now)
            gate = self.open_gate
            self.deadline_passed(now)
            return f"{gate} deadline passed; " + ("idea lapsed" if self.stage == Stage.REJECTED else "escalated")
        except InvalidTransition as refused:
            return f"skipped: {refused}"

    def remind(self, now: datetime) -> str:
        gate = self.open_gate
        if gate is None or self.deadline is None or self.deadline <= now:
            raise InvalidTransition("gate.no_deadline_ahead", stage=self.stage)
        self.events.append(events.DeadlineApproaching(self, gate, self.deadline))
        return f"{gate} deadline reminder sent"

    def _arm(self, now: datetime) -> None:
        """Replace the idea's pending timers by the ones its current state needs."""
        timers: list[Timer] = []
        gate = self.open_gate
        self.deadline = None
        if gate is not None:
            if gate == Gate.EVALUATION:
                self.deadline = local_midnight(self.pilot.end) + timedelta(days=1 + self.pool.policy.evaluation_days)
            else:
                self.deadline = now + timedelta(days=self.pool.policy.days_for(gate))
            timers.append(Timer(TimerKind.GATE_DEADLINE, self.deadline))
            reminder_at = self.deadline - timedelta(days=self.pool.policy.reminder_days)
            if self.pool.policy.reminder_days and reminder_at > now:
                timers.append(Timer(TimerKind.GATE_REMINDER, reminder_at))
            self.events.append(events.GateOpened(self, gate, self.deadline))
        elif self.stage == Stage.FUNDED and self.pilot is not None:
            timers.append(Timer(TimerKind.PILOT_START, local_midnight(self.pilot.start)))
        elif self.stage == Stage.PILOTING:
            timers.append(Timer(TimerKind.PILOT_END, local_midnight(self.pilot.end) + timedelta(days=1)))
        self.new_timers = timers

    @property
    def changed(self) -> bool:
        """Whether this command recorded anything the repository must write."""
        return bool(self.new_history or self.new_reviews or self.new_assignments or self.new_conflicts
                    or self.new_versions or self.new_timers is not None)

    @property
    def changed_for_others(self) -> bool:
        """Whether this command changed what anybody but the one who did it sees of the idea: anything it
        recorded but a reviewer's draft, which nobody else reads (`states.reviews.readable_by`) and which
        counts for nothing. The idea's version, which the forms other people have open carry, moves only
        with such a change: a draft leaves their pages as they are, a submitted review does not."""
        drafts_only = (bool(self.new_reviews) and not any(r.submitted for r in self.new_reviews)
                       and not (self.new_history or self.new_decisions or self.new_assignments or self.new_conflicts
                                or self.new_versions or self.new_timers is not None or self.new_pilot
                                or self.new_evaluation or self.new_allocation_dkk is not None
                                or self.new_release_dkk is not None or self.new_revision or self.events))
        return self.changed and not drafts_only

    def forget_changes(self) -> None:
        """Called once the changes are written, so a second save in the same session writes nothing twice."""
        self.new_history, self.new_reviews, self.new_decisions, self.new_assignments = [], [], [], []
        self.new_conflicts, self.new_versions = [], []
        self.events = []
        self.new_timers = self.new_pilot = self.new_evaluation = self.new_allocation_dkk = self.new_revision = None
        self.new_release_dkk = None

    # -- the record ----------------------------------------------------------------------------

    def _moved(self, action: str, from_stage: Stage, by: Person | None, now: datetime, reason: str) -> None:
        """Record a move that `fire` just made, then re-arm the timers the new state needs. Every move
        from a stage at a screening or funding gate ends that gate's round of reviews (a recycle too). An idea
        killed or withdrawn before its pilot began (funded, or on hold from funded) gives its grant back."""
        left = self.held_from if from_stage == Stage.ON_HOLD else from_stage
        self.moved_from = left
        if self.stage != Stage.ON_HOLD:
            self.held_from = None  # resumed, or killed/withdrawn while on hold
        self._record(action, from_stage, self.stage, now, by, reason)
        if self.stage in (Stage.REJECTED, Stage.WITHDRAWN) and left == Stage.FUNDED and self.allocated_dkk:
            self._release_grant(by, now)
        if (ended := GATE_OF_STAGE.get(from_stage)) in (Gate.SCREENING, Gate.FUNDING):
            self.events.append(events.ReviewRoundEnded(self, ended))
        self._arm(now)

    def _release_grant(self, by: Person | None, now: datetime) -> None:
        """The idea ended before its pilot began: its grant goes back to the pool, in the same transaction as
        the move (storage lowers the pool's allocation and marks the allocation released), and the record
        says so in a line of its own. A pilot that has begun has spent its grant: it stays allocated."""
        amount = self.allocated_dkk
        self.pool.release(amount)
        self.allocated_dkk, self.new_release_dkk = None, amount
        self._record("release", self.stage, self.stage, now, by, released_line(amount))

    def _record(
        self, action: str, from_stage: Stage | None, to_stage: Stage, now: datetime, by: Person | None, reason: str,
        subject: Person | None = None,
    ) -> None:
        self.new_history.append(HistoryEntry(action, from_stage, to_stage, now, by, reason, subject))

