"""The idea page's read model and the version its forms carry, on SQLite and PostgreSQL.

What would fail without them: somebody outside the pool reading the idea (or leaving no audit row),
a follower or proposer given the staff's view, the x-of-y count of reviewers wrong, and a form that
acts on an idea changed since it was shown (another coordinator's decision) instead of being refused
with nothing changed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text

from ideaflow.ideapage import idea_page
from ideaflow.intake import Intake, IntakeSettings
from ideaflow.views import idea_view, pool_view
from notifications.handlers import queue_mail
from states.criteria import TAARNBY_CRITERIA, Criterion
from states.errors import BadInput, Conflict, NotAllowed
from states.intake import Submission, Upload
from states.messages import render
from states.rules import Sight
from states.vocabulary import Decision, Language, Role, Stage
from storage.tables import DecisionRow, IdeaRow, RefusalRow, ReviewRow

ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_staff_see_the_idea_with_its_version_and_reviewers_others_see_their_part_or_nothing(engine, services, world):
    outsider, other_reviewer = "nabo@example.dk", "rikke@kommune.dk"
    services.add_person(outsider, "Niels Nabo", Role.PROPOSER, world.clock())
    services.add_person(other_reviewer, "Rikke Reviewer", Role.REVIEWER, world.clock())
    idea = world.idea()
    services.review(idea, world.reviewer, ALL_SCORES, world.clock(), comment="fint")

    page = idea_page(engine, idea, world.coordinator, world.clock())
    assert page.sight == Sight.STAFF and page.idea.id == idea and "go" in page.idea.actions
    assert (page.answered, page.asked) == (1, 2)  # nobody named: every reviewer who may review is asked
    assert {(r.email, r.asked, r.named, r.answered) for r in page.reviewers} == {
        (world.reviewer, True, False, True), (other_reviewer, True, False, False)}
    assert page.name(world.reviewer) == "Bent Bedømmer"
    services.assign_reviewers(idea, world.coordinator, world.clock(), (other_reviewer,))
    again = idea_page(engine, idea, world.coordinator, world.clock())
    assert again.version > page.version and (again.answered, again.asked) == (0, 1)
    assert {(r.email, r.asked, r.named, r.answered) for r in again.reviewers} == {  # named: only they are asked
        (world.reviewer, False, False, True), (other_reviewer, True, True, False)}

    assert idea_page(engine, idea, world.proposer, world.clock()).idea is None
    assert idea_page(engine, idea, world.proposer, world.clock()).sight == Sight.PROPOSER
    with pytest.raises(NotAllowed, match="may not see idea"):
        idea_page(engine, idea, outsider, world.clock())
    with engine.connect() as connection:
        assert [(r.command, r.idea_id) for r in connection.execute(select(RefusalRow))] == [("show", idea)]


def test_a_form_carrying_an_older_version_changes_nothing(engine, services, world, unchanged):
    idea = world.idea()
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    seen = idea_page(engine, idea, world.coordinator, world.clock()).version
    services.decide(idea, Decision.KILL, world.coordinator, world.clock(), reason="Først til mølle",
                    seen_version=seen)
    with unchanged(idea), pytest.raises(Conflict, match=f"idea {idea} changed while you had it open"):
        services.decide(idea, Decision.GO, world.coordinator, world.clock(), seen_version=seen)

    funded = world.idea(Stage.FUNDED)
    seen = idea_page(engine, funded, world.coordinator, world.clock()).version
    services.declare_conflict(funded, world.reviewer, "Min nabo", world.clock())  # any change makes it stale
    with unchanged(funded), pytest.raises(Conflict):
        services.plan_pilot(funded, start=date(2027, 1, 4), end=date(2027, 4, 30), sites=("Viby",),
                            now=world.clock(), by=world.coordinator, seen_version=seen)


def test_a_stale_form_is_told_what_changed_since(engine, services, world, unchanged):
    """The refusal names the latest change: a review that came in (the stage is the same, so "it is now
    submitted" would say nothing), the stage a decision moved the idea to; never a reviewer's draft."""
    second = "rikke@kommune.dk"
    services.add_person(second, "Rikke Reviewer", Role.REVIEWER, world.clock())
    idea = world.idea()
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    seen = idea_page(engine, idea, world.coordinator, world.clock()).version
    services.review(idea, second, ALL_SCORES, world.clock())
    with unchanged(idea), pytest.raises(Conflict) as refused:
        services.decide(idea, Decision.GO, world.coordinator, world.clock(), seen_version=seen)
    assert (refused.value.code, refused.value.values["what"]) == ("conflict.changed_meanwhile_what", "submit_review")
    assert str(refused.value) == f"idea {idea} changed while you had it open (a new review has come in): look at it " \
                                 "again before you act"
    assert render(refused.value, "da") == f"idé {idea} blev ændret, mens du havde den åben (en ny bedømmelse er " \
                                          "kommet ind): se den igen, før du handler"

    # a draft saved after the review that came in is not the latest change (it is none: nobody else reads it)
    services.review(idea, world.reviewer, {"kvalitet": 1}, world.clock(), draft=True)
    with unchanged(idea), pytest.raises(Conflict) as refused:
        services.decide(idea, Decision.GO, world.coordinator, world.clock(), seen_version=seen)
    assert (refused.value.code, refused.value.values["what"]) == ("conflict.changed_meanwhile_what", "submit_review")

    seen = idea_page(engine, idea, world.coordinator, world.clock()).version
    services.decide(idea, Decision.HOLD, world.coordinator, world.clock(), reason="Vent på budgettet")
    with unchanged(idea), pytest.raises(Conflict, match=r"\(it is now on_hold\)"):
        services.decide(idea, Decision.KILL, world.coordinator, world.clock(), reason="Nej", seen_version=seen)


def test_a_reviewers_draft_makes_nobody_elses_page_stale_but_a_submitted_review_does(
        engine, services, world, unchanged):
    """A draft is read by its writer alone and counts for nothing: saving one leaves the idea's version,
    which the coordinator's decide form and the proposer's revise form carry, as it is (nor its last
    change, which the digests' stuck list reads); a review submitted changes what they act on, and does."""
    second = "rikke@kommune.dk"
    services.add_person(second, "Rikke Reviewer", Role.REVIEWER, world.clock())
    idea = world.idea()
    services.review(idea, second, ALL_SCORES, world.clock())
    services.decide(idea, Decision.RECYCLE, world.coordinator, world.clock(), reason="Uddyb budgettet")
    seen = idea_page(engine, idea, world.coordinator, world.clock()).version
    with engine.connect() as connection:
        changed_at = connection.scalar(select(IdeaRow.updated_at).where(IdeaRow.id == idea))
    services.review(idea, world.reviewer, {"kvalitet": 1}, world.clock(), draft=True, comment="Halvfærdig")
    services.review(idea, world.reviewer, {"kvalitet": 2}, world.clock(), draft=True)  # a second version
    with engine.connect() as connection:
        assert connection.execute(select(ReviewRow.round, ReviewRow.version, ReviewRow.submitted)
                                  .where(ReviewRow.idea_id == idea, ReviewRow.round == 2)
                                  .order_by(ReviewRow.id)).all() == [(2, 1, False), (2, 2, False)]
    assert idea_page(engine, idea, world.coordinator, world.clock()).version == seen
    with engine.connect() as connection:
        assert connection.scalar(select(IdeaRow.updated_at).where(IdeaRow.id == idea)) == changed_at
    # the proposer's revise form, read before the drafts, is not refused
    assert services.revise(idea, world.proposer, world.clock(), title="Uddybet", seen_version=seen) == ("title",)
    seen = idea_page(engine, idea, world.coordinator, world.clock()).version
    services.review(idea, world.reviewer, {"kvalitet": 3}, world.clock(), draft=True)
    services.decide(idea, Decision.HOLD, world.coordinator, world.clock(), reason="Vent", seen_version=seen)
    services.resume(idea, world.coordinator, world.clock())

    seen = idea_page(engine, idea, world.coordinator, world.clock()).version
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())  # submitted: the coordinator decides on it
    with unchanged(idea), pytest.raises(Conflict) as refused:
        services.decide(idea, Decision.GO, world.coordinator, world.clock(), seen_version=seen)
    assert (refused.value.code, refused.value.values["what"]) == ("conflict.changed_meanwhile_what", "submit_review")


def test_a_decision_sent_again_under_its_key_is_recorded_once_and_its_key_serves_no_other(
        engine, services, world, unchanged):
    """The idea page's decide form carries a key per showing (`request_id`): the same form again (a
    double click) is recognised before the version check, since the change since then is its own."""
    idea = world.idea()
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    seen = idea_page(engine, idea, world.coordinator, world.clock()).version
    services.decide(idea, Decision.GO, world.coordinator, world.clock(), request_id="key-1", seen_version=seen)
    with unchanged(idea):
        again = services.decide(idea, Decision.GO, world.coordinator, world.clock(), request_id="key-1",
                                seen_version=seen)
    assert again.stage == Stage.SCREENED
    with unchanged(idea), pytest.raises(Conflict):  # the same key with another decision: not the same form
        services.decide(idea, Decision.KILL, world.coordinator, world.clock(), reason="Nej", request_id="key-1",
                        seen_version=seen)
    with unchanged(idea), pytest.raises(BadInput, match="request key-1 was already used for a go decision on idea"):
        services.decide(idea, Decision.KILL, world.coordinator, world.clock(), reason="Nej", request_id="key-1")
    other = world.idea()
    services.review(other, world.reviewer, ALL_SCORES, world.clock())
    with unchanged(other), pytest.raises(BadInput, match=f"on idea {idea}; another decision on idea {other}"):
        services.decide(other, Decision.GO, world.coordinator, world.clock(), request_id="key-1")


def test_a_decision_sent_four_times_at_once_under_one_key_is_recorded_once_and_answered_as_done(
        engine, services, world):
    """A double click reaches the server as requests that run at once. On SQLite the writers take turns;
    on PostgreSQL the losers meet the winner's version of the idea and look for their key again."""
    ideas = [world.idea() for _ in range(5)]
    for idea in ideas:
        services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    for idea in ideas:
        seen = idea_page(engine, idea, world.coordinator, world.clock()).version
        start = threading.Barrier(4)

        def click(idea=idea, seen=seen, start=start):
            start.wait()
            return services.decide(idea, Decision.GO, world.coordinator, world.clock(), request_id=f"key-{idea}",
                                   seen_version=seen).stage

        with ThreadPoolExecutor(4) as pool:
            answers = [job.result() for job in [pool.submit(click) for _ in range(4)]]
        assert answers == [Stage.SCREENED] * 4
    with engine.connect() as connection:
        decided = connection.execute(select(DecisionRow.idea_id, func.count()).group_by(DecisionRow.idea_id)).all()
    assert sorted(decided) == [(idea, 1) for idea in sorted(ideas)]


def test_a_draft_sent_four_times_at_once_is_saved_once_and_the_others_told_to_try_again(engine, services, world):
    """A draft leaves the idea's version as it is (`Idea.changed_for_others`), so two saves of one form at
    once both pass the version check: the review's own unique version number decides, and the loser is told
    the idea changed meanwhile and to try again (`conflict.concurrent`), not shown a database error. On
    SQLite the writers take turns, and the later ones find their draft saved already."""
    idea = world.idea()
    for attempt in range(3):
        start = threading.Barrier(4)

        def click(start=start, attempt=attempt):
            start.wait()
            try:
                return services.review(idea, world.reviewer, {"kvalitet": attempt + 1}, world.clock(),
                                       draft=True, comment=f"Kladde {attempt}").version
            except Conflict as refused:
                return refused.code

        with ThreadPoolExecutor(4) as pool:
            answers = [job.result() for job in [pool.submit(click) for _ in range(4)]]
        assert answers.count(attempt + 1) >= 1 and set(answers) <= {attempt + 1, "conflict.concurrent"}, answers
    with engine.connect() as connection:
        assert connection.execute(select(ReviewRow.version, ReviewRow.comment).where(ReviewRow.idea_id == idea)
                                  .order_by(ReviewRow.id)).all() == [(1, "Kladde 0"), (2, "Kladde 1"), (3, "Kladde 2")]


def test_an_unknown_follower_is_named_on_the_followers_field(services, world, unchanged):
    funded = world.idea(Stage.FUNDED)
    with unchanged(funded), pytest.raises(BadInput, match="unknown person 'ukendt@kommune.dk'") as refused:
        services.plan_pilot(funded, start=date(2027, 1, 4), end=date(2027, 4, 30), sites=("Viby",),
                            now=datetime.now(UTC), by=world.coordinator, followers=("ukendt@kommune.dk",))
    assert refused.value.field == "followers"


def test_a_follower_is_found_however_the_address_is_written(services, world, engine):
    funded = world.idea(Stage.FUNDED)
    shouted = world.follower.upper()
    services.plan_pilot(funded, start=date(2027, 1, 4), end=date(2027, 4, 30), sites=("Viby",),
                        now=datetime(2026, 12, 3, tzinfo=UTC), by=world.coordinator.upper(),
                        followers=(shouted, world.follower))
    assert idea_view(engine, funded).pilot.followers == [world.follower]  # the person, once


def test_the_pools_staff_see_the_files_that_came_with_the_idea(engine, services, world, app):
    """A citizen's attachment is listed for the pool's coordinator and reviewer (who may download it), on
    the idea page and on the reviewer's form, not for an administrator of no pool, who would only be
    refused the download."""
    admin = "admin@kommune.dk"
    services.add_person(admin, "Anna Administrator", Role.ADMINISTRATOR, world.clock())
    intake = Intake(engine, IntakeSettings(), lambda: b"test key", None, subscriber=queue_mail)
    pool_id = pool_view(engine, world.pool).id
    intake.submit(pool_id, Submission(title="Grønne skolegårde", description="Plant træer.", name="Åse Ærlig",
                                      email="aase@example.dk", proposer_kind="citizen",
                                      attachments=(Upload("plan.pdf", PDF),)),
                  client="192.0.2.1", lang=Language.DA, now=world.clock())
    with engine.connect() as connection:  # the confirmation link's token waits beside its unsent mail
        token = connection.execute(text("SELECT secret FROM outbox WHERE secret IS NOT NULL")).scalar_one()
    idea = intake.confirm(token, world.clock()).idea_id

    for staff in (world.coordinator, world.reviewer):
        files = idea_page(engine, idea, staff, world.clock()).attachments
        assert [(f.filename, f.size_bytes) for f in files] == [("plan.pdf", len(PDF))]
    assert idea_page(engine, idea, admin, world.clock()).attachments == ()
    form = app.reviewing.form(idea, world.reviewer, world.clock())
    assert [(f.filename, f.size_bytes) for f in form.attachments] == [("plan.pdf", len(PDF))]


def test_a_reviewer_who_declares_a_conflict_counts_nowhere_but_stays_on_the_record(engine, services, world):
    """Reviewed with a must-meet "no", then declared a conflict: the screening go is no longer refused by that
    "no", and the page's count, its table and its spread agree: none of them weighs the conflicted reviewer,
    whose review stays in the record (`ideaflow show`), marked as not counting."""
    criteria = (*TAARNBY_CRITERIA, Criterion("lovligt", 1.0, must_meet=True))
    services.create_pool("Inhabil pulje", 1_000_000, world.now.year, world.clock(), criteria)
    second = "rikke@kommune.dk"
    services.add_person(second, "Rikke Reviewer", Role.REVIEWER, world.clock())
    idea = world.submit(pool="Inhabil pulje")
    services.review(idea, world.reviewer, {**ALL_SCORES, "lovligt": 1}, world.clock(), {"lovligt": False}, "Nej")
    services.review(idea, second, {**ALL_SCORES, "lovligt": 5}, world.clock(), {"lovligt": True}, "Ja")
    before = idea_page(engine, idea, world.coordinator, world.clock())
    assert before.go_blocked is not None and before.go_blocked.code == "screening.must_meet_failed"

    services.declare_conflict(idea, world.reviewer, "Min svoger står bag", world.clock())
    page = idea_page(engine, idea, world.coordinator, world.clock())
    assert page.go_blocked is None and "go" in page.idea.actions
    assert (page.answered, page.asked) == (1, 1)
    assert [r.email for r in page.reviewers] == [second]
    counted = [r.reviewer for r in page.idea.reviews if r.counts]
    assert counted == [second]  # the page's table shows the reviews that count
    assert {c.criterion: (c.count, c.mean) for c in page.idea.criteria_summary}["lovligt"] == (1, 5.0)
    record = idea_view(engine, idea)
    assert [(r.reviewer, r.counts) for r in record.reviews] == [(world.reviewer, False), (second, True)]
    services.decide(idea, Decision.GO, world.coordinator, world.clock())
    assert idea_view(engine, idea).stage == Stage.SCREENED


def test_nobody_steers_an_idea_they_proposed_or_declared_a_conflict_on_nor_reads_their_own_ideas_reviews(
        engine, services, world, unchanged):
    """A coordinator's own idea: her page is her "my ideas" (no reviewer's name, score or comment), and she
    asks no reviewers for it. A coordinator who declared a conflict asks no reviewers, plans no pilot and
    resumes nothing, and her page offers none of it; another coordinator of the pool may."""
    knud = "knud@kommune.dk"
    services.add_person(knud, "Knud Koordinator", Role.COORDINATOR, world.clock())
    own = services.submit(title="Karins egen idé", description="Fra en koordinator.", proposer=world.coordinator,
                          pool=world.pool, now=world.clock())
    services.review(own, world.reviewer, ALL_SCORES, world.clock(), comment="Svag idé")
    page = idea_page(engine, own, world.coordinator, world.clock())
    assert (page.sight, page.idea) == (Sight.PROPOSER, None)
    with pytest.raises(NotAllowed, match=f"proposed idea {own}: they see it among their own ideas"):
        idea_view(engine, own, viewer=world.coordinator)
    with unchanged(own, audited=True), pytest.raises(NotAllowed, match="proposed"):
        services.assign_reviewers(own, world.coordinator, world.clock(), (world.reviewer,))

    at_gate, funded = world.idea(), world.idea(Stage.FUNDED)
    held = world.idea(Stage.ON_HOLD, held_from=Stage.SCREENED)
    for idea in (at_gate, funded, held):
        services.declare_conflict(idea, world.coordinator, "Min søster står bag", world.clock())
        actions = idea_page(engine, idea, world.coordinator, world.clock()).idea.actions
        assert not {"assign", "plan_pilot", "resume"} & set(actions), actions
    with unchanged(at_gate, audited=True), pytest.raises(NotAllowed, match="conflict of interest"):
        services.assign_reviewers(at_gate, world.coordinator, world.clock(), (world.reviewer,))
    with unchanged(funded, audited=True), pytest.raises(NotAllowed, match="conflict of interest"):
        services.plan_pilot(funded, start=date(2027, 1, 4), end=date(2027, 4, 30), sites=("Viby",),
                            now=world.clock(), by=world.coordinator)
    with unchanged(held, audited=True), pytest.raises(NotAllowed, match="conflict of interest"):
        services.resume(held, world.coordinator, world.clock())
    assert "resume" in idea_page(engine, held, knud, world.clock()).idea.actions
    services.resume(held, knud, world.clock())
    assert idea_view(engine, held).stage == Stage.SCREENED
