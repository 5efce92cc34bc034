"""The console's administrative pages: pools, people and roles, and the mail that waits or failed.

    admin = container.administration
    admin.pools(email, now)                   # the pools a coordinator runs (every pool for an administrator)
    admin.pool(pool_id, email, now)           # one of them: budget, allocations, criteria, policy, intake
    admin.set_criteria(pool_id, criteria, now, by=email)   # an administrator replaces a pool's criteria
    admin.people(email, now)                  # everybody and their grants (administrators only)
    admin.outbox(email, now)                  # mail that waits or failed, as far as the person may see it
    admin.mail_to_flush(email, now)           # the ids of that mail a "try again now" delivers

Every call checks the person first: who may not is refused with NotAllowed, and the attempt is
recorded in the refusals audit. A coordinator sees the pools they coordinate and the mail about
those pools' ideas; an administrator sees every pool, every person and all the mail (sign-in links,
confirmations and digests concern no pool).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Engine, select

from ideaflow.audit import record_refusal
from ideaflow.views import PoolView, pool_view
from states.criteria import Criterion, check_criteria
from states.errors import NotAllowed, NotFound, Refused
from states.model import Person, Pool
from states.rules import coordinates, may_administer
from states.vocabulary import OPERATOR_EMAIL
from storage.repository import OutboxLine
from storage.tables import AllocationRow, IdeaRow, PoolChangeRow, PoolRow
from storage.unit_of_work import UnitOfWork


class PoolLine(BaseModel):
    id: int
    name: str
    year: int
    budget_dkk: int
    allocated_dkk: int
    remaining_dkk: int


class AllocationLine(BaseModel):
    idea_id: int
    title: str
    stage: str
    amount_dkk: int
    at: datetime
    #: When the grant went back to the pool (its idea ended before its pilot began); None while allocated.
    released_at: datetime | None = None


class CriteriaChange(BaseModel):
    at: datetime
    by: str
    before: list[dict]
    after: list[dict]


class PoolPage(BaseModel):
    pool: PoolView
    #: The grants the pool's allocation counts: also those of pilots stopped after they began (spent).
    allocations: list[AllocationLine]
    #: Grants given back to the pool: ideas killed or withdrawn before their pilots began. Not counted.
    released: list[AllocationLine]
    may_edit_criteria: bool
    # Once an idea of the pool is reviewed or evaluated, only the criteria's descriptions may change.
    criteria_in_use: bool
    changes: list[CriteriaChange]


class GrantLine(BaseModel):
    role: str
    pool_id: int | None
    pool: str | None  # None: every pool


class PersonLine(BaseModel):
    email: str
    name: str
    grants: list[GrantLine]


class Administration:
    """The administrative read models and the criteria change, bound to one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- pools ---------------------------------------------------------------------------------------

    def pools(self, email: str, now: datetime) -> list[PoolLine]:
        with UnitOfWork(self.engine, read_only=True) as uow:
            person = uow.people.get(email)
            pools = [p for p in uow.pools.all() if _runs(person, p)]
        if not pools and not may_administer(person):
            self._refuse(email, "pools", NotAllowed("not_allowed.pools", person=email), now)
        return [PoolLine(id=p.id, name=p.name, year=p.year, budget_dkk=p.budget_dkk, allocated_dkk=p.allocated_dkk,
                         remaining_dkk=p.remaining_dkk) for p in pools]

    def pool(self, pool_id: int, email: str, now: datetime) -> PoolPage:
        with UnitOfWork(self.engine, read_only=True) as uow:
            person = uow.people.get(email)
            pool = self._pool(uow, pool_id)
            allowed = _runs(person, pool)
            if allowed:
                grants = [
                    AllocationLine(idea_id=idea_id, title=title, stage=stage, amount_dkk=amount, at=at,
                                   released_at=released_at)
                    for idea_id, title, stage, amount, at, released_at in uow.session.execute(
                        select(IdeaRow.id, IdeaRow.title, IdeaRow.stage, AllocationRow.amount_dkk, AllocationRow.at,
                               AllocationRow.released_at)
                        .join(AllocationRow, AllocationRow.idea_id == IdeaRow.id)
                        .where(AllocationRow.pool_id == pool.id).order_by(AllocationRow.at, IdeaRow.id))]
                allocations = [line for line in grants if line.released_at is None]
                released = [line for line in grants if line.released_at is not None]
                changes = [
                    CriteriaChange(at=row.at, by=uow.people.by_id(row.by_id).email, before=row.before, after=row.after)
                    for row in uow.session.scalars(select(PoolChangeRow).where(PoolChangeRow.pool_id == pool.id)
                                                   .order_by(PoolChangeRow.id))]
                in_use = uow.pools.judged(pool)
        if not allowed:
            self._refuse(email, "pool", NotAllowed("not_allowed.pool", person=email, pool=pool.name), now)
        return PoolPage(pool=pool_view(self.engine, pool.name, now), allocations=allocations, released=released,
                        may_edit_criteria=may_administer(person), criteria_in_use=in_use, changes=changes)

    def set_criteria(self, pool_id: int, criteria: tuple[Criterion, ...], now: datetime, *,
                     by: str = OPERATOR_EMAIL) -> bool:
        """Replace the pool's criteria (an administrator's task); False if nothing changed.

        Reviews and evaluations are scored against the criteria as they were: once an idea of the pool
        has one, a change of a name, weight or must-meet would make them incomplete or weigh them
        anew, so only descriptions may change then (refused otherwise, naming why)."""
        check_criteria(criteria)
        with UnitOfWork(self.engine) as uow:
            actor = uow.people.get(by)
            pool = self._pool(uow, pool_id)
            if not may_administer(actor):
                refusal = NotAllowed("not_allowed.administrator", person=by, task="edit_criteria")
            elif criteria == pool.criteria:
                return False
            elif _scoring(criteria) != _scoring(pool.criteria) and uow.pools.judged(pool):
                raise Refused("pool.criteria_in_use", field="criteria", pool=pool.name)
            else:
                uow.pools.replace_criteria(pool, criteria, actor, now)
                uow.commit(now)
                return True
        self._refuse(by, "pool criteria", refusal, now)

    def require_administrator(self, email: str, task: str, now: datetime) -> None:
        """Refuse (recorded) anybody but an administrator opening a form only administrators may send."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            if may_administer(uow.people.get(email)):
                return
        self._refuse(email, task, NotAllowed("not_allowed.administrator", person=email, task=task), now)

    # -- people --------------------------------------------------------------------------------------

    def people(self, email: str, now: datetime) -> list[PersonLine]:
        with UnitOfWork(self.engine, read_only=True) as uow:
            person = uow.people.get(email)
            if may_administer(person):
                names = {p.id: p.name for p in uow.pools.all()}
                return [PersonLine(email=p.email, name=p.name, grants=[
                    GrantLine(role=g.role, pool_id=g.pool_id, pool=names.get(g.pool_id))
                    for g in sorted(p.grants, key=lambda g: (g.role, g.pool_id is not None, names.get(g.pool_id, "")))
                ]) for p in uow.people.everyone()]
        self._refuse(email, "people", NotAllowed("not_allowed.administrator", person=email, task="see_people"), now)

    # -- mail ----------------------------------------------------------------------------------------

    def outbox(self, email: str, now: datetime) -> list[OutboxLine]:
        """Mail that waits or failed, oldest first: all of it for an administrator, the mail about the
        ideas of their pools for a coordinator."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            person = uow.people.get(email)
            everything = may_administer(person)
            pools = {p.id for p in uow.pools.all() if coordinates(person, p)}
            if everything or pools:
                lines = uow.outbox.lines()
                pool_of = dict(uow.session.execute(select(IdeaRow.id, IdeaRow.pool_id).where(
                    IdeaRow.id.in_({line.idea_id for line in lines if line.idea_id is not None}))).all())
                return [line for line in lines if everything or pool_of.get(line.idea_id) in pools]
        self._refuse(email, "outbox", NotAllowed("not_allowed.outbox", person=email), now)

    def mail_to_flush(self, email: str, now: datetime) -> list[int]:
        """The outbox rows the person's "try again now" delivers: those their outbox lists (an administrator's:
        all; a coordinator's: their pools'), so nobody sends mail they may not see. Anybody else is refused
        (recorded)."""
        return [line.id for line in self.outbox(email, now) if line.status == "pending"]

    # -- helpers -------------------------------------------------------------------------------------

    @staticmethod
    def _pool(uow: UnitOfWork, pool_id: int) -> Pool:
        if not 0 < pool_id < 2**31 or uow.session.get(PoolRow, pool_id) is None:
            raise NotFound("pool.unknown", field="pool", pool=pool_id)
        return uow.pools.by_id(pool_id)

    def _refuse(self, email: str, command: str, refusal: NotAllowed, now: datetime):
        record_refusal(self.engine, email, command, None, refusal, now)
        raise refusal


def _runs(person: Person, pool: Pool) -> bool:
    return may_administer(person) or coordinates(person, pool)


def _scoring(criteria: tuple[Criterion, ...]) -> list[tuple[str, float, bool]]:
    """What reviews are scored and weighed by (not the descriptions, nor the order)."""
    return sorted((c.name, c.weight, c.must_meet) for c in criteria)

