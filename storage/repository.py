"""Repositories: turn rows into domain objects and a command's recorded changes back into rows.

The domain never sees a row. An idea is loaded with what its rules need (its pool and criteria, its
proposer, the reviews of its gate's round, also on hold, its pilot and evaluation); after the command, the
repository writes what the idea recorded: the row itself (optimistically locked by `version`), new
history, reviews, decisions, allocation, pilot, evaluation, the earlier text a revision replaced, and the
replacement of its pending timers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from states.criteria import Criterion
from states.errors import BudgetExceeded, NotFound
from states.model import (
    Evaluation,
    GatePolicy,
    Grant,
    Idea,
    IdeaVersion,
    Person,
    PilotPlan,
    Pool,
    Review,
)
from states.vocabulary import OPERATOR_EMAIL, DeadlinePolicy, Decision, Gate, Language, Outcome, Role, Stage, TimerKind
from storage.db import DANISH
from storage.tables import (
    AllocationRow,
    AuditRow,
    ConflictRow,
    CriterionRow,
    DecisionRow,
    DigestWatermarkRow,
    EvaluationRow,
    HistoryRow,
    IdeaRow,
    IdeaVersionRow,
    OutboxRow,
    PersonRow,
    PilotFollowerRow,
    PilotMeasureRow,
    PilotRow,
    PilotSiteRow,
    PoolChangeRow,
    PoolRow,
    RefusalRow,
    ReviewAssignmentRow,
    ReviewRow,
    RoleGrantRow,
    TimerRow,
    new_token,
)

# Statements that every confirmed submission runs (and much else), built once: SQLAlchemy then finds their
# compiled form by the statement's cached key, instead of building and keying a new statement per call;
# they select Core rows, not ORM entities that only carry values into domain objects.
_PEOPLE, _GRANTS, _POOLS, _CRITERIA = (PersonRow.__table__, RoleGrantRow.__table__, PoolRow.__table__,
                                       CriterionRow.__table__)
_PERSON_BY_EMAIL = select(_PEOPLE).where(_PEOPLE.c.email == bindparam("email"))
#: A person by address ignoring letter case (ix_people_email_lower), the first registered if several:
#: how signing in and registering a proposer find people, who type their address as they like.
PERSON_BY_ADDRESS = (select(_PEOPLE).where(func.lower(_PEOPLE.c.email) == bindparam("address"))
                      .order_by(_PEOPLE.c.id).limit(1))
_ADD_PERSON = insert(_PEOPLE).returning(_PEOPLE.c.id)
_ADD_WATERMARK = insert(DigestWatermarkRow.__table__).from_select(
    ["person_id", "history_id"],
    select(bindparam("person_id", type_=Integer), func.coalesce(func.max(HistoryRow.__table__.c.id), 0)))
_GRANTS_OF = (select(_GRANTS.c.person_id, _GRANTS.c.role, _GRANTS.c.pool_id)
              .where(_GRANTS.c.person_id.in_(bindparam("people", expanding=True))))
_HOLDERS = (select(_GRANTS.c.role, *_PEOPLE.c).join(_GRANTS, _GRANTS.c.person_id == _PEOPLE.c.id)
            .where((_GRANTS.c.pool_id == bindparam("pool_id")) | _GRANTS.c.pool_id.is_(None))
            .distinct().order_by(_GRANTS.c.role, _PEOPLE.c.id))
_POOL_BY_ID = select(_POOLS).where(_POOLS.c.id == bindparam("pool_id"))
_CRITERIA_OF = (select(_CRITERIA.c.name, _CRITERIA.c.weight, _CRITERIA.c.must_meet, _CRITERIA.c.description)
                .where(_CRITERIA.c.pool_id == bindparam("pool_id")).order_by(_CRITERIA.c.position))


class PersonRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._by_email: dict[str, Person] = {}
        self._by_id: dict[int, Person] = {}
        self._holding: dict[tuple[Role, int | None], list[Person]] = {}

    def add(self, person: Person, now: datetime) -> Person:
        """Register a person; their first digest will cover what happens from now on."""
        person.id = self.session.scalar(_ADD_PERSON, {"email": person.email, "name": person.name,
                                                      "lang": person.lang, "created_at": now})
        self.session.execute(_ADD_WATERMARK, {"person_id": person.id})
        return self._remember(person)

    def find(self, email: str) -> Person | None:
        if email in self._by_email:
            return self._by_email[email]
        row = self.session.execute(_PERSON_BY_EMAIL, {"email": email}).one_or_none()
        return self._from_rows([row])[0] if row else None

    def find_address(self, email: str) -> Person | None:
        """The person with this address, also when it was written in other letter case ("Aase@Example.dk"
        is aase@example.dk): for registering a proposer, who types their address as they like."""
        person = self.find(email)
        if person is None:
            row = self.session.execute(PERSON_BY_ADDRESS, {"address": email.lower()}).one_or_none()
            person = self._from_rows([row])[0] if row else None
        return person

    def get(self, email: str) -> Person:
        """The person with this address, in whatever letter case it was typed (a follower, a reviewer, the
        one acting): addresses are unique ignoring case."""
        person = self.find_address(email)
        if person is None:
            raise NotFound("person.unknown", email=email)
        return person

    def operator(self) -> Person:
        """The command line's own actor, named in the record for commands given without --by."""
        return self.get(OPERATOR_EMAIL)

    def by_id(self, person_id: int) -> Person:
        if person_id not in self._by_id:
            self._from_rows([self.session.get_one(PersonRow, person_id)])
        return self._by_id[person_id]

    def count_holding(self, role: Role) -> int:
        """How many people hold `role` on some pool or on every pool."""
        return self.session.scalar(select(func.count(RoleGrantRow.person_id.distinct()))
                                   .where(RoleGrantRow.role == role.value))

    def everyone(self) -> list[Person]:
        """Every person with their grants, by name (the administrator's list)."""
        rows = list(self.session.scalars(select(PersonRow).where(PersonRow.email != OPERATOR_EMAIL)
                                         .order_by(PersonRow.name.collate(DANISH), PersonRow.id)))
        return self._from_rows(rows)

    def grant(self, person: Person, grant: Grant, by: Person, now: datetime) -> bool:
        """Give `person` the role; False if they already held exactly this grant."""
        if grant in person.grants:
            return False
        self.session.add(RoleGrantRow(person_id=person.id, role=grant.role, pool_id=grant.pool_id, granted_at=now))
        self.audit(by, person, "grant", now, grant)
        person.grants = person.grants | {grant}
        self._holding.clear()
        return True

    def revoke(self, person: Person, grant: Grant, by: Person, now: datetime) -> bool:
        """Take the role away; False if they did not hold exactly this grant."""
        if grant not in person.grants:
            return False
        pool_matches = (RoleGrantRow.pool_id.is_(None) if grant.pool_id is None
                        else RoleGrantRow.pool_id == grant.pool_id)
        self.session.execute(delete(RoleGrantRow).where(RoleGrantRow.person_id == person.id,
                                                        RoleGrantRow.role == grant.role, pool_matches))
        self.audit(by, person, "revoke", now, grant)
        person.grants = person.grants - {grant}
        self._holding.clear()
        return True

    def revoked_at(self, person: Person, role: Role, pool: Pool) -> datetime | None:
        """When `role` on `pool` (by a grant on it or on every pool) was last taken from `person`, if ever."""
        return self.session.scalar(
            select(func.max(AuditRow.at)).where(
                AuditRow.person_id == person.id, AuditRow.action == "revoke", AuditRow.role == role.value,
                or_(AuditRow.pool_id.is_(None), AuditRow.pool_id == pool.id)))

    def audit(self, by: Person, person: Person, action: str, now: datetime, grant: Grant | None = None) -> None:
        self.session.add(AuditRow(at=now, by_id=by.id, person_id=person.id, action=action,
                                  role=grant.role if grant else None, pool_id=grant.pool_id if grant else None))

    def forget(self, person: Person, email: str, name: str) -> None:
        """Replace a person's address and name by a pseudonym wherever ideaflow stored them.

        The people row changes; history, decisions and reviews point at it by id and stay intact.
        Refusal reasons and queued or sent outbox payloads that quote the old address or name are
        rewritten; mail still waiting for this person is cancelled (it could not be delivered).
        """
        old_email, old_name = person.email, person.name
        self._holding.clear()
        self.session.execute(update(PersonRow.__table__).where(PersonRow.__table__.c.id == person.id)
                             .values(email=email, name=name, digest_token=new_token()))
        refusals = RefusalRow.__table__
        self.session.execute(update(refusals).where(refusals.c.person_id == person.id)
                             .values(reason=func.replace(refusals.c.reason, old_email, email)))
        outbox = OutboxRow.__table__
        self.session.execute(update(outbox).where(outbox.c.recipient_id == person.id, outbox.c.status == "pending")
                             .values(status="failed", last_error="recipient forgotten"))
        for mail_id, payload in self.session.execute(select(outbox.c.id, outbox.c.payload)):
            scrubbed = _replace_in(payload, {old_email: email, old_name: name})
            if scrubbed != payload:
                self.session.execute(update(outbox).where(outbox.c.id == mail_id).values(payload=scrubbed))
        del self._by_email[old_email]
        person.email, person.name = email, name
        self._by_email[email] = person

    def stop_digest(self, person: Person, now: datetime | None) -> None:
        """Stop the person's weekly digest from `now` (a digest already stopped keeps its date), or resume it (None)."""
        people = PersonRow.__table__
        if now is None:
            self.session.execute(update(people).where(people.c.id == person.id).values(digest_stopped_at=None))
        else:
            self.session.execute(update(people).where(people.c.id == person.id, people.c.digest_stopped_at.is_(None))
                                 .values(digest_stopped_at=now))

    def digest_stopped_at(self, person: Person) -> datetime | None:
        return self.session.scalar(select(PersonRow.digest_stopped_at).where(PersonRow.id == person.id))

    def by_digest_token(self, token: str) -> Person | None:
        row = self.session.scalars(select(PersonRow).where(PersonRow.digest_token == token)).one_or_none()
        return self._from_rows([row])[0] if row else None

    def record_refusal(self, person: Person, command: str, idea_id: int | None, reason: str, now: datetime) -> None:
        self.session.add(RefusalRow(at=now, person_id=person.id, command=command, idea_id=idea_id, reason=reason))

    def load(self, person_ids: Iterable[int]) -> None:
        """Bring these people into the unit of work with one query (a sweep batch needs many)."""
        missing = {i for i in person_ids if i not in self._by_id}
        if missing:
            self._from_rows(list(self.session.scalars(select(PersonRow).where(PersonRow.id.in_(missing)))))

    def holding(self, role: Role, pool: Pool) -> list[Person]:
        """Everyone who holds `role` on `pool` (there or on every pool). The holders of every role on the
        pool are read at once, once per unit of work: every event of a sweep batch asks, and a new idea's
        events ask for its coordinators and its reviewers."""
        if (role, pool.id) not in self._holding:
            grants = self.session.execute(_HOLDERS, {"pool_id": pool.id}).all()
            self._from_rows(list({row.id: row for row in grants}.values()))
            for held in Role:
                self._holding[(held, pool.id)] = []
            for row in grants:
                self._holding[(Role(row.role), pool.id)].append(self._by_id[row.id])
        return list(self._holding[(role, pool.id)])

    def _from_rows(self, rows: list) -> list[Person]:
        """People for these rows (of `people`'s columns, ORM or Core), with their grants (one query for all
        the new ones)."""
        new = [row for row in rows if row.id not in self._by_id]
        if new:
            grants: dict[int, set[Grant]] = {row.id: set() for row in new}
            for person_id, role, pool_id in self.session.execute(_GRANTS_OF, {"people": list(grants)}):
                grants[person_id].add(Grant(Role(role), pool_id))
            for row in new:
                self._remember(Person(row.email, row.name, Language(row.lang), row.id, frozenset(grants[row.id])))
        return [self._by_id[row.id] for row in rows]

    def _remember(self, person: Person) -> Person:
        self._by_email[person.email] = self._by_id[person.id] = person
        return person


def _replace_in(value: object, replacements: dict[str, str]) -> object:
    """`value` (a JSON document) with every occurrence of each key replaced inside its strings."""
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace_in(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: _replace_in(item, replacements) for key, item in value.items()}
    return value


class PoolRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._by_id: dict[int, Pool] = {}

    def add(self, pool: Pool, now: datetime) -> Pool:
        policy = pool.policy
        row = PoolRow(
            name=pool.name, year=pool.year, budget_dkk=pool.budget_dkk, allocated_dkk=0,
            screening_days=policy.screening_days, funding_days=policy.funding_days,
            evaluation_days=policy.evaluation_days, reminder_days=policy.reminder_days,
            on_screening_deadline=policy.on_screening_deadline, created_at=now,
        )
        self.session.add(row)
        self.session.flush()
        self.session.execute(
            insert(CriterionRow),
            [
                {"pool_id": row.id, "position": n, "name": c.name, "weight": c.weight,
                 "must_meet": c.must_meet, "description": c.description}
                for n, c in enumerate(pool.criteria)
            ],
        )
        pool.id = row.id
        self._by_id[row.id] = pool
        return pool

    def named_alike(self, name: str) -> str | None:
        """The name of a pool named `name` ignoring letter case (Danish letters too, which SQLite's lower()
        does not fold), if there is one. Municipalities have tens of pools, not thousands."""
        folded = name.casefold()
        return next((other for other in self.session.scalars(select(PoolRow.name)) if other.casefold() == folded),
                    None)

    def get(self, name: str) -> Pool:
        row = self.session.scalars(select(PoolRow).where(PoolRow.name == name)).one_or_none()
        if row is None:
            raise NotFound("pool.unknown", field="pool", pool=name)
        return self._from_row(row)

    def by_id(self, pool_id: int) -> Pool:
        if pool_id not in self._by_id:
            self._from_row(self.session.execute(_POOL_BY_ID, {"pool_id": pool_id}).one())
        return self._by_id[pool_id]

    def all(self) -> list[Pool]:
        pools = self.session.scalars(select(PoolRow).order_by(PoolRow.name.collate(DANISH)))
        return [self._from_row(row) for row in pools]

    def judged(self, pool: Pool) -> bool:
        """Whether any idea of the pool has a review (a draft too) or an evaluation scored on its criteria."""
        ideas = select(IdeaRow.id).where(IdeaRow.pool_id == pool.id)
        return any(self.session.scalar(select(row.id).where(row.idea_id.in_(ideas)).limit(1)) is not None
                   for row in (ReviewRow, EvaluationRow))

    def replace_criteria(self, pool: Pool, criteria: tuple[Criterion, ...], by: Person, now: datetime) -> None:
        """Put `criteria` in place of the pool's, and record the change (before and after) in pool_changes."""
        self.session.execute(delete(CriterionRow).where(CriterionRow.pool_id == pool.id))
        self.session.flush()
        self.session.execute(insert(CriterionRow), [
            {"pool_id": pool.id, "position": n, "name": c.name, "weight": c.weight, "must_meet": c.must_meet,
             "description": c.description} for n, c in enumerate(criteria)])
        self.record_change(pool, "criteria", [_criterion(c) for c in pool.criteria],
                           [_criterion(c) for c in criteria], by, now)
        pool.criteria = criteria

    def record_change(self, pool: Pool, what: str, before: list, after: list, by: Person, now: datetime) -> None:
        """Record in pool_changes that `by` changed the pool's `what` ("criteria", "intake") from `before` to
        `after` (JSON)."""
        self.session.add(PoolChangeRow(at=now, by_id=by.id, pool_id=pool.id, what=what, before=before, after=after))

    def lock(self, pool_id: int) -> bool:
        """Hold the pool's row until the transaction ends (PostgreSQL: FOR UPDATE; SQLite's writers take turns
        already), so that two changes of its settings are made one after the other, the second reading what
        the first saved. Whether the pool exists."""
        return self.session.scalar(select(PoolRow.id).where(PoolRow.id == pool_id).with_for_update()) is not None

    def allocate(self, pool: Pool, amount_dkk: int) -> None:
        """Add to the pool's allocation only if the budget still allows it, atomically in SQL.

        The domain already checked against what it loaded; this guards against a concurrent
        allocation committed since (the conditional UPDATE re-reads the row under its write lock).
        """
        result = self.session.execute(
            update(PoolRow)
            .where(PoolRow.id == pool.id, PoolRow.allocated_dkk + amount_dkk <= PoolRow.budget_dkk)
            .values(allocated_dkk=PoolRow.allocated_dkk + amount_dkk)
        )
        if result.rowcount != 1:
            left = self.session.scalar(select(PoolRow.budget_dkk - PoolRow.allocated_dkk).where(PoolRow.id == pool.id))
            raise BudgetExceeded("budget.exceeded", field="amount_dkk", pool=pool.name, amount_dkk=amount_dkk,
                                 remaining_dkk=left)

    def release(self, pool: Pool, idea_id: int, amount_dkk: int, now: datetime) -> None:
        """Give an idea's grant back to its pool: its allocation marked released and the pool's allocation
        lowered, in SQL (`allocated_dkk - amount`), so a grant committed meanwhile is neither lost nor
        counted twice, and a grant racing this release is checked against what is really left.

        The idea's own versioned UPDATE has gone first, so of two commands ending one idea only one gets
        here; the conditions are the database's own guard against releasing a grant twice."""
        released = self.session.execute(
            update(AllocationRow).where(AllocationRow.idea_id == idea_id, AllocationRow.pool_id == pool.id,
                                        AllocationRow.amount_dkk == amount_dkk, AllocationRow.released_at.is_(None))
            .values(released_at=now))
        lowered = released.rowcount == 1 and self.session.execute(
            update(PoolRow).where(PoolRow.id == pool.id, PoolRow.allocated_dkk >= amount_dkk)
            .values(allocated_dkk=PoolRow.allocated_dkk - amount_dkk)).rowcount == 1
        if not lowered:
            raise StaleDataError(f"the grant of idea {idea_id} is not allocated from pool {pool.id}")

    def _from_row(self, row) -> Pool:
        """The pool of this row (of `pools`' columns, ORM or Core), with its criteria."""
        if row.id in self._by_id:
            return self._by_id[row.id]
        criteria = tuple(Criterion(*c) for c in self.session.execute(_CRITERIA_OF, {"pool_id": row.id}))
        policy = GatePolicy(
            row.screening_days, row.funding_days, row.evaluation_days, row.reminder_days,
            DeadlinePolicy(row.on_screening_deadline),
        )
        pool = Pool(row.name, row.year, row.budget_dkk, criteria, policy, row.allocated_dkk, row.id)
        self._by_id[row.id] = pool
        return pool


def _criterion(c: Criterion) -> dict:
    return {"name": c.name, "weight": c.weight, "must_meet": c.must_meet, "description": c.description}


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """A history row as read back for display."""

    action: str
    from_stage: str | None
    to_stage: str
    at: datetime
    by: str | None
    reason: str
    subject: str | None = None


IDEAS = IdeaRow.__table__
_ADD_IDEA = insert(IDEAS).returning(IDEAS.c.id)


class IdeaRepository:
    def __init__(self, session: Session, people: PersonRepository, pools: PoolRepository) -> None:
        self.session = session
        self.people = people
        self.pools = pools
        self.seen: dict[int, Idea] = {}
        #: The ideas this unit of work inserted, with the state they were inserted in, until their changes are
        #: first written.
        self.added: dict[int, dict] = {}

    def add(self, idea: Idea) -> Idea:
        idea.version = 1
        state = self._state(idea, idea.created_at)
        idea.id = self.session.scalar(_ADD_IDEA, dict(
            pool_id=idea.pool.id, proposer_id=idea.proposer.id, title=idea.title, description=idea.description,
            requested_dkk=idea.requested_dkk, departments=list(idea.departments), created_at=idea.created_at,
            version=idea.version, **state,
        ))
        self.seen[idea.id] = idea
        self.added[idea.id] = state
        return idea

    def _as_inserted(self, idea: Idea) -> bool:
        """Whether this unit of work inserted the idea and no command changed its row since (its history,
        timers and mail are still to be written): then its row needs no UPDATE."""
        inserted = self.added.get(idea.id)
        return inserted is not None and self._state(idea, inserted["updated_at"]) == inserted

    def get(self, idea_id: int) -> Idea:
        return self.load([idea_id])[idea_id]

    def load(self, idea_ids: Iterable[int]) -> dict[int, Idea]:
        """Ideas with everything their rules need, loaded with one query per table for the whole batch."""
        idea_ids = list(dict.fromkeys(idea_ids))
        wanted = [i for i in idea_ids if i not in self.seen]
        for idea_id in wanted:  # ids are INTEGER columns (32-bit in PostgreSQL): a larger one cannot exist,
            if not 0 < idea_id < 2**31:  # and querying for it fails (out of range, or SQLite's OverflowError)
                raise NotFound("idea.unknown", field="idea", idea=idea_id)
        if wanted:
            rows = {row.id: row for row in self.session.execute(select(IDEAS).where(IDEAS.c.id.in_(wanted)))}
            for idea_id in wanted:
                if idea_id not in rows:
                    raise NotFound("idea.unknown", field="idea", idea=idea_id)
            self.people.load(row.proposer_id for row in rows.values())
            pilots, evaluations = self._load_pilots(rows), self._load_evaluations(rows)
            ideas = {i: self._from_row(row, pilots.get(i), evaluations.get(i)) for i, row in rows.items()}
            self._load_open_gates([idea for idea in ideas.values() if idea.round_gate is not None])
            self._load_conflicts(ideas)
            self.seen.update(ideas)
        return {i: self.seen[i] for i in idea_ids}

    def _from_row(self, row: IdeaRow, pilot: PilotPlan | None, evaluation: Evaluation | None) -> Idea:
        return Idea(
            id=row.id, title=row.title, description=row.description,
            pool=self.pools.by_id(row.pool_id), proposer=self.people.by_id(row.proposer_id),
            stage=Stage(row.stage), requested_dkk=row.requested_dkk, departments=tuple(row.departments),
            held_from=Stage(row.held_from) if row.held_from else None, gate_round=row.gate_round,
            deadline=row.deadline, evaluation_open=row.evaluation_open, allocated_dkk=row.allocated_dkk,
            created_at=row.created_at, version=row.version, pilot=pilot, evaluation=evaluation,
        )

    def _load_open_gates(self, ideas: list[Idea]) -> None:
        """Every review version and asked reviewer of each idea's screening or funding gate this round (the
        open one, or the one an idea on hold returns to: `Idea.round_gate`), and which text of the idea it is."""
        if not ideas:
            return
        by_id = {idea.id: idea for idea in ideas}
        reviews = list(self.session.scalars(
            select(ReviewRow).where(ReviewRow.idea_id.in_(by_id)).order_by(ReviewRow.id)))
        asked = self.session.execute(
            select(ReviewAssignmentRow.idea_id, ReviewAssignmentRow.gate, ReviewAssignmentRow.round,
                   ReviewAssignmentRow.reviewer_id)
            .where(ReviewAssignmentRow.idea_id.in_(by_id)).order_by(ReviewAssignmentRow.id)).all()
        self.people.load([r.reviewer_id for r in reviews] + [a.reviewer_id for a in asked])
        in_the_round = lambda idea_id, gate, round: (gate, round) == (by_id[idea_id].round_gate,  # noqa: E731
                                                                      by_id[idea_id].gate_round)
        for r in reviews:
            if in_the_round(r.idea_id, r.gate, r.round):
                by_id[r.idea_id].reviews.append(self._review(r))
        for a in asked:
            if in_the_round(a.idea_id, a.gate, a.round):
                by_id[a.idea_id].assigned.append(self.people.by_id(a.reviewer_id))
        # Only a recycle starts a new round: an idea still in its first round was never sent back, and a
        # batch of those (a new idea confirmed, a sweep of fresh submissions) needs no query for it.
        recycled = [idea_id for idea_id, idea in by_id.items() if idea.gate_round > 1]
        recycles = self.session.execute(
            select(DecisionRow.idea_id, DecisionRow.gate, DecisionRow.round)
            .where(DecisionRow.idea_id.in_(recycled), DecisionRow.decision == Decision.RECYCLE)) if recycled else ()
        for d in recycles:  # the round of the open gate began with a recycle: the idea is sent back
            if in_the_round(d.idea_id, d.gate, d.round):
                by_id[d.idea_id].recycled_into = (Gate(d.gate), d.round)
        # Which text it is (how many texts its revisions replaced) and, sent back, the round of the latest revision
        # (rounds only grow); an idea in its first round was never revised.
        if recycled:
            revised = self.session.execute(
                select(IdeaVersionRow.idea_id, func.count(), func.max(IdeaVersionRow.replaced_in_round))
                .where(IdeaVersionRow.idea_id.in_(recycled)).group_by(IdeaVersionRow.idea_id))
            for idea_id, replaced, latest in revised:
                by_id[idea_id].text_version = replaced
                if by_id[idea_id].recycled_into is not None:
                    by_id[idea_id].text_round = latest

    def _load_conflicts(self, ideas: dict[int, Idea]) -> None:
        rows = self.session.execute(
            select(ConflictRow.idea_id, PersonRow.email).join(PersonRow, ConflictRow.person_id == PersonRow.id)
            .where(ConflictRow.idea_id.in_(ideas)))
        for idea_id, email in rows:
            ideas[idea_id].conflicted.add(email)

    def record_forgotten(self, person: Person, by: Person, now: datetime) -> int:
        """A history row on every idea the forgotten person proposed, naming the erasure, not them."""
        ideas = self.session.execute(select(IDEAS.c.id, IDEAS.c.stage).where(IDEAS.c.proposer_id == person.id)).all()
        self._insert(HistoryRow, [
            {"idea_id": idea_id, "action": "forget", "from_stage": stage, "to_stage": stage, "at": now,
             "by_id": by.id, "reason": "the proposer's name and e-mail address were erased", "subject_id": None}
            for idea_id, stage in ideas
        ])
        return len(ideas)

    def _review(self, r: ReviewRow) -> Review:
        return Review(self.people.by_id(r.reviewer_id), Gate(r.gate), r.round, r.scores, r.must_meet, r.comment,
                      r.weighted_score, r.created_at, r.version, r.submitted)

    def ids(self, *, stage: Stage | None = None, pool: Pool | None = None) -> list[int]:
        query = select(IdeaRow.id).order_by(IdeaRow.id)
        if stage is not None:
            query = query.where(IdeaRow.stage == stage)
        if pool is not None:
            query = query.where(IdeaRow.pool_id == pool.id)
        return list(self.session.scalars(query))

    def reviews(self, idea_id: int) -> list[Review]:
        """Every version of every review of the idea, all gates and rounds, oldest first (for display)."""
        rows = list(self.session.scalars(select(ReviewRow).where(ReviewRow.idea_id == idea_id).order_by(ReviewRow.id)))
        self.people.load(r.reviewer_id for r in rows)
        return [self._review(r) for r in rows]

    def versions(self, idea_ids: Iterable[int]) -> dict[int, list[IdeaVersion]]:
        """The earlier texts of these ideas that revisions replaced, oldest first per idea (for display)."""
        ids = list(idea_ids)
        if not ids:
            return {}
        rows = list(self.session.scalars(
            select(IdeaVersionRow).where(IdeaVersionRow.idea_id.in_(ids)).order_by(IdeaVersionRow.id)))
        self.people.load(r.replaced_by_id for r in rows)
        versions: dict[int, list[IdeaVersion]] = {}
        for r in rows:
            versions.setdefault(r.idea_id, []).append(IdeaVersion(
                r.round, r.title, r.description, r.requested_dkk, tuple(r.departments), r.replaced_at,
                self.people.by_id(r.replaced_by_id), r.replaced_in_round))
        return versions

    def decided_by_request(self, request_id: str) -> tuple[int, Decision] | None:
        """The idea a decision with this request id was recorded for, and the decision, if one was."""
        found = self.session.execute(select(DecisionRow.idea_id, DecisionRow.decision)
                                     .where(DecisionRow.request_id == request_id)).first()
        return (found.idea_id, Decision(found.decision)) if found else None

    def latest_change(self, idea_id: int) -> HistoryLine | None:
        """The history line of the idea's latest change, or None when the idea has no history. (A reviewer's
        draft, which the record does not name, is no change of the idea's version: `Idea.changed_for_others`.)"""
        line = self.session.execute(select(HistoryRow).where(HistoryRow.idea_id == idea_id)
                                    .order_by(HistoryRow.id.desc()).limit(1)).scalar_one_or_none()
        if line is None:
            return None
        return HistoryLine(line.action, line.from_stage, line.to_stage, line.at, None, line.reason)

    def history(self, idea_id: int) -> list[HistoryLine]:
        actor, subject = aliased(PersonRow), aliased(PersonRow)
        rows = self.session.execute(
            select(HistoryRow, actor.email, subject.email)
            .outerjoin(actor, HistoryRow.by_id == actor.id)
            .outerjoin(subject, HistoryRow.subject_id == subject.id)
            .where(HistoryRow.idea_id == idea_id)
            .order_by(HistoryRow.id)
        )
        return [HistoryLine(h.action, h.from_stage, h.to_stage, h.at, by, h.reason, about) for h, by, about in rows]

    def persist_changes(self, now: datetime) -> None:
        """Write what every idea of this unit of work recorded, a statement per table for all of them."""
        ideas = [idea for idea in self.seen.values() if idea.changed]
        if not ideas:
            return
        # The versioned UPDATEs of the idea rows go first: of two concurrent changes to one idea,
        # the loser stops here (StaleDataError) before it touches the pool or any other table. An idea
        # inserted by this unit of work as it stands needs none (nobody else can have seen it yet).
        changed = [idea for idea in ideas if not self._as_inserted(idea) and idea.changed_for_others]
        # A reviewer's draft changes nothing anybody else sees (`Idea.changed_for_others`), so it leaves the
        # version that other people's open forms carry as it is: its UPDATE only checks the version (and
        # takes the row's lock), so a draft still loses to a change committed since it was read (a decision,
        # a revision) and is written before, not beside, one that waits for it.
        checked = [idea for idea in ideas if not self._as_inserted(idea) and not idea.changed_for_others]
        if checked:
            updated = self.session.execute(
                update(IDEAS).where(IDEAS.c.id == bindparam("_id"), IDEAS.c.version == bindparam("_version"))
                .values(version=IDEAS.c.version), [{"_id": idea.id, "_version": idea.version} for idea in checked])
            if updated.rowcount != len(checked):
                raise StaleDataError(f"{len(checked) - updated.rowcount} idea(s) changed by someone else meanwhile")
        if changed:
            states = [self._state(idea, now) for idea in changed]
            updated = self.session.execute(
                update(IDEAS).where(IDEAS.c.id == bindparam("_id"), IDEAS.c.version == bindparam("_version"))
                .values({**{column: bindparam(f"_{column}") for column in states[0]},
                         "version": bindparam("_version_new")}),
                [{"_id": idea.id, "_version": idea.version, "_version_new": idea.version + 1,
                  **{f"_{column}": value for column, value in state.items()}}
                 for idea, state in zip(changed, states, strict=True)],
            )
            if updated.rowcount != len(changed):
                raise StaleDataError(f"{len(changed) - updated.rowcount} idea(s) changed by someone else meanwhile")
            for idea in changed:
                idea.version += 1
        for idea in ideas:  # a proposer's revision: the idea's own columns, rarely (not in every UPDATE above)
            if idea.new_revision:
                revised = {name: list(value) if name == "departments" else value
                           for name, value in idea.new_revision.items()}
                self.session.execute(update(IDEAS).where(IDEAS.c.id == idea.id).values(revised))
        for idea in ideas:
            if idea.new_release_dkk is not None:
                self.pools.release(idea.pool, idea.id, idea.new_release_dkk, now)
            if idea.new_allocation_dkk is not None:
                self.pools.allocate(idea.pool, idea.new_allocation_dkk)
                self.session.add(
                    AllocationRow(pool_id=idea.pool.id, idea_id=idea.id, amount_dkk=idea.new_allocation_dkk, at=now)
                )
        person_id = lambda p: p.id if p is not None else None  # noqa: E731
        self._insert(IdeaVersionRow, [
            {"idea_id": idea.id, "round": v.round, "title": v.title, "description": v.description,
             "requested_dkk": v.requested_dkk, "departments": list(v.departments), "replaced_at": v.replaced_at,
             "replaced_by_id": v.replaced_by.id, "replaced_in_round": v.replaced_in}
            for idea in ideas for v in idea.new_versions
        ])
        self._insert(HistoryRow, [
            {"idea_id": idea.id, "action": h.action, "from_stage": h.from_stage, "to_stage": h.to_stage,
             "at": h.at, "by_id": person_id(h.by), "reason": h.reason, "subject_id": person_id(h.subject)}
            for idea in ideas for h in idea.new_history
        ])
        self._insert(ConflictRow, [
            {"idea_id": idea.id, "person_id": c.person.id, "reason": c.reason, "at": c.at}
            for idea in ideas for c in idea.new_conflicts
        ])
        try:  # a version of one reviewer's review is numbered once (`reviews`' unique key): taken, it was by
            # the same reviewer's save committed since this one read the idea (a draft leaves the idea's
            # version as it is, so two saves of one form, a double click, can both get this far)
            self._insert(ReviewRow, [
                {"idea_id": idea.id, "gate": r.gate, "round": r.round, "reviewer_id": r.reviewer.id,
                 "scores": r.scores, "must_meet": r.must_meet, "comment": r.comment,
                 "weighted_score": r.weighted_score, "created_at": r.at, "version": r.version,
                 "submitted": r.submitted}
                for idea in ideas for r in idea.new_reviews
            ])
        except IntegrityError:
            raise StaleDataError("a review version saved by the same reviewer meanwhile") from None
        self._insert(DecisionRow, [
            {"idea_id": idea.id, "gate": d.gate, "round": d.round, "decision": d.decision, "by_id": d.by.id,
             "amount_dkk": d.amount_dkk, "reason": d.reason, "at": d.at, "request_id": d.request_id}
            for idea in ideas for d in idea.new_decisions
        ])
        self._insert(ReviewAssignmentRow, [
            {"idea_id": idea.id, "gate": a.gate, "round": a.round, "reviewer_id": a.reviewer.id,
             "by_id": a.by.id, "at": a.at}
            for idea in ideas for a in idea.new_assignments
        ])
        self._insert(EvaluationRow, [
            {"idea_id": idea.id, "by_id": e.by.id, "scores": e.scores, "weighted_score": e.weighted_score,
             "outcome": e.outcome, "comment": e.comment, "at": e.at}
            for idea in ideas if (e := idea.new_evaluation) is not None
        ])
        for idea in ideas:
            if idea.new_pilot is not None:
                self._save_pilot(idea.id, idea.new_pilot, now)
        rearmed = [idea for idea in ideas if idea.new_timers is not None]
        cancelled = [idea.id for idea in rearmed if idea.id not in self.added]  # a new idea has no timers yet
        if cancelled:
            self.session.execute(
                update(TimerRow).where(TimerRow.idea_id.in_(cancelled),
                                       TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None))
                .values(cancelled_at=now)
            )
        self._insert(TimerRow, [{"idea_id": idea.id, "kind": t.kind, "due_at": t.due_at, "created_at": now}
                                for idea in rearmed for t in idea.new_timers])
        self.added.clear()  # written now: a later change in this unit of work is an ordinary one

    def _insert(self, mapped: type, rows: list[dict]) -> None:
        if rows:
            self.session.execute(insert(mapped.__table__), rows)

    @staticmethod
    def _state(idea: Idea, now: datetime) -> dict:
        """The columns a command may change, with their new values."""
        return {"stage": idea.stage, "held_from": idea.held_from, "gate_round": idea.gate_round,
                "deadline": idea.deadline, "evaluation_open": idea.evaluation_open,
                "allocated_dkk": idea.allocated_dkk, "updated_at": now}

    def _save_pilot(self, idea_id: int, plan: PilotPlan, now: datetime) -> None:
        """Store a pilot plan, replacing an earlier plan of the same idea (a funded idea may re-plan)."""
        existing = self.session.scalar(select(PilotRow.id).where(PilotRow.idea_id == idea_id))
        if existing is not None:
            for table in (PilotSiteRow, PilotFollowerRow, PilotMeasureRow):
                self.session.execute(delete(table).where(table.pilot_id == existing))
            self.session.execute(delete(PilotRow).where(PilotRow.id == existing))
        row = PilotRow(idea_id=idea_id, start_date=plan.start, end_date=plan.end, planned_at=now)
        self.session.add(row)
        self.session.flush()
        self.session.add_all(
            [PilotSiteRow(pilot_id=row.id, name=s) for s in plan.sites]
            + [PilotFollowerRow(pilot_id=row.id, person_id=p.id) for p in plan.followers]
            + [PilotMeasureRow(pilot_id=row.id, description=m) for m in plan.measures]
        )

    def _load_pilots(self, rows: dict[int, IdeaRow]) -> dict[int, PilotPlan]:
        pilots = {row.idea_id: row for row in self.session.scalars(select(PilotRow).where(PilotRow.idea_id.in_(rows)))}
        if not pilots:
            return {}
        pilot_ids = [row.id for row in pilots.values()]
        parts: dict[str, dict[int, list]] = {"sites": {}, "followers": {}, "measures": {}}
        for key, column, table in (("sites", PilotSiteRow.name, PilotSiteRow),
                                   ("followers", PilotFollowerRow.person_id, PilotFollowerRow),
                                   ("measures", PilotMeasureRow.description, PilotMeasureRow)):
            for pilot_id, value in self.session.execute(
                    select(table.pilot_id, column).where(table.pilot_id.in_(pilot_ids)).order_by(table.id)):
                parts[key].setdefault(pilot_id, []).append(value)
        self.people.load(i for ids in parts["followers"].values() for i in ids)
        return {
            idea_id: PilotPlan(row.start_date, row.end_date, tuple(parts["sites"].get(row.id, ())),
                               tuple(self.people.by_id(i) for i in parts["followers"].get(row.id, ())),
                               tuple(parts["measures"].get(row.id, ())))
            for idea_id, row in pilots.items()
        }

    def _load_evaluations(self, rows: dict[int, IdeaRow]) -> dict[int, Evaluation]:
        found = list(self.session.scalars(select(EvaluationRow).where(EvaluationRow.idea_id.in_(rows))))
        self.people.load(row.by_id for row in found)
        return {row.idea_id: Evaluation(self.people.by_id(row.by_id), row.scores, Outcome(row.outcome), row.comment,
                                        row.weighted_score, row.at)
                for row in found}


@dataclass(frozen=True, slots=True)
class DueTimer:
    id: int
    idea_id: int
    kind: TimerKind
    due_at: datetime


class TimerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def due(self, now: datetime, limit: int) -> list[DueTimer]:
        """Pending timers due by `now`, oldest first, found through the partial index."""
        rows = self.session.execute(
            select(TimerRow.id, TimerRow.idea_id, TimerRow.kind, TimerRow.due_at)
            .where(TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None), TimerRow.due_at <= now)
            .order_by(TimerRow.due_at, TimerRow.id)
            .limit(limit)
            # PostgreSQL: concurrent sweeps take different batches instead of queueing for the same
            # one (SQLite ignores this; its writers are serialised by BEGIN IMMEDIATE anyway).
            .with_for_update(skip_locked=True)
        )
        return [DueTimer(i, idea, TimerKind(kind), due) for i, idea, kind, due in rows]

    def claim(self, timer_ids: Sequence[int], now: datetime) -> set[int]:
        """Mark timers fired if nobody else has; return the ids this transaction owns.

        The WHERE clause re-checks that each is still pending, so of two overlapping sweeps only one
        gets each timer (on PostgreSQL the second waits for the first's row locks, then sees them fired).
        """
        if not timer_ids:
            return set()
        claimed = self.session.scalars(
            update(TimerRow)
            .where(TimerRow.id.in_(timer_ids), TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None))
            .values(fired_at=now)
            .returning(TimerRow.id)
        )
        return set(claimed)

    def record_outcomes(self, outcomes: Iterable[tuple[int, str]]) -> None:
        rows = [{"timer_id": timer_id, "outcome": outcome} for timer_id, outcome in outcomes]
        if rows:
            self.session.execute(
                update(TimerRow.__table__)
                .where(TimerRow.__table__.c.id == bindparam("timer_id"))
                .values(outcome=bindparam("outcome")),
                rows,
            )

    def pending(self, idea_id: int) -> list[DueTimer]:
        rows = self.session.execute(
            select(TimerRow.id, TimerRow.idea_id, TimerRow.kind, TimerRow.due_at)
            .where(TimerRow.idea_id == idea_id, TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None))
            .order_by(TimerRow.due_at)
        )
        return [DueTimer(i, idea, TimerKind(kind), due) for i, idea, kind, due in rows]


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A claimed outbox row, with what rendering and delivery need."""

    id: int
    message_key: str
    kind: str
    recipient_email: str
    recipient_name: str
    lang: str
    payload: dict
    created_at: datetime
    attempts: int
    unsubscribe_token: str | None
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxLine:
    id: int
    kind: str
    recipient: str
    idea_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PendingMail:
    free: int  # pending, held by no flush
    waiting: int  # of those, waiting to be retried after a failure
    leased: int  # pending, held by a flush (being sent, or its flush died and the lease has yet to run out)
    error: str | None  # the most common error of those waiting


#: How long a claimed outbox row is its claimer's before a flush may take it again (a crashed sender's).
MAIL_LEASE = timedelta(minutes=10)

_OUTBOX = OutboxRow.__table__
#: A confirmation link's mail queued (`add_to_address`) and any mail marked sent (`mark_sent`), the
#: statements built once: SQLAlchemy then finds their compiled form by the statement's cached key
#: instead of building, keying and looking up a new statement every time.
_ADD_TO_ADDRESS = insert(_OUTBOX).returning(_OUTBOX.c.id, _OUTBOX.c.message_key)
_MARK_SENT = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("mail_id"))
              .values(status="sent", last_error=None, leased_until=None, secret=None, sent_at=bindparam("now")))


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._queued: list[dict] = []

    def add(self, kind: str, recipient: Person, idea: Idea | None, payload: dict, now: datetime) -> None:
        """Queue a message; written with the others of this unit of work by `write_queued` at commit."""
        self._queued.append({"kind": kind, "idea_id": idea.id if idea else None, "recipient_id": recipient.id,
                             "payload": payload, "created_at": now, "status": "pending", "attempts": 0,
                             "next_attempt_at": now, "last_error": None})

    def add_to_address(self, kind: str, email: str, name: str, lang: str, payload: dict, now: datetime,
                       secret: str | None = None, *, leased_until: datetime | None = None) -> OutgoingMail:
        """Queue a message to an address that belongs to nobody registered (yet); returns it as a flush
        would claim it, in one statement.

        `secret` (a one-time link token) is kept apart from the payload and cleared when the row is settled.
        With `leased_until` the row is born leased to the caller, its attempt counted, as `claim_due`
        would leave it: the caller delivers it at once (`Services.deliver_leased`) without a second
        transaction to claim it, and if the caller dies first, a flush takes it when the lease runs out.
        """
        attempts = 0 if leased_until is None else 1
        mail_id, message_key = self.session.execute(_ADD_TO_ADDRESS, dict(
            kind=kind, idea_id=None, recipient_id=None, to_email=email, to_name=name, to_lang=lang,
            payload=payload, secret=secret, created_at=now, status="pending", attempts=attempts,
            next_attempt_at=now, leased_until=leased_until)).one()
        return OutgoingMail(mail_id, message_key, kind, email, name, lang, payload, now, attempts, None, secret)

    def write_queued(self) -> None:
        if self._queued:
            self.session.execute(insert(OutboxRow.__table__), self._queued)
            self._queued = []

    def claim_due(self, now: datetime, limit: int, lease: timedelta, only: Sequence[int] | None = None, *,
                  deferred_too: bool = False) -> list[OutgoingMail]:
        """Lease up to `limit` due messages (of `only` these, if given) to this flush until `now + lease`;
        with `deferred_too`, also messages still waiting for their backoff after a failed attempt (an
        operator's flush: *now*).

        Leased messages are no one else's, whether a concurrent flush is forced or not; if this process
        dies mid-send, they can be claimed again when the lease runs out. The attempt is counted before
        sending, so a message that crashes its sender every time still reaches `max_attempts` and stops.
        """
        claimable = and_(OutboxRow.status == "pending",
                         or_(OutboxRow.leased_until.is_(None), OutboxRow.leased_until <= now),
                         *(() if deferred_too else (OutboxRow.next_attempt_at <= now,)),
                         *(() if only is None else (OutboxRow.id.in_(only),)))
        due = list(self.session.scalars(
            select(OutboxRow.id).where(claimable).order_by(OutboxRow.id).limit(limit).with_for_update(skip_locked=True)
        ))
        if not due:
            return []
        claimed = set(self.session.scalars(
            update(OutboxRow)
            .where(OutboxRow.id.in_(due), claimable)
            .values(leased_until=now + lease, attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow.id)
        ))
        rows = self.session.execute(
            select(OutboxRow.id, OutboxRow.message_key, OutboxRow.kind,
                   func.coalesce(PersonRow.email, OutboxRow.to_email), func.coalesce(PersonRow.name, OutboxRow.to_name),
                   func.coalesce(PersonRow.lang, OutboxRow.to_lang), OutboxRow.payload, OutboxRow.created_at,
                   OutboxRow.attempts, PersonRow.digest_token, OutboxRow.secret)
            .outerjoin(PersonRow, OutboxRow.recipient_id == PersonRow.id)
            .where(OutboxRow.id.in_(claimed))
            .order_by(OutboxRow.id)
        )
        return [OutgoingMail(*row) for row in rows]

    def mark_sent(self, mail_id: int, now: datetime) -> None:
        """The server accepted the message: its lease, any error and its link token go."""
        self.session.execute(_MARK_SENT, {"mail_id": mail_id, "now": now})

    def settle(self, mail_id: int, now: datetime, *, status: str, next_attempt_at: datetime | None = None,
               error: str | None = None, tried: bool = True) -> None:
        """End this flush's lease on a message that was not sent: `failed` for good, or `pending` to be
        retried at `next_attempt_at`. One that was `tried=False` (its flush stopped before it, the server
        being gone) gives its attempt back."""
        table = OutboxRow.__table__
        values = {"status": status, "last_error": error, "leased_until": None}
        if status != "pending":  # a link token is needed no longer than its message
            values["secret"] = None
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if not tried:
            values["attempts"] = table.c.attempts - 1
        self.session.execute(update(table).where(table.c.id == mail_id).values(**values))

    def recipients(self, kind: str, idea_id: int, *, gate: str, round_: int) -> set[int]:
        """The people a message of `kind` about the idea's `gate` and `round_` goes or went to (pending or
        sent, also queued in this unit of work); a dropped or failed one does not count."""
        about = (kind, idea_id, "pending", gate, round_)
        queued = {q["recipient_id"] for q in self._queued
                  if (q["kind"], q["idea_id"], q["status"], *map(q["payload"].get, ("gate", "round"))) == about}
        table = OutboxRow.__table__
        stored = self.session.scalars(select(table.c.recipient_id).where(
            table.c.kind == kind, table.c.idea_id == idea_id, table.c.status.in_(("pending", "sent")),
            table.c.payload["gate"].as_string() == gate, table.c.payload["round"].as_integer() == round_))
        return queued | set(stored)

    def drop_unsent(self, idea_id: int, kinds: Sequence[str], now: datetime, reason: str) -> int:
        """Settle as `dropped` the idea's messages of these kinds that no flush is sending now (pending,
        unleased or leased by a flush that died), saying why, also those queued in this unit of work; one
        being sent this moment is left to it."""
        for queued in self._queued:
            if queued["idea_id"] == idea_id and queued["kind"] in kinds:
                queued.update(status="dropped", last_error=reason)
        table = OutboxRow.__table__
        return self.session.execute(
            update(table)
            .where(table.c.idea_id == idea_id, table.c.kind.in_(kinds), table.c.status == "pending",
                   or_(table.c.leased_until.is_(None), table.c.leased_until <= now))
            .values(status="dropped", last_error=reason, secret=None)
        ).rowcount

    def lines(self, statuses: Sequence[str] = ("pending", "failed")) -> list[OutboxLine]:
        rows = self.session.execute(
            select(OutboxRow.id, OutboxRow.kind, func.coalesce(PersonRow.email, OutboxRow.to_email), OutboxRow.idea_id,
                   OutboxRow.status, OutboxRow.attempts, OutboxRow.next_attempt_at, OutboxRow.last_error)
            .outerjoin(PersonRow, OutboxRow.recipient_id == PersonRow.id)
            .where(OutboxRow.status.in_(statuses))
            .order_by(OutboxRow.id)
        )
        return [OutboxLine(*row) for row in rows]

    def delete_queued_by(self, kind: str, created_by: datetime) -> int:
        """Delete the messages of `kind` queued up to a moment, sent or not: their link has expired, and they
        hold (address, name, the idea's title) what was to be deleted with it."""
        return self.session.execute(
            delete(OutboxRow.__table__)
            .where(OutboxRow.__table__.c.kind == kind, OutboxRow.__table__.c.created_at <= created_by)
        ).rowcount

    def count_waiting_for_retry(self) -> int:
        return self.session.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.status == "pending", OutboxRow.last_error.is_not(None)))

    def pending_at(self, now: datetime) -> PendingMail:
        """The pending mail at `now`: how much no flush holds, of it how much waits to be retried after a
        failure (and their most common error), and how much a flush holds leased (it is being sent)."""
        leased = and_(OutboxRow.leased_until.is_not(None), OutboxRow.leased_until > now)
        free, waiting, held = self.session.execute(
            select(func.count().filter(~leased),
                   func.count().filter(~leased, OutboxRow.last_error.is_not(None)),
                   func.count().filter(leased))
            .select_from(OutboxRow).where(OutboxRow.status == "pending")).one()
        error = None
        if waiting:
            error = self.session.scalar(
                select(OutboxRow.last_error)
                .where(OutboxRow.status == "pending", ~leased, OutboxRow.last_error.is_not(None))
                .group_by(OutboxRow.last_error).order_by(func.count().desc(), func.min(OutboxRow.id)).limit(1))
        return PendingMail(free, waiting, held, error)

    def resend_failed(self, now: datetime, note: str, *, except_kinds: Sequence[str] = (),
                      only: Sequence[int] | None = None) -> list[int]:
        """Put failed mail (of `only` these rows, if given; not of `except_kinds`) back as new: pending, due
        `now`, attempts reset; its last error is kept behind `note` (who sent it again, when). Returns their ids."""
        table = OutboxRow.__table__
        return list(self.session.scalars(
            update(table)
            .where(table.c.status == "failed", table.c.kind.not_in(except_kinds),
                   *(() if only is None else (table.c.id.in_(only),)))
            .values(status="pending", attempts=0, next_attempt_at=now, leased_until=None,
                    last_error=func.coalesce(note + "; before: " + table.c.last_error, note))
            .returning(table.c.id)))

    def count(self, status: str) -> int:
        return self.session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == status))
