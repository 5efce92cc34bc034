"""Which review versions count, who may read which (blind until submitted), and the per-criterion spread."""

from dataclasses import replace

import pytest
from domain import ALL_SCORES, COORDINATOR, FOLLOWER, NOW, OTHER_REVIEWER, PROPOSER, REVIEWER, pool, submitted

from states.criteria import Criterion
from states.errors import InvalidTransition
from states.messages import sentence
from states.model import Grant, Person, everywhere
from states.reviews import CriterionSpread, counting, done, readable_by, spread
from states.vocabulary import Decision, Gate, Role

THIRD_REVIEWER = Person("r3@kommune.dk", "Bedømmer 3", id=6, grants=everywhere(Role.REVIEWER))


def test_the_newest_submitted_version_counts_and_a_later_draft_does_not_withdraw_it():
    idea = submitted()
    first = idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    idea.review(REVIEWER, {"kvalitet": 2}, {}, "", NOW, draft=True)
    only_draft = idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW, draft=True)
    assert counting(idea.reviews, conflicted=()) == [first]
    revised = idea.review(REVIEWER, {**ALL_SCORES, "kvalitet": 2}, {}, "", NOW)
    submitted_later = idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    assert counting(idea.reviews, conflicted=()) == [revised, submitted_later]
    assert only_draft not in counting(idea.reviews, conflicted=())
    # the same reviewer's review of another round is another review
    next_round = replace(first, round=2)
    assert counting([*idea.reviews, next_round], conflicted=()) == [revised, submitted_later, next_round]


def test_a_reviewer_reads_the_others_only_once_their_own_review_is_submitted():
    """Blind until submitted; coordinators read every submitted version; nobody reads another's draft."""
    idea = submitted()
    mine = idea.review(REVIEWER, dict(ALL_SCORES), {}, "min", NOW)
    their_draft = idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "kladde", NOW, draft=True)
    the_pool = idea.pool
    assert readable_by(REVIEWER, the_pool, idea.reviews) == [mine]  # not the other's draft
    assert readable_by(OTHER_REVIEWER, the_pool, idea.reviews) == [their_draft]  # not mine: they have not submitted
    assert readable_by(COORDINATOR, the_pool, idea.reviews) == [mine]
    assert readable_by(PROPOSER, the_pool, idea.reviews) == readable_by(FOLLOWER, the_pool, idea.reviews) == []
    assert readable_by(THIRD_REVIEWER, the_pool, idea.reviews) == []  # asked or not, they have submitted nothing

    theirs = idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "færdig", NOW)
    my_draft = idea.review(REVIEWER, {"kvalitet": 1}, {}, "", NOW, draft=True)
    assert readable_by(OTHER_REVIEWER, the_pool, idea.reviews) == [mine, their_draft, theirs]
    assert readable_by(REVIEWER, the_pool, idea.reviews) == [mine, theirs, my_draft]
    assert readable_by(COORDINATOR, the_pool, idea.reviews) == [mine, theirs]


def test_the_blind_holds_per_gate_and_round():
    idea = submitted()
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    round_one = idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    record = list(idea.reviews)
    idea.decide(Decision.RECYCLE, COORDINATOR, NOW, reason="Uddyb")
    round_two = idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    record.append(round_two)
    # REVIEWER submitted in round 1 only: they read round 1's reviews, not round 2's
    assert [(r.reviewer, r.round) for r in readable_by(REVIEWER, idea.pool, record)] == [
        (REVIEWER, 1), (OTHER_REVIEWER, 1)]
    assert round_one in readable_by(REVIEWER, idea.pool, record)
    assert round_two not in readable_by(REVIEWER, idea.pool, record)
    assert readable_by(COORDINATOR, idea.pool, record) == record


def test_the_spread_per_criterion_is_the_mean_min_max_and_population_standard_deviation():
    criteria = (Criterion("effekt", 2.0), Criterion("pris", 1.0))
    idea = submitted(pool(criteria=criteria))
    idea.review(REVIEWER, {"effekt": 1, "pris": 1}, {}, "", NOW)  # superseded below: does not count
    idea.review(REVIEWER, {"effekt": 2, "pris": 3}, {}, "", NOW)
    idea.review(OTHER_REVIEWER, {"effekt": 4, "pris": 3}, {}, "", NOW)
    idea.review(THIRD_REVIEWER, {"effekt": 5, "pris": 3}, {}, "", NOW)
    idea.review(THIRD_REVIEWER, {"effekt": 1}, {}, "", NOW, draft=True)  # a draft does not count
    assert spread(criteria, idea.reviews, conflicted=()) == [
        CriterionSpread(Gate.SCREENING, 1, "effekt", 2.0, 3, 3.67, 2, 5, 1.25),  # sqrt(14/9)
        CriterionSpread(Gate.SCREENING, 1, "pris", 1.0, 3, 3.0, 3, 3, 0.0),
    ]
    assert spread(criteria, [], conflicted=()) == []
    assert spread(criteria, [r for r in idea.reviews if not r.submitted], conflicted=()) == []


def test_a_criterion_no_counting_review_scored_has_no_figures():
    """Reviews stored before submissions had to be complete are kept as submitted, possibly partial."""
    criteria = (Criterion("effekt", 2.0), Criterion("pris", 1.0))
    idea = submitted(pool(criteria=criteria))
    partial = replace(idea.review(REVIEWER, {"effekt": 4}, {}, "", NOW, draft=True), submitted=True)
    assert spread(criteria, [partial], conflicted=()) == [
        CriterionSpread(Gate.SCREENING, 1, "effekt", 2.0, 1, 4.0, 4, 4, 0.0),
        CriterionSpread(Gate.SCREENING, 1, "pris", 1.0, 0, None, None, None, None),
    ]


def test_a_reviewer_who_declares_a_conflict_counts_no_more_and_stays_on_the_record():
    """Their reviews, written before the declaration, no longer count anywhere: the screening guard, "done",
    the spread; they are kept (`idea.reviews`) for the record."""
    criteria = (Criterion("effekt", 2.0), Criterion("lovlig", 1.0, must_meet=True))
    idea = submitted(pool(criteria=criteria))
    vetoed = idea.review(REVIEWER, {"effekt": 1, "lovlig": 2}, {"lovlig": False}, "Nej", NOW)
    fine = idea.review(OTHER_REVIEWER, {"effekt": 5, "lovlig": 5}, {"lovlig": True}, "", NOW)
    assert idea.go_blocked_by() is not None  # the must-meet "no" counts while REVIEWER may judge
    idea.declare_conflict(REVIEWER, "Min svoger står bag", NOW)
    assert idea.counting_reviews == [fine] and idea.reviews == [vetoed, fine]
    assert counting(idea.reviews, conflicted=idea.conflicted) == [fine]
    assert done(idea, [REVIEWER, OTHER_REVIEWER]) == [OTHER_REVIEWER]
    assert spread(criteria, idea.reviews, conflicted=idea.conflicted)[0] == CriterionSpread(
        Gate.SCREENING, 1, "effekt", 2.0, 1, 5.0, 5, 5, 0.0)
    assert idea.go_blocked_by() is None
    idea.decide(Decision.GO, COORDINATOR, NOW)


def test_a_conflict_alone_leaves_no_review_that_counts():
    idea = submitted()
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    idea.declare_conflict(REVIEWER, "inhabil", NOW)
    with pytest.raises(InvalidTransition, match="at least one review submitted"):
        idea.decide(Decision.GO, COORDINATOR, NOW)


ELSEWHERE = Person("k2@kommune.dk", "Koordinator i en anden pulje", id=7,
                   grants=frozenset({Grant(Role.COORDINATOR, pool_id=99)}))
HERE = Person("k3@kommune.dk", "Koordinator i puljen", id=8, grants=frozenset({Grant(Role.COORDINATOR, pool_id=1)}))


@pytest.mark.parametrize("person", [COORDINATOR, HERE, ELSEWHERE, REVIEWER, PROPOSER, FOLLOWER])
def test_only_coordinators_of_the_ideas_pool_read_without_reviewing(person):
    the_pool = pool()
    the_pool.id = 1
    idea = submitted(the_pool)
    theirs = idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    assert readable_by(person, idea.pool, idea.reviews) == ([theirs] if person in (COORDINATOR, HERE) else [])


def test_a_review_written_for_a_gate_and_round_is_refused_once_they_are_over():
    """A review names the gate and round it was written for: the screening decided meanwhile, or a new
    round begun after a recycle, refuses it (drafts too) instead of counting it where it was not meant."""
    idea = submitted()
    draft = idea.review(REVIEWER, {"kvalitet": 3}, {}, "kladde", NOW, draft=True, at_gate=Gate.SCREENING, at_round=1)
    assert (draft.gate, draft.round) == (Gate.SCREENING, 1)
    idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    idea.decide(Decision.RECYCLE, COORDINATOR, NOW, reason="Uddyb")
    for draft_only in (False, True):
        with pytest.raises(InvalidTransition) as refused:
            idea.review(REVIEWER, dict(ALL_SCORES), {}, "til runde 1", NOW, draft=draft_only,
                        at_gate=Gate.SCREENING, at_round=1)
        assert refused.value.code == "review.new_round"
        assert refused.value.values["round"] == 2 and refused.value.values["seen_round"] == 1
    assert "sent back for revision" in str(refused.value)
    assert idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW, at_gate=Gate.SCREENING, at_round=2).round == 2
    idea.decide(Decision.GO, COORDINATOR, NOW)
    with pytest.raises(InvalidTransition) as refused:
        idea.review(REVIEWER, dict(ALL_SCORES), {}, "screening", NOW, at_gate=Gate.SCREENING, at_round=2)
    assert refused.value.code == "review.gate_decided"
    assert [r.gate for r in idea.reviews] == []  # nothing was recorded at the funding gate
    with pytest.raises(InvalidTransition) as refused:  # a gate not reached yet is not this one either
        submitted().review(REVIEWER, dict(ALL_SCORES), {}, "", NOW, at_gate=Gate.FUNDING)
    assert refused.value.code == "gate.not_this_one"
    # without a gate named, the open one is reviewed, as before
    assert idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW).gate == Gate.FUNDING


def test_a_review_written_against_a_text_the_proposer_revised_since_is_refused():
    """Sent back, the idea is revised by its proposer in the same round a reviewer may already review: a
    review names the text it was written against (`text_version`, as the form was shown), and one written
    before a revision is refused (drafts too), though the gate and round are still the same."""
    idea = submitted()
    idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    idea.decide(Decision.RECYCLE, COORDINATOR, NOW, reason="Sænk beløbet")
    seen = idea.text_version  # the reviewer opens the form in round 2, before the proposer's revision
    assert seen == 0
    assert idea.revise(PROPOSER, NOW, title=idea.title) == ()  # a revision that changes nothing is the same text
    assert idea.text_version == seen
    idea.revise(PROPOSER, NOW, description="Anden udgave.", requested_dkk=150_000)
    assert idea.text_version == 1
    for draft_only in (False, True):
        with pytest.raises(InvalidTransition) as refused:
            idea.review(REVIEWER, dict(ALL_SCORES), {}, "beløbet er for højt", NOW, draft=draft_only,
                        at_gate=Gate.SCREENING, at_round=2, at_text_version=seen)
        assert refused.value.code == "review.text_revised"
    assert sentence(refused.value, "da") == (f"Forslagsstilleren har ændret idé {idea.id}, mens bedømmelsen blev "
                                             "skrevet; læs idéen igen. Bedømmelsen blev ikke gemt.")
    assert [r.reviewer for r in idea.reviews] == [], "nothing was recorded against the old text"
    # read again: the review of the text as it is counts; a second revision makes that one old in turn
    review = idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW, at_gate=Gate.SCREENING, at_round=2,
                         at_text_version=1)
    assert review.round == 2 and review.submitted
    idea.revise(PROPOSER, NOW, title="Ny titel")
    with pytest.raises(InvalidTransition, match="changed it while the review was being written"):
        idea.review(REVIEWER, {"kvalitet": 2}, {}, "", NOW, draft=True, at_text_version=1)
    with pytest.raises(InvalidTransition) as refused:  # a text not written yet is not this one either
        idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW, at_text_version=3)
    assert refused.value.code == "review.not_this_text"
    # without a text named (the command line), the text as it is now is reviewed, as before
    assert idea.review(REVIEWER, {**ALL_SCORES, "kvalitet": 2}, {}, "", NOW).version == 2


def test_a_draft_changes_nothing_anybody_else_sees_and_a_submitted_review_does():
    """The idea's version, which other people's open forms carry, moves only with what they see: a
    reviewer's draft (read by its writer alone, counting for nothing) is a change to store, not one for
    others; a submitted review, a revision, a decision are."""
    idea = submitted()
    idea.forget_changes()
    idea.review(REVIEWER, {"kvalitet": 2}, {}, "kladde", NOW, draft=True)
    idea.review(REVIEWER, {"kvalitet": 3}, {}, "kladde 2", NOW, draft=True)
    assert idea.changed and not idea.changed_for_others
    idea.forget_changes()
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    assert idea.changed_for_others
    idea.forget_changes()
    idea.review(OTHER_REVIEWER, {"kvalitet": 1}, {}, "", NOW, draft=True)
    idea.decide(Decision.RECYCLE, COORDINATOR, NOW, reason="Uddyb")  # a draft and a decision in one command
    assert idea.changed_for_others
    idea.forget_changes()
    assert not idea.changed and not idea.changed_for_others
    idea.revise(PROPOSER, NOW, title="Uddybet")
    assert idea.changed_for_others
