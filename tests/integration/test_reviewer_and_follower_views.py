"""The reviewer's inbox and review form, and a follower's pilots, as read models on a real database
(SQLite and PostgreSQL): who is asked and who is done as the gate moves on, what each person may
open, and that every refused attempt leaves a row in the refusals audit. The pages themselves are
tested in Chromium (tests/web/test_reviews_browser.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from states.criteria import TAARNBY_CRITERIA
from states.errors import InvalidTransition, NotAllowed, NotFound
from states.vocabulary import Decision, Role, Stage

RIKKE, OLE = "rikke@kommune.dk", "ole@roskilde.dk"
ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


@pytest.fixture
def people(world, services):
    now = datetime.now(UTC)
    services.create_pool("Roskilde", 1_000_000, now.year, now)
    services.add_person(RIKKE, "Rikke Reviewer", Role.REVIEWER, now)
    services.add_person(OLE, "Ole Roskilde", Role.PROPOSER, now)
    services.grant_role(OLE, Role.REVIEWER, now, pool="Roskilde")
    return world


def refusals(engine, email: str) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(
            "SELECT r.command, r.idea_id FROM refusals r JOIN people p ON p.id = r.person_id"
            " WHERE p.email = :email ORDER BY r.id"), {"email": email})]


def lines(app, email: str) -> dict[int, tuple[str, str, int, int]]:
    return {line.id: (line.gate, line.status, line.done, line.asked)
            for line in app.reviewing.inbox(email, datetime.now(UTC)).lines}


def test_the_inbox_follows_who_is_asked_and_who_is_done(app, people, services):
    world, now = people, datetime.now(UTC)
    bent = world.reviewer
    everyone, named = world.submit(), world.submit()
    services.assign_reviewers(named, world.coordinator, now, (RIKKE,))
    assert lines(app, bent) == {everyone: ("screening", "to_do", 0, 2)}, "nobody named: every reviewer is asked"
    assert lines(app, RIKKE) == {everyone: ("screening", "to_do", 0, 2), named: ("screening", "to_do", 0, 1)}
    assert lines(app, OLE) == {}, "a reviewer of another pool waits for nothing here"
    assert lines(app, world.proposer) == {}

    services.review(everyone, bent, {"effektivitet": 4}, now, draft=True)
    assert lines(app, bent)[everyone] == ("screening", "unfinished", 0, 2), "a draft is not done"
    services.review(everyone, bent, ALL_SCORES, now)
    assert lines(app, bent)[everyone] == ("screening", "submitted", 1, 2)
    assert lines(app, RIKKE)[everyone] == ("screening", "to_do", 1, 2)

    services.decide(everyone, Decision.GO, world.coordinator, now)  # the funding gate asks again
    assert lines(app, bent)[everyone] == ("funding", "to_do", 0, 2)
    services.declare_conflict(everyone, RIKKE, "Min søster foreslog den", now)
    assert everyone not in lines(app, RIKKE)
    assert lines(app, bent)[everyone] == ("funding", "to_do", 0, 1)
    services.decide(everyone, Decision.KILL, world.coordinator, now, reason="for dyr")
    assert everyone not in lines(app, bent), "a decided gate waits for nobody"


def test_the_inbox_comes_a_page_at_a_time_soonest_deadline_first(app, people):
    world, now = people, datetime.now(UTC)
    ideas = [world.submit() for _ in range(5)]
    shown = [app.reviewing.inbox(world.reviewer, now, page=n, per_page=2) for n in (1, 2, 3)]
    assert [[line.id for line in inbox.lines] for inbox in shown] == [ideas[0:2], ideas[2:4], ideas[4:]]
    assert [(i.page, i.pages, i.total, i.first) for i in shown] == [(1, 3, 5, 1), (2, 3, 5, 3), (3, 3, 5, 5)]
    assert app.reviewing.inbox(world.reviewer, now, page=99, per_page=2).page == 3, "beyond the last: the last"
    assert app.reviewing.inbox(world.reviewer, now, page=0, per_page=2).page == 1
    nothing = app.reviewing.inbox(OLE, now, per_page=2)
    assert (nothing.lines, nothing.total, nothing.page, nothing.pages) == ([], 0, 1, 1)


def test_the_review_form_is_blind_until_submitted(app, people, services):
    world, now = people, datetime.now(UTC)
    idea = world.submit()
    services.review(idea, RIKKE, ALL_SCORES, now, comment="Rikkes")
    form = app.reviewing.form(idea, world.reviewer, now)
    assert (form.current, form.submitted, form.others, form.spread) == (None, False, [], [])
    assert [c.name for c in form.criteria][:2] == ["effektivitet", "kvalitet"] and form.criteria[0].weight == 2
    services.review(idea, world.reviewer, {"kvalitet": 2}, now, draft=True)
    form = app.reviewing.form(idea, world.reviewer, now)
    assert (form.current.scores, form.submitted, form.others) == ({"kvalitet": 2}, False, [])
    services.review(idea, world.reviewer, ALL_SCORES, now, comment="Bents")
    form = app.reviewing.form(idea, world.reviewer, now)
    assert form.submitted and form.current.version == 2 and form.current.comment == "Bents"
    assert [(r.reviewer, r.comment) for r in form.others] == [(RIKKE, "Rikkes")]
    assert {s.criterion: s.count for s in form.spread} == dict.fromkeys(ALL_SCORES, 2)
    assert (form.done, form.asked) == (2, 2)
    services.grant_role(world.coordinator, Role.REVIEWER, now)  # a coordinator who also reviews reads every
    form = app.reviewing.form(idea, world.coordinator, now)     # review on the idea page, but the form too
    assert (form.others, form.spread) == ([], [])               # waits for their own submission


def test_who_may_not_review_is_refused_and_recorded(app, people, services, engine):
    world, now = people, datetime.now(UTC)
    idea = world.submit()
    with pytest.raises(NotFound):  # another pool's idea: as if it did not exist
        app.reviewing.form(idea, OLE, now)
    with pytest.raises(NotFound):
        app.reviewing.check(idea, world.follower, now)
    with pytest.raises(NotAllowed, match="nobody judges or steers an idea they proposed"):
        app.reviewing.form(idea, world.proposer, now)
    with pytest.raises(NotAllowed, match="only a reviewer"):
        app.reviewing.check(idea, world.coordinator, now)
    services.declare_conflict(idea, RIKKE, "inhabil", now)
    with pytest.raises(NotAllowed, match="conflict of interest"):
        app.reviewing.form(idea, RIKKE, now)
    services.decide(idea, Decision.KILL, world.coordinator, now, reason="nej")
    with pytest.raises(InvalidTransition):
        app.reviewing.check(idea, world.reviewer, now)
    with pytest.raises(NotFound):
        app.reviewing.form(999_999, world.reviewer, now)
    for email in (OLE, world.follower, world.proposer, world.coordinator, RIKKE, world.reviewer):
        assert refusals(engine, email) == [("review", idea)], email


def test_a_follower_reads_the_plan_and_nothing_personal(app, people, engine):
    world, now = people, datetime.now(UTC)
    piloting, funded = world.idea(Stage.PILOTING), world.idea(Stage.FUNDED)
    assert [p.id for p in app.pilots.followed(world.follower)] == [piloting]
    assert app.pilots.followed(world.reviewer) == []
    page = app.pilots.pilot(piloting, world.follower, now)
    assert (page.sites, page.measures, page.stage) == (["Gundsømagle", "Viby"], ["ventetid"], "piloting")
    assert [h.action for h in page.history] == ["submit", "go", "go", "plan_pilot", "start_pilot"]
    dumped = page.model_dump_json()
    for personal in (world.proposer, "Birgit", world.coordinator, "Karin", world.reviewer, "Bent"):
        assert personal not in dumped, personal
    assert app.pilots.pilot(piloting, world.coordinator, now).id == piloting, "the pool's staff see it too"
    for email, idea in ((world.follower, funded), (world.proposer, piloting), (OLE, piloting)):
        with pytest.raises(NotFound):
            app.pilots.pilot(idea, email, now)
        assert refusals(engine, email) == [("pilot", idea)], email


def test_reminders_go_to_whom_the_inbox_shows_waiting(app, people, services, engine):
    """The deadline reminder and the inbox count the same people (`states.reviews.asked`): an asked
    reviewer who declared a conflict afterwards waits for nothing and is not reminded; one who
    submitted is done; one with a draft only is reminded."""
    world, now = people, datetime.now(UTC)
    idea = world.submit()
    services.assign_reviewers(idea, world.coordinator, now, (world.reviewer, RIKKE))
    services.declare_conflict(idea, RIKKE, "inhabil", now)
    services.review(idea, world.reviewer, {"kvalitet": 3}, now, draft=True)
    assert idea not in lines(app, RIKKE) and lines(app, world.reviewer)[idea] == ("screening", "unfinished", 0, 1)
    deadline = app.views.idea(idea).deadline
    services.sweep(deadline - timedelta(days=5) + timedelta(minutes=1))

    def reminded() -> list[str]:
        with engine.connect() as connection:
            return list(connection.scalars(text(
                "SELECT p.email FROM outbox o JOIN people p ON p.id = o.recipient_id"
                " WHERE o.kind = 'deadline_reminder' AND o.idea_id = :idea ORDER BY o.id"), {"idea": idea}))

    assert reminded() == [world.reviewer]
