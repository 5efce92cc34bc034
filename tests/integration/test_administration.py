"""The administrative read models and the criteria change on a real database (SQLite and PostgreSQL):
who sees which pools, people and mail, that criteria reviews were scored on keep their scoring,
that each change leaves its audit row, and each refused attempt its refusal row. The pages are
tested in Chromium (tests/web/test_administration_browser.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from states.criteria import TAARNBY_CRITERIA, Criterion
from states.errors import BadInput, NotAllowed, NotFound, Refused
from states.vocabulary import Role, Stage

IDA, OLE = "ida@kommune.dk", "ole@roskilde.dk"
ROSKILDE = "Roskilde"


@pytest.fixture
def setup(world, services):
    now = datetime.now(UTC)
    services.create_pool(ROSKILDE, 1_000_000, now.year, now)
    services.add_person(IDA, "Ida Administrator", Role.ADMINISTRATOR, now)
    services.add_person(OLE, "Ole Roskilde", Role.PROPOSER, now)
    services.grant_role(OLE, Role.COORDINATOR, now, pool=ROSKILDE)
    return world


def pool_id(app, name: str) -> int:
    return next(p.id for p in app.administration.pools(IDA, datetime.now(UTC)) if p.name == name)


def refusals(engine, email: str) -> list[str]:
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(text(
            "SELECT r.command FROM refusals r JOIN people p ON p.id = r.person_id WHERE p.email = :email "
            "ORDER BY r.id"), {"email": email})]


def test_each_person_sees_the_pools_they_run_and_is_refused_the_rest(app, setup, engine):
    world, admin, now = setup, app.administration, datetime.now(UTC)
    funded = world.idea(Stage.FUNDED, amount_dkk=300_000)
    assert [p.name for p in admin.pools(IDA, now)] == ["Innovationspuljen", ROSKILDE]
    assert [p.name for p in admin.pools(OLE, now)] == [ROSKILDE]
    page = admin.pool(pool_id(app, world.pool), world.coordinator, now)
    assert (page.pool.budget_dkk, page.pool.allocated_dkk, page.pool.remaining_dkk) == (5_000_000, 300_000, 4_700_000)
    assert [(a.idea_id, a.amount_dkk) for a in page.pool.allocations] == [(funded, 300_000)]
    assert page.criteria_in_use and not page.may_edit_criteria
    with pytest.raises(NotAllowed):
        admin.pool(pool_id(app, world.pool), OLE, now)
    with pytest.raises(NotAllowed):
        admin.pools(world.reviewer, now)
    with pytest.raises(NotAllowed):
        admin.people(OLE, now)
    with pytest.raises(NotFound):
        admin.pool(10**12, IDA, now)
    assert refusals(engine, OLE) == ["pool", "people"] and refusals(engine, world.reviewer) == ["pools"]
    assert {p.email for p in admin.people(IDA, now)} >= {IDA, OLE, world.coordinator}
    ole = next(p for p in admin.people(IDA, now) if p.email == OLE)
    assert [(g.role, g.pool) for g in ole.grants] == [("coordinator", ROSKILDE)]


def test_a_pool_is_created_with_a_positive_budget_and_criteria_named_apart(app, setup, engine, services, unchanged):
    """The domain's rules for a new pool, whichever entry point asks (the CLI, the console's form)."""
    now = datetime.now(UTC)
    for budget in (0, -1):
        with unchanged(), pytest.raises(BadInput, match="budget_dkk must be at least DKK 1"):
            services.create_pool("Tom pulje", budget, now.year, now, by=IDA)
    with unchanged(), pytest.raises(BadInput, match="'Effekt' and 'EFFEKT' are the same name"):
        services.create_pool("Tom pulje", 1_000, now.year, now, (Criterion("Effekt"), Criterion("EFFEKT")), by=IDA)
    assert services.create_pool("Tom pulje", 1, now.year, now, by=IDA).budget_dkk == 1


def test_criteria_change_until_reviews_are_scored_on_them_and_every_change_is_audited(app, setup, engine):
    world, admin, now = setup, app.administration, datetime.now(UTC)
    roskilde = pool_id(app, ROSKILDE)
    new = (Criterion("effekt", 2.0, description="Virker det?"), Criterion("lovlig", 1.0, must_meet=True))
    with pytest.raises(NotAllowed):
        admin.set_criteria(roskilde, new, now, by=OLE)  # a coordinator is no administrator
    assert refusals(engine, OLE) == ["pool criteria"]
    with pytest.raises(BadInput):
        admin.set_criteria(roskilde, (new[0], new[0]), now, by=IDA)
    with pytest.raises(BadInput, match="'effekt' and 'Effekt' are the same name"):  # reviews name them in any case
        admin.set_criteria(roskilde, (new[0], replace(new[1], name="Effekt")), now, by=IDA)
    assert admin.set_criteria(roskilde, new, now, by=IDA) is True
    assert admin.set_criteria(roskilde, new, now, by=IDA) is False, "the same criteria again change nothing"
    page = admin.pool(roskilde, IDA, now)
    assert [(c.name, c.weight, c.must_meet) for c in page.pool.criteria] == [("effekt", 2.0, False),
                                                                            ("lovlig", 1.0, True)]
    (change,) = page.changes
    assert change.by == IDA and [c["name"] for c in change.before] == [c.name for c in TAARNBY_CRITERIA]

    reviewed = world.submit()  # a review scored on the default pool's criteria
    world.services.review(reviewed, world.reviewer, {"effektivitet": 4}, now, draft=True)
    innovation = pool_id(app, world.pool)
    reweighed = tuple(replace(c, weight=3.0) if c.name == "effektivitet" else c for c in TAARNBY_CRITERIA)
    with pytest.raises(Refused, match="only their descriptions may change"):
        admin.set_criteria(innovation, reweighed, now, by=IDA)
    described = tuple(replace(c, description="Ny beskrivelse") for c in TAARNBY_CRITERIA)
    assert admin.set_criteria(innovation, described, now, by=IDA) is True
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM pool_changes")).scalar() == 2


def test_the_outbox_shows_a_coordinator_the_mail_of_their_pools_and_an_administrator_all(app, setup, engine):
    world, admin, now = setup, app.administration, datetime.now(UTC)
    ours = world.submit()
    theirs = world.submit(pool=ROSKILDE)
    app.signin.request_link(OLE, "10.0.0.1", now)  # a sign-in mail: about no pool
    shown = {line.idea_id for line in admin.outbox(OLE, now)}
    assert theirs in shown and ours not in shown and None not in shown
    everything = admin.outbox(IDA, now)
    assert {ours, theirs, None} <= {line.idea_id for line in everything}
    assert any(line.kind == "signin_link" for line in everything)
    with pytest.raises(NotAllowed):
        admin.outbox(world.reviewer, now)
    assert refusals(engine, world.reviewer) == ["outbox"]
