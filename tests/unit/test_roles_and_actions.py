"""Roles per pool, conflicts of interest, the complete record, and what a person may do now."""

from datetime import timedelta

import pytest
from domain import ALL_SCORES, COORDINATOR, FOLLOWER, NOW, PROPOSER, REVIEWER, funded, plan, pool, submitted

from states.errors import BadInput, InvalidTransition, NotAllowed
from states.model import Grant, Person, PilotPlan, Pool, everywhere
from states.rules import Action, Sight, available_actions, require_sight, sight
from states.vocabulary import Decision, Role, Stage

POOL_A = pool()
POOL_A.id, POOL_A.name = 10, "Pulje A"
POOL_B = Pool("Pulje B", 2026, 1_000_000, POOL_A.criteria)
POOL_B.id = 20
#: Coordinates pool A and reviews pool B: the case a small municipality has.
BOTH = Person("both@kommune.dk", "Begge", id=30,
              grants=frozenset({Grant(Role.COORDINATOR, POOL_A.id), Grant(Role.REVIEWER, POOL_B.id)}))


def test_a_person_coordinating_one_pool_and_reviewing_another():
    in_a, in_b = submitted(POOL_A), submitted(POOL_B)
    with pytest.raises(NotAllowed, match="only a reviewer of pool 'Pulje A'"):
        in_a.review(BOTH, dict(ALL_SCORES), {}, "", NOW)
    in_b.review(BOTH, dict(ALL_SCORES), {}, "", NOW)
    with pytest.raises(NotAllowed, match="only a coordinator of pool 'Pulje B'"):
        in_b.decide(Decision.HOLD, BOTH, NOW)
    in_a.decide(Decision.HOLD, BOTH, NOW)
    assert available_actions(BOTH, in_b) == [Action.REVIEW, Action.DECLARE_CONFLICT]


def test_a_grant_on_every_pool_holds_on_each():
    assert COORDINATOR.holds(Role.COORDINATOR, POOL_A) and COORDINATOR.holds(Role.COORDINATOR, POOL_B)
    assert COORDINATOR.holds(Role.COORDINATOR)  # on every pool
    assert BOTH.holds(Role.COORDINATOR, POOL_A) and not BOTH.holds(Role.COORDINATOR)
    assert not BOTH.holds(Role.COORDINATOR, POOL_B)


def test_a_declared_conflict_bars_reviewing_and_deciding_and_is_recorded():
    idea = submitted()
    idea.declare_conflict(REVIEWER, "Min svoger står bag", NOW)
    idea.declare_conflict(COORDINATOR, "Tidligere kollega", NOW)
    assert idea.new_history[-1].action == "conflict" and idea.new_history[-1].by is COORDINATOR
    with pytest.raises(NotAllowed, match="conflict of interest"):
        idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    for decision in Decision:
        with pytest.raises(NotAllowed, match="conflict of interest"):
            idea.decide(decision, COORDINATOR, NOW)
    with pytest.raises(InvalidTransition, match="already declared"):
        idea.declare_conflict(REVIEWER, "igen", NOW)
    assert Action.DECLARE_CONFLICT not in available_actions(REVIEWER, idea)
    assert available_actions(REVIEWER, idea) == []


def test_the_proposer_neither_reviews_nor_decides_their_own_idea():
    staff_proposer = Person(PROPOSER.email, PROPOSER.name, id=PROPOSER.id,
                            grants=frozenset({Grant(Role.COORDINATOR), Grant(Role.REVIEWER)}))
    idea = submitted()
    with pytest.raises(NotAllowed, match="proposed"):
        idea.review(staff_proposer, dict(ALL_SCORES), {}, "", NOW)
    with pytest.raises(NotAllowed, match="proposed"):
        idea.decide(Decision.KILL, staff_proposer, NOW)
    assert Action.WITHDRAW in available_actions(staff_proposer, idea)
    assert not {Action.REVIEW, Action.KILL} & set(available_actions(staff_proposer, idea))


STAFF_PROPOSER = Person(PROPOSER.email, PROPOSER.name, id=PROPOSER.id,
                        grants=frozenset({Grant(Role.COORDINATOR), Grant(Role.REVIEWER)}))
STEERING = (Action.ASSIGN, Action.PLAN_PILOT, Action.RESUME)


@pytest.mark.parametrize("barred", ["proposer", "conflicted"])
def test_nobody_steers_an_idea_they_proposed_or_declared_a_conflict_on(barred):
    """Asking reviewers, planning the pilot and resuming a held idea steer it as a decision does: refused to
    its proposer (a coordinator of its pool) and to a coordinator who declared a conflict, and not offered."""
    person, reason = (STAFF_PROPOSER, "proposed") if barred == "proposer" else (COORDINATOR, "conflict of interest")
    at_gate, ready, held = submitted(), funded(), funded()
    held.decide(Decision.HOLD, COORDINATOR, NOW)
    if barred == "conflicted":
        for idea in (at_gate, ready, held):
            idea.declare_conflict(COORDINATOR, "Min svoger står bag", NOW)
    with pytest.raises(NotAllowed, match=reason):
        at_gate.assign_reviewers([REVIEWER], person, NOW)
    with pytest.raises(NotAllowed, match=reason):
        ready.plan_pilot(plan(), person, NOW)
    with pytest.raises(NotAllowed, match=reason):
        held.resume(person, NOW)
    assert (at_gate.assigned, ready.pilot, held.stage) == ([], None, Stage.ON_HOLD)
    for idea in (at_gate, ready, held):
        assert not set(STEERING) & set(available_actions(person, idea))
    # the same actions are offered to a coordinator who neither proposed it nor declared a conflict
    other = Person("k4@kommune.dk", "Anden koordinator", id=42, grants=everywhere(Role.COORDINATOR))
    assert Action.ASSIGN in available_actions(other, at_gate) and Action.PLAN_PILOT in available_actions(other, ready)
    assert Action.RESUME in available_actions(other, held)


def test_the_proposer_sees_their_own_idea_as_its_proposer_whatever_roles_they_hold():
    """Not who reviewed it, the scores and the comments: a coordinator, reviewer or administrator who proposed
    an idea sees it as its proposer does (on "my ideas"), not as the pool's staff."""
    administrator = Person(PROPOSER.email, PROPOSER.name, id=PROPOSER.id, grants=everywhere(Role.ADMINISTRATOR))
    idea = submitted()
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "Svag idé", NOW)
    assert sight(STAFF_PROPOSER, idea) == sight(administrator, idea) == Sight.PROPOSER
    with pytest.raises(NotAllowed, match=rf"proposed idea {idea.id}: they see it among their own ideas"):
        require_sight(STAFF_PROPOSER, idea, Sight.STAFF)
    assert sight(COORDINATOR, idea) == Sight.STAFF


def test_only_staff_of_the_pool_declare_conflicts():
    with pytest.raises(NotAllowed):
        submitted().declare_conflict(FOLLOWER, "nabo", NOW)


def test_available_actions_follow_the_stage_the_gate_and_its_guards():
    idea = submitted()
    # No complete review yet: the screening go is not offered; kill, hold, recycle are.
    assert available_actions(COORDINATOR, idea) == [Action.KILL, Action.HOLD, Action.RECYCLE, Action.ASSIGN,
                                                    Action.DECLARE_CONFLICT]
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    assert Action.GO in available_actions(COORDINATOR, idea)
    assert available_actions(PROPOSER, idea) == [Action.WITHDRAW]
    assert available_actions(FOLLOWER, idea) == []
    done = funded()
    assert Action.PLAN_PILOT in available_actions(COORDINATOR, done)
    assert Action.REVIEW not in available_actions(REVIEWER, done)
    done.decide(Decision.HOLD, COORDINATOR, NOW)
    assert available_actions(COORDINATOR, done) == [Action.KILL, Action.RESUME, Action.DECLARE_CONFLICT]


def test_a_funding_go_is_not_offered_when_the_pool_is_spent():
    the_pool = pool(budget_dkk=200_000)
    first, second = funded(the_pool, amount_dkk=200_000), submitted(the_pool)
    second.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    second.decide(Decision.GO, COORDINATOR, NOW)
    assert first.pool.remaining_dkk == 0
    assert Action.GO not in available_actions(COORDINATOR, second)
    assert Action.RECYCLE in available_actions(COORDINATOR, second)


def test_the_funding_go_records_the_amount_and_asking_reviewers_is_recorded():
    idea = funded(pool(budget_dkk=2_000_000), amount_dkk=1_250_000)
    go = [h for h in idea.new_history if h.action == "go"][-1]
    assert go.reason == "go at the funding gate, 1.250.000 kr. allocated"
    asked = submitted()
    asked.assign_reviewers([REVIEWER], COORDINATOR, NOW)
    entry = asked.new_history[-1]
    assert (entry.action, entry.by, entry.subject) == ("assign", COORDINATOR, REVIEWER)


def test_planning_and_re_planning_a_pilot_are_recorded_with_what_changed():
    idea = funded()
    first = plan()
    idea.plan_pilot(first, COORDINATOR, NOW)
    planned = idea.new_history[-1]
    assert planned.action == "plan_pilot"
    assert "sites: Viby" in planned.reason and "follow-up group of 1" in planned.reason
    later = PilotPlan(first.start + timedelta(days=7), first.end, ("Viby", "Gundsømagle"), (), first.measures)
    idea.plan_pilot(later, COORDINATOR, NOW)
    replanned = idea.new_history[-1]
    assert replanned.action == "replan_pilot"
    assert f"start {first.start.isoformat()} → {later.start.isoformat()}" in replanned.reason
    assert "sites +Gundsømagle" in replanned.reason and "1 removed" in replanned.reason
    assert FOLLOWER.name not in replanned.reason and FOLLOWER.email not in replanned.reason
    history_length = len(idea.new_history)
    idea.plan_pilot(later, COORDINATOR, NOW)  # the same plan again changes nothing
    assert len(idea.new_history) == history_length


def test_asking_a_barred_reviewer_is_refused():
    idea = submitted()
    idea.declare_conflict(REVIEWER, "inhabil", NOW)
    with pytest.raises(InvalidTransition, match="conflict"):
        idea.assign_reviewers([REVIEWER], COORDINATOR, NOW)
    with pytest.raises(BadInput, match="not a reviewer of pool"):
        idea.assign_reviewers([FOLLOWER], COORDINATOR, NOW)


def test_what_each_person_may_see_of_an_idea():
    """Staff of the idea's pool see it whole, a follower their pilot, the proposer their own idea;
    a reviewer of another pool sees nothing, not even that it exists."""
    idea = funded(POOL_A)
    administrator = Person("it@kommune.dk", "IT", id=40, grants=frozenset({Grant(Role.ADMINISTRATOR, None)}))
    outsider = Person("other@kommune.dk", "Anden", id=41, grants=frozenset({Grant(Role.REVIEWER, POOL_B.id)}))
    assert sight(BOTH, idea) == sight(REVIEWER, idea) == sight(administrator, idea) == Sight.STAFF
    assert sight(PROPOSER, idea) == Sight.PROPOSER
    assert sight(FOLLOWER, idea) == sight(outsider, idea) == Sight.NONE  # no pilot planned yet
    idea.plan_pilot(plan(), COORDINATOR, NOW)
    assert sight(FOLLOWER, idea) == Sight.FOLLOWER
    require_sight(FOLLOWER, idea, Sight.FOLLOWER)
    with pytest.raises(NotAllowed, match=rf"follows the pilot of idea {idea.id}: they see its pilot's page "
                                         rf"\(/pilots/{idea.id}\), not the whole idea"):
        require_sight(FOLLOWER, idea, Sight.STAFF)
    with pytest.raises(NotAllowed, match=rf"proposed idea {idea.id}: they see it among their own ideas"):
        require_sight(PROPOSER, idea, Sight.STAFF)
    with pytest.raises(NotAllowed, match="other@kommune.dk may not see idea"):
        require_sight(outsider, idea, Sight.PROPOSER)
