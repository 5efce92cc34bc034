"""The console's administrative pages: pools, people and roles, and the mail that waits or failed.

    admin = container.administration
    admin.pools(email, now)                   # the pools a coordinator runs (every pool for an administrator)
    admin.pool(pool_id, email, now)           # one of them: budget, allocations, criteria, policy, intake
    admin.set_criteria(pool_id, criteria, now, by=email, seen=fingerprint)   # an administrator replaces them
    admin.people(email, now)                  # everybody and their grants (administrators only)
    admin.revocation(person, role, pool, email, now)  # what revoking that grant would take away (to confirm it)
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
from ideaflow.digests import GATE_STAGES
from ideaflow.views import PoolView, pool_view
from states.criteria import Criterion, check_criteria, criteria_fingerprint
from states.errors import BadInput, NotAllowed, NotFound, Refused
from states.fingerprint import require_unchanged
from states.intake import PoolIntake
from states.model import Grant, Person, Pool
from states.reviews import asked
from states.rules import coordinates, is_last_administrator, may_administer
from states.vocabulary import GRANTABLE_ROLES, OPERATOR_EMAIL, Role
from storage.repository import OutboxLine
from storage.tables import IdeaRow, PoolChangeRow, PoolRow
from storage.unit_of_work import UnitOfWork


class PoolLine(BaseModel):
    id: int
    name: str
    year: int
    budget_dkk: int
    allocated_dkk: int
    remaining_dkk: int


class CriteriaChange(BaseModel):
    at: datetime
    by: str
    before: list[dict]
    after: list[dict]


class IntakeChange(BaseModel):
    at: datetime
    by: str
    #: The settings changed (`states.intake.PoolIntake`'s names), in the order of the form.
    settings: list[str]


class PoolPage(BaseModel):
    #: Its budget and grants as `ideaflow pool show` prints them (`ideaflow.views.pool_view`).
    pool: PoolView
    may_edit_criteria: bool
    # Once an idea of the pool is reviewed or evaluated, only the criteria's descriptions may change.
    criteria_in_use: bool
    changes: list[CriteriaChange]
    intake_changes: list[IntakeChange]
    #: The fingerprints of the criteria and the intake settings shown (`states.fingerprint`): their forms carry
    #: them back (`seen`), so a save from a copy older than what is stored is refused.
    criteria_seen: str
    intake_seen: str


class GrantLine(BaseModel):
    role: str
    pool_id: int | None
    pool: str | None  # None: every pool
    #: Whether an administrator may revoke it now: not a role given only on the command line (the
    #: operator's), nor the administrator role of the last person who holds it.
    revocable: bool


class PersonLine(BaseModel):
    email: str
    name: str
    grants: list[GrantLine]


class Revocation(BaseModel):
    """A grant an administrator is about to revoke, and what the person would lose with it (the page that
    asks them to confirm says so). `held`: whether the person holds exactly this grant now. `kept_on`:
    the pools of `pool` (or, for a grant on every pool, of all pools) where they keep the role by another
    grant. `reviews_waiting`: for a reviewer, the ideas whose open gate asks them for a review they have
    not submitted, and would no longer ask them."""

    email: str
    name: str
    role: str
    pool: str | None  # None: every pool
    held: bool
    kept_on: list[str]
    reviews_waiting: int
    last_administrator: bool  # then it may not be revoked (`states.rules.is_last_administrator`)


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
                rows = uow.session.scalars(select(PoolChangeRow).where(PoolChangeRow.pool_id == pool.id)
                                           .order_by(PoolChangeRow.id)).all()
                changes = [CriteriaChange(at=row.at, by=uow.people.by_id(row.by_id).email, before=row.before,
                                          after=row.after) for row in rows if row.what == "criteria"]
                intake_changes = [IntakeChange(at=row.at, by=uow.people.by_id(row.by_id).email,
                                               settings=_changed(row.before, row.after))
                                  for row in rows if row.what == "intake"]
                in_use = uow.pools.judged(pool)
        if not allowed:
            self._refuse(email, "pool", NotAllowed("not_allowed.pool", person=email, pool=pool.name), now)
        view = pool_view(self.engine, pool.name, now)
        shown = view.intake  # the fingerprints are of what the page shows, read once
        intake = PoolIntake(shown.opens_at, shown.closes_at, shown.description, shown.criteria_text,
                            shown.grant_min_dkk, shown.grant_max_dkk)
        criteria = tuple(Criterion(c.name, c.weight, c.must_meet, c.description) for c in view.criteria)
        return PoolPage(pool=view, may_edit_criteria=may_administer(person), criteria_in_use=in_use, changes=changes,
                        intake_changes=intake_changes, criteria_seen=criteria_fingerprint(criteria),
                        intake_seen=intake.fingerprint())

    def set_criteria(self, pool_id: int, criteria: tuple[Criterion, ...], now: datetime, *,
                     by: str = OPERATOR_EMAIL, seen: str | None = None) -> bool:
        """Replace the pool's criteria (an administrator's task); False if nothing changed.

        Reviews and evaluations are scored against the criteria as they were: once an idea of the pool
        has one, a change of a name, weight or must-meet would make them incomplete or weigh them
        anew, so only descriptions may change then (refused otherwise, naming why).

        `seen`: the fingerprint of the criteria the change was made from (`criteria_fingerprint`; the
        console's form carries it). When the criteria have changed since, the change is refused (Conflict)
        and nothing is saved; criteria already as asked are no conflict (a form sent twice). None: no such
        check."""
        check_criteria(criteria)
        with UnitOfWork(self.engine) as uow:
            actor = uow.people.get(by)
            pool = self._pool(uow, pool_id, lock=True)  # one change of its settings at a time, each seeing the last
            if not may_administer(actor):
                refusal = NotAllowed("not_allowed.administrator", person=by, task="edit_criteria")
            elif criteria == pool.criteria:
                return False
            else:
                require_unchanged(seen, criteria_fingerprint(pool.criteria), pool=pool.name, settings="criteria")
                if _scoring(criteria) != _scoring(pool.criteria) and uow.pools.judged(pool):
                    raise Refused("pool.criteria_in_use", field="criteria", pool=pool.name)
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
                administrators = uow.people.count_holding(Role.ADMINISTRATOR)
                return [PersonLine(email=p.email, name=p.name, grants=[
                    GrantLine(role=g.role, pool_id=g.pool_id, pool=names.get(g.pool_id),
                              revocable=g.role in GRANTABLE_ROLES
                              and not is_last_administrator(p, g.role, administrators))
                    for g in sorted(p.grants, key=lambda g: (g.role, g.pool_id is not None, names.get(g.pool_id, "")))
                ]) for p in uow.people.everyone()]
        self._refuse(email, "people", NotAllowed("not_allowed.administrator", person=email, task="see_people"), now)

    def revocation(self, email: str, role: Role, pool: str | None, by: str, now: datetime) -> Revocation:
        """What revoking `role` (on `pool`, or the every-pool grant) from `email` would take away; for
        administrators only (anybody else is refused, recorded, before learning whether the person exists).

        Nothing changes here: the revocation itself is `Services.revoke_role`. A reviewer who loses the
        role on a pool is no longer asked for reviews there (`states.reviews.asked`): those ideas leave their
        list of reviews to do and no reminder goes to them; the reviews they submitted stay in the record."""
        self.require_administrator(by, "revoke_roles", now)
        if role not in GRANTABLE_ROLES:
            raise BadInput("role.not_grantable", field="role", value=role, choices=list(GRANTABLE_ROLES))
        with UnitOfWork(self.engine, read_only=True) as uow:
            person = uow.people.get(email)
            on = uow.pools.get(pool) if pool is not None else None
            grant = Grant(role, on.id if on is not None else None)
            after = Person(person.email, person.name, person.lang, person.id, person.grants - {grant})
            pools = [on] if on is not None else uow.pools.all()
            kept_on = [p.name for p in pools if after.holds(role, p)]
            lost = {p.id for p in pools if person.holds(role, p) and not after.holds(role, p)}
            waiting = 0
            if role == Role.REVIEWER and lost:
                ideas = uow.ideas.load(uow.session.scalars(
                    select(IdeaRow.id).where(IdeaRow.stage.in_(GATE_STAGES), IdeaRow.pool_id.in_(lost))))
                for idea in ideas.values():
                    reviewed = {(r.gate, r.round) for r in idea.counting_reviews if r.reviewer.email == person.email}
                    if ((idea.open_gate, idea.gate_round) not in reviewed
                            and any(p.email == person.email for p in asked(idea, uow.people.holding(role, idea.pool)))):
                        waiting += 1
            last = is_last_administrator(person, role, uow.people.count_holding(Role.ADMINISTRATOR))
            return Revocation(email=person.email, name=person.name, role=role, pool=on.name if on else None,
                              held=grant in person.grants, kept_on=kept_on, reviews_waiting=waiting,
                              last_administrator=last)

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
    def _pool(uow: UnitOfWork, pool_id: int, *, lock: bool = False) -> Pool:
        """The pool; with `lock`, its row held until the transaction ends (`PoolRepository.lock`)."""
        if not 0 < pool_id < 2**31 or not (uow.pools.lock(pool_id) if lock else uow.session.get(PoolRow, pool_id)):
            raise NotFound("pool.unknown", field="pool", pool=pool_id)
        return uow.pools.by_id(pool_id)

    def _refuse(self, email: str, command: str, refusal: NotAllowed, now: datetime):
        record_refusal(self.engine, email, command, None, refusal, now)
        raise refusal


def _runs(person: Person, pool: Pool) -> bool:
    return may_administer(person) or coordinates(person, pool)


def _changed(before: list, after: list) -> list[str]:
    """The settings an intake change recorded in pool_changes changed (each side: one mapping of them)."""
    old, new = (before or [{}])[0], (after or [{}])[0]
    return [name for name in new if new.get(name) != old.get(name)]


def _scoring(criteria: tuple[Criterion, ...]) -> list[tuple[str, float, bool]]:
    """What reviews are scored and weighed by (not the descriptions, nor the order)."""
    return sorted((c.name, c.weight, c.must_meet) for c in criteria)

