"""A proposer revises an idea that a coordinator sent back for revision (`Idea.revise`)."""

from datetime import timedelta

import pytest
from domain import ALL_SCORES, COORDINATOR, NOW, PROPOSER, REVIEWER, screened, submitted

from states import events
from states.errors import BadInput, InvalidTransition, NotAllowed
from states.model import Grant, IdeaVersion, Person
from states.rules import Action, available_actions
from states.vocabulary import Decision, Gate, Role, Stage

LATER = NOW + timedelta(days=3)


def sent_back(idea=None):
    idea = idea or submitted()
    idea.decide(Decision.RECYCLE, COORDINATOR, NOW, reason="Uddyb budgettet")
    idea.forget_changes()
    return idea


def test_the_proposer_revises_an_idea_sent_back_and_the_record_says_which_fields():
    idea = sent_back()
    assert Action.REVISE in available_actions(PROPOSER, idea)
    changed = idea.revise(PROPOSER, LATER, title="Ny titel", description="Uddybet\nbudget", requested_dkk=250_000)
    assert changed == ("title", "description", "requested_dkk")
    assert (idea.title, idea.description, idea.requested_dkk, idea.stage) == (
        "Ny titel", "Uddybet\nbudget", 250_000, Stage.SUBMITTED)
    (line,) = idea.new_history
    assert (line.action, line.from_stage, line.to_stage, line.by, line.at) == (
        "revise", Stage.SUBMITTED, Stage.SUBMITTED, PROPOSER, LATER)
    assert line.reason == "revised by the proposer: title, description, requested amount"
    assert idea.new_revision == {"title": "Ny titel", "description": "Uddybet\nbudget", "requested_dkk": 250_000}
    (event,) = idea.events
    assert event == events.IdeaRevised(idea, PROPOSER, changed)
    # the gate stays open in the same round, with the same deadline
    assert (idea.open_gate, idea.gate_round, idea.new_timers) == (Gate.SCREENING, 2, None)


def test_fields_not_given_stay_and_the_amount_can_be_dropped():
    idea = sent_back()
    assert idea.revise(PROPOSER, LATER, requested_dkk=None, departments=("Skoler", "Ældre")) == (
        "requested_dkk", "departments")
    assert (idea.title, idea.description, idea.requested_dkk, idea.departments) == (
        "Idé", "d", None, ("Skoler", "Ældre"))
    assert idea.new_history[-1].reason == "revised by the proposer: requested amount, departments"


def test_only_the_proposer_revises():
    idea = sent_back()
    staff = Person("staff@kommune.dk", "Staff", id=9, grants=frozenset({Grant(Role.ADMINISTRATOR),
                                                                       Grant(Role.COORDINATOR)}))
    for person in (COORDINATOR, REVIEWER, staff, Person("anden@example.dk", "Anden", id=8)):
        with pytest.raises(NotAllowed, match="only the idea's proposer"):
            idea.revise(person, LATER, title="Kapret")
        assert Action.REVISE not in available_actions(person, idea)
    assert (idea.title, idea.new_history, idea.events) == ("Idé", [], [])


def test_only_an_idea_sent_back_is_revised():
    fresh = submitted()  # never sent back: the first round
    with pytest.raises(InvalidTransition, match="only while it is sent back"):
        fresh.revise(PROPOSER, LATER, title="Ny")
    assert Action.REVISE not in available_actions(PROPOSER, fresh)
    # sent back at screening, then passed on: the funding gate's round began with a go, though the round
    # count (2) goes on
    passed = sent_back()
    passed.review(REVIEWER, dict(ALL_SCORES), {}, "", LATER)
    passed.decide(Decision.GO, COORDINATOR, LATER)
    assert (passed.open_gate, passed.gate_round) == (Gate.FUNDING, 2)
    with pytest.raises(InvalidTransition):
        passed.revise(PROPOSER, LATER, title="Ny")
    # sent back at the funding gate: revisable there
    funding = sent_back(screened())
    assert funding.revise(PROPOSER, LATER, requested_dkk=150_000) == ("requested_dkk",)


@pytest.mark.parametrize("decision", [Decision.GO, Decision.KILL, Decision.RECYCLE])
def test_not_after_the_gate_is_decided(decision):
    idea = sent_back()
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", LATER)
    idea.decide(decision, COORDINATOR, LATER, reason="Besluttet")
    if decision == Decision.RECYCLE:  # sent back once more: the new round may be revised in turn
        assert idea.revise(PROPOSER, LATER, title="Igen") == ("title",)
        return
    with pytest.raises(InvalidTransition):
        idea.revise(PROPOSER, LATER, title="For sent")
    assert Action.REVISE not in available_actions(PROPOSER, idea)


def test_not_while_on_hold_but_again_once_resumed():
    idea = sent_back()
    idea.decide(Decision.HOLD, COORDINATOR, LATER)
    with pytest.raises(InvalidTransition, match="it is on_hold"):
        idea.revise(PROPOSER, LATER, title="I bero")
    assert Action.REVISE not in available_actions(PROPOSER, idea)
    idea.resume(COORDINATOR, LATER)  # the same round goes on
    assert idea.revise(PROPOSER, LATER, title="Genoptaget") == ("title",)


def test_it_awaits_its_proposers_revision_only_until_revised_also_through_a_hold_and_a_resume():
    """Sent back, it waits for its proposer; revised, it waits for the reviewers (it may still be revised
    again until the gate is decided); a hold and a resume do not make it wait for the proposer again."""
    idea = sent_back()
    assert idea.sent_back and idea.awaiting_revision
    idea.decide(Decision.HOLD, COORDINATOR, LATER)
    assert not idea.awaiting_revision  # on hold: no gate is open
    idea.resume(COORDINATOR, LATER)
    assert idea.awaiting_revision  # not revised yet: still waiting for the proposer
    idea.revise(PROPOSER, LATER, title="Revideret")
    assert idea.sent_back and not idea.awaiting_revision
    idea.decide(Decision.HOLD, COORDINATOR, LATER)
    idea.resume(COORDINATOR, LATER)
    assert idea.sent_back and not idea.awaiting_revision
    assert Action.REVISE in available_actions(PROPOSER, idea)  # once more, if the proposer wants to
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", LATER)
    idea.decide(Decision.RECYCLE, COORDINATOR, LATER, reason="Igen")  # sent back again: waits anew
    assert idea.awaiting_revision
    idea.decide(Decision.KILL, COORDINATOR, LATER, reason="Nej")
    assert not (idea.sent_back or idea.awaiting_revision)


def test_not_after_withdrawing():
    idea = sent_back()
    idea.withdraw(PROPOSER, LATER)
    with pytest.raises(InvalidTransition):
        idea.revise(PROPOSER, LATER, title="Trukket")


def test_a_revision_that_changes_nothing_records_nothing():
    idea = sent_back()
    assert idea.revise(PROPOSER, LATER, title="Idé", description="d", requested_dkk=300_000, departments=()) == ()
    assert idea.revise(PROPOSER, LATER) == ()
    assert (idea.new_history, idea.events, idea.new_revision, idea.new_versions, idea.changed) == (
        [], [], None, [], False)


def test_the_text_a_revision_replaces_is_kept_whole_with_the_round_it_was_the_text_of():
    idea = sent_back()  # round 2: the text of round 1 is what its reviewers scored
    idea.revise(PROPOSER, LATER, description="Uddybet")  # one field changed: the whole earlier text is kept
    assert idea.new_versions == [IdeaVersion(1, "Idé", "d", 300_000, (), LATER, PROPOSER, 2)]
    assert idea.text_round == 2
    later = LATER + timedelta(hours=1)  # again in the same round: the replaced text is this round's own
    idea.revise(PROPOSER, later, title="Ny titel", requested_dkk=None, departments=("Skoler",))
    assert idea.new_versions[1:] == [IdeaVersion(2, "Idé", "Uddybet", 300_000, (), later, PROPOSER, 2)]
    idea.forget_changes()
    assert idea.new_versions == []

    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", later)
    idea.decide(Decision.RECYCLE, COORDINATOR, later, reason="Stadig for dyr")  # round 3
    idea.revise(PROPOSER, later, requested_dkk=90_000)
    assert idea.new_versions == [IdeaVersion(2, "Ny titel", "Uddybet", None, ("Skoler",), later, PROPOSER, 3)]


def test_the_round_of_a_text_is_the_latest_its_reviewers_judged():
    idea = sent_back(screened())  # screened and sent back at funding in round 1: round 2 now
    assert (idea.open_gate, idea.gate_round) == (Gate.FUNDING, 2)
    idea.revise(PROPOSER, LATER, title="Billigere")
    assert [(v.round, v.title, v.replaced_in) for v in idea.new_versions] == [(1, "Idé", 2)]

    # sent back at screening (round 2) and passed on unrevised, then sent back at funding (round 3): the
    # submitted text was last judged in round 2
    passed = sent_back()
    passed.review(REVIEWER, dict(ALL_SCORES), {}, "", LATER)
    passed.decide(Decision.GO, COORDINATOR, LATER)
    passed.decide(Decision.RECYCLE, COORDINATOR, LATER, reason="For dyr")
    assert (passed.open_gate, passed.gate_round) == (Gate.FUNDING, 3)
    passed.revise(PROPOSER, LATER, requested_dkk=100_000)
    assert [(v.round, v.requested_dkk, v.replaced_in) for v in passed.new_versions] == [(2, 300_000, 3)]


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": ""}, "title"), ({"title": "   "}, "title"), ({"title": "x" * 201}, "title"),
    ({"title": "a\x1bb"}, "title"), ({"description": ""}, "description"),
    ({"description": "x" * 20_001}, "description"), ({"description": "a\x00b"}, "description"),
    ({"requested_dkk": 0}, "requested_dkk"), ({"requested_dkk": -5}, "requested_dkk"),
    ({"requested_dkk": 10**12}, "requested_dkk"), ({"departments": ("",)}, "departments"),
    ({"departments": ("x" * 201,)}, "departments"),
])
def test_the_fields_follow_the_rules_of_a_submission(changes, field):
    idea = sent_back()
    with pytest.raises(BadInput) as refused:
        idea.revise(PROPOSER, LATER, **{"title": "Gyldig", **changes})
    assert refused.value.field == field
    assert (idea.title, idea.new_history) == ("Idé", [])
    idea.revise(PROPOSER, LATER, description="Linje 1\n\tLinje 2\r\n")  # line breaks and tabs are text
