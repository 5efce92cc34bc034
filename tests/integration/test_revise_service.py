"""A proposer revises an idea sent back for revision, through the service, on SQLite and PostgreSQL.

What would fail without it: the revision not stored (or stored without its history line and new
version), the coordinators and the reviewers this round asks not told (or told the wrong page, or a
reviewer who already reviewed not told they may revise), somebody else revising, a stale form or a
revision after the gate is decided changing anything, an amount above the pool's largest grant.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from states.criteria import TAARNBY_CRITERIA
from states.errors import BadInput, Conflict, InvalidTransition, NotAllowed
from states.vocabulary import Decision, Gate, Role
from storage.tables import IdeaRow, OutboxRow, PersonRow, RefusalRow

ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}
SECOND_REVIEWER = "rikke@kommune.dk"
OTHER_POOLS_REVIEWER = "olga@kommune.dk"


def version(engine, idea_id: int) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(IdeaRow.version).where(IdeaRow.id == idea_id))


def revised_mail(engine, idea_id: int) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(PersonRow.email, OutboxRow.payload)
                                  .join(PersonRow, OutboxRow.recipient_id == PersonRow.id)
                                  .where(OutboxRow.kind == "idea_revised", OutboxRow.idea_id == idea_id)).all()
    assert len(rows) == len({email for email, _ in rows}), rows  # one each
    return dict(rows)


@pytest.fixture
def sent_back(services, world):
    """An idea at screening, sent back (round 2); both of the pool's reviewers asked, one reviewed round 2."""
    services.add_person(SECOND_REVIEWER, "Rikke Reviewer", Role.REVIEWER, world.clock())
    services.create_pool("Anden pulje", 100_000, world.now.year, world.clock())
    services.add_person(OTHER_POOLS_REVIEWER, "Olga Anden", Role.PROPOSER, world.clock())
    services.grant_role(OTHER_POOLS_REVIEWER, Role.REVIEWER, world.clock(), pool="Anden pulje")
    idea = world.idea()
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    services.decide(idea, Decision.RECYCLE, world.coordinator, world.clock(), reason="Uddyb budgettet")
    services.review(idea, world.reviewer, ALL_SCORES, world.clock(), comment="runde 2")
    return idea


def test_the_proposer_revises_and_the_pool_hears_of_it(engine, services, world, shown, sent_back):
    idea, before = sent_back, version(engine, sent_back)
    changed = services.revise(idea, world.proposer, world.clock(), title="Uddybet idé", description="Nyt budget\nher",
                              requested_dkk=80_000, departments=("Skoler", "Ældre"), seen_version=before)
    assert changed == ("title", "description", "requested_dkk", "departments")
    view = shown(idea)
    assert (view["title"], view["stage"], view["description"], view["requested_dkk"], view["departments"]) == (
        "Uddybet idé", "submitted", "Nyt budget\nher", 80_000, ["Skoler", "Ældre"])
    last = view["history"][-1]
    assert (last["from"], last["to"], last["by"], last["reason"]) == (
        "submitted", "submitted", world.proposer,
        "revised by the proposer: title, description, requested amount, departments")
    assert version(engine, idea) == before + 1

    mail = revised_mail(engine, idea)
    assert set(mail) == {world.coordinator, world.reviewer, SECOND_REVIEWER}  # not the proposer, nor another pool's
    assert mail[world.coordinator]["path"] == f"/ideas/{idea}" and "reviewed" not in mail[world.coordinator]
    assert (mail[world.reviewer]["path"], mail[world.reviewer]["reviewed"]) == (f"/ideas/{idea}/review", True)
    assert (mail[SECOND_REVIEWER]["path"], mail[SECOND_REVIEWER]["reviewed"]) == (f"/ideas/{idea}/review", False)
    assert mail[world.reviewer]["changed"] == ["title", "description", "requested_dkk", "departments"]
    assert mail[world.reviewer]["title"] == "Uddybet idé" and mail[world.reviewer]["gate"] == "screening"

    # a second revision may drop the amount; the review round and its reviews stand
    assert services.revise(idea, world.proposer, world.clock(), requested_dkk=None) == ("requested_dkk",)
    assert shown(idea)["requested_dkk"] is None
    assert version(engine, idea) == before + 2


def test_named_reviewers_only_are_told_once_some_are_named(engine, services, world, sent_back):
    services.assign_reviewers(sent_back, world.coordinator, world.clock(), (SECOND_REVIEWER,))
    services.revise(sent_back, world.proposer, world.clock(), title="Ny titel")
    assert set(revised_mail(engine, sent_back)) == {world.coordinator, SECOND_REVIEWER}


def test_a_revision_that_changes_nothing_writes_nothing(services, world, sent_back, unchanged):
    with unchanged(sent_back):
        assert services.revise(sent_back, world.proposer, world.clock(), title="Idé nummer 1",
                               description="En god idé.", requested_dkk=100_000) == ()


def test_refused_revisions_change_nothing(engine, services, world, app, sent_back, unchanged):
    idea = sent_back
    with unchanged(idea, audited=True):
        with pytest.raises(NotAllowed, match="only the idea's proposer"):
            services.revise(idea, world.coordinator, world.clock(), title="Kapret")
    with engine.connect() as connection:
        assert connection.execute(select(RefusalRow.command, RefusalRow.idea_id)).all()[-1] == ("revise", idea)
    with unchanged(idea):
        with pytest.raises(Conflict):
            services.revise(idea, world.proposer, world.clock(), title="Forældet",
                            seen_version=version(engine, idea) - 1)
        with pytest.raises(BadInput) as bad:
            services.revise(idea, world.proposer, world.clock(), title="x" * 201)
        assert bad.value.field == "title"
    app.intake.set_intake(world.pool, world.clock(), grant_max_dkk=500_000)
    with unchanged(idea):
        with pytest.raises(BadInput, match="above the largest amount") as bad:
            services.revise(idea, world.proposer, world.clock(), title="Dyr", requested_dkk=500_001)
        assert bad.value.field == "requested_dkk"
    assert services.revise(idea, world.proposer, world.clock(), requested_dkk=500_000) == ("requested_dkk",)

    services.decide(idea, Decision.GO, world.coordinator, world.clock())  # the gate is decided
    with unchanged(idea):
        with pytest.raises(InvalidTransition, match="only while it is sent back"):
            services.revise(idea, world.proposer, world.clock() + timedelta(minutes=1), title="For sent")


def test_an_idea_never_sent_back_is_not_revised(services, world, unchanged):
    idea = world.idea()
    with unchanged(idea):
        with pytest.raises(InvalidTransition):
            services.revise(idea, world.proposer, world.clock(), title="Ny")


def test_a_review_written_against_the_text_before_a_revision_is_refused(app, services, world, sent_back, unchanged):
    """The review form names which text of the idea it shows (`text_version`: how many texts the proposer's
    revisions replaced, as stored); a review or draft written against it is refused once the proposer
    revised the idea in the same round, and a review of the text as it is now is saved."""
    idea = sent_back
    form = app.reviewing.form(idea, SECOND_REVIEWER, world.clock())
    assert (form.round, form.text_version, form.description) == (2, 0, "En god idé.")
    services.revise(idea, world.proposer, world.clock(), description="Nyt budget")
    for draft in (False, True):
        with unchanged(idea), pytest.raises(InvalidTransition) as refused:
            services.review(idea, SECOND_REVIEWER, ALL_SCORES, world.clock(), comment="Til den gamle tekst",
                            draft=draft, at_gate=Gate.SCREENING, at_round=2, at_text_version=form.text_version)
        assert refused.value.code == "review.text_revised"
    # the form's checks keep the attempt in the refusals audit
    with unchanged(idea, audited=True), pytest.raises(InvalidTransition, match="changed it while"):
        app.reviewing.form(idea, SECOND_REVIEWER, world.clock(), at_gate=Gate.SCREENING, at_round=2,
                           at_text_version=form.text_version)

    again = app.reviewing.form(idea, SECOND_REVIEWER, world.clock())
    assert (again.text_version, again.description) == (1, "Nyt budget")
    review = services.review(idea, SECOND_REVIEWER, ALL_SCORES, world.clock(), at_gate=Gate.SCREENING, at_round=2,
                             at_text_version=again.text_version)
    assert (review.round, review.submitted) == (2, True)
    # a second revision in the same round is another text (the round alone would not tell them apart)
    services.revise(idea, world.proposer, world.clock(), title="Endnu en udgave")
    assert app.reviewing.form(idea, SECOND_REVIEWER, world.clock()).text_version == 2
    with pytest.raises(InvalidTransition, match="changed it while"):
        services.review(idea, SECOND_REVIEWER, {**ALL_SCORES, "kvalitet": 2}, world.clock(), at_text_version=1)
    # at the funding gate after a go the text is still the second revision's: a form of it is not refused
    services.decide(idea, Decision.GO, world.coordinator, world.clock())
    funding = app.reviewing.form(idea, SECOND_REVIEWER, world.clock())
    assert (funding.gate, funding.text_version) == ("funding", 2)
    assert services.review(idea, SECOND_REVIEWER, ALL_SCORES, world.clock(), at_gate=Gate.FUNDING,
                           at_round=funding.round, at_text_version=2).gate == Gate.FUNDING
