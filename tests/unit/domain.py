"""Builders for domain unit tests: people, a pool and ideas at each stage, no database."""

from datetime import UTC, date, datetime, timedelta

from states.criteria import TAARNBY_CRITERIA, Criterion
from states.model import GatePolicy, Idea, Person, PilotPlan, Pool, everywhere
from states.vocabulary import Decision, Role

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
COORDINATOR = Person("k@kommune.dk", "Koordinator", id=1, grants=everywhere(Role.COORDINATOR))
REVIEWER = Person("r@kommune.dk", "Bedømmer", id=2, grants=everywhere(Role.REVIEWER))
OTHER_REVIEWER = Person("r2@kommune.dk", "Bedømmer 2", id=5, grants=everywhere(Role.REVIEWER))
PROPOSER = Person("p@example.dk", "Borger", id=3)
FOLLOWER = Person("f@kommune.dk", "Byråd", id=4)
EVERYONE = (COORDINATOR, REVIEWER, PROPOSER, FOLLOWER)
ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


def pool(budget_dkk: int = 1_000_000, criteria: tuple[Criterion, ...] = TAARNBY_CRITERIA, **policy) -> Pool:
    return Pool("Tårnby", 2026, budget_dkk, criteria, GatePolicy(**policy))


def submitted(the_pool: Pool | None = None, requested_dkk: int | None = 300_000) -> Idea:
    return Idea.submit(title="Idé", description="d", pool=the_pool or pool(), proposer=PROPOSER, now=NOW,
                       requested_dkk=requested_dkk)


def screened(the_pool: Pool | None = None, **kwargs) -> Idea:
    idea = submitted(the_pool, **kwargs)
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    idea.decide(Decision.GO, COORDINATOR, NOW)
    return idea


def funded(the_pool: Pool | None = None, amount_dkk: int = 200_000) -> Idea:
    idea = screened(the_pool)
    idea.decide(Decision.GO, COORDINATOR, NOW, amount_dkk=amount_dkk)
    return idea


def plan(start_in_days: int = 10, days: int = 60) -> PilotPlan:
    start = (NOW + timedelta(days=start_in_days)).date()
    return PilotPlan(start, start + timedelta(days=days), ("Viby",), (FOLLOWER,), ("Fællesskab",))


def piloting(the_pool: Pool | None = None) -> Idea:
    idea = funded(the_pool)
    idea.plan_pilot(plan(), COORDINATOR, NOW)
    idea.start_pilot(NOW + timedelta(days=10))
    return idea


def day(offset: int) -> date:
    return (NOW + timedelta(days=offset)).date()
