"""The lifecycle diagram, its guards and the record each move leaves."""

from datetime import UTC, date, datetime, timedelta

import pytest
from domain import (
    ALL_SCORES,
    COORDINATOR,
    FOLLOWER,
    NOW,
    OTHER_REVIEWER,
    PROPOSER,
    REVIEWER,
    day,
    funded,
    piloting,
    plan,
    pool,
    screened,
    submitted,
)

from states import events
from states.criteria import Criterion
from states.errors import BadInput, BudgetExceeded, InvalidTransition
from states.lifecycle import MACHINE, allowed_triggers
from states.messages import render
from states.model import Person, PilotPlan, everywhere, local_midnight
from states.rules import Action, available_actions
from states.vocabulary import DeadlinePolicy, Decision, Gate, Outcome, Role, Stage, TimerKind


def moves(idea):
    return [(h.action, h.from_stage, h.to_stage) for h in idea.new_history]


def test_the_happy_path_records_every_move_in_order():
    idea = piloting()
    idea.end_pilot(NOW + timedelta(days=71))
    idea.evaluate(COORDINATOR, dict(ALL_SCORES), Outcome.SCALE, "Udbredes", NOW + timedelta(days=80))
    assert moves(idea) == [
        ("submit", None, Stage.SUBMITTED),
        ("submit_review", Stage.SUBMITTED, Stage.SUBMITTED),
        ("go", Stage.SUBMITTED, Stage.SCREENED),
        ("go", Stage.SCREENED, Stage.FUNDED),
        ("plan_pilot", Stage.FUNDED, Stage.FUNDED),
        ("start_pilot", Stage.FUNDED, Stage.PILOTING),
        ("open_evaluation", Stage.PILOTING, Stage.PILOTING),
        ("evaluate", Stage.PILOTING, Stage.EVALUATED),
    ]
    assert idea.evaluation.outcome == Outcome.SCALE and idea.evaluation.weighted_score == 4.0
    assert idea.new_history[1].by is REVIEWER and idea.new_history[1].reason == \
        "review submitted at the screening gate, round 1"  # who, not the scores
    assert idea.new_history[2].by is COORDINATOR and idea.new_history[5].by is None  # the system started it


def test_the_shared_machine_has_no_shortcuts_and_holds_no_models():
    assert not any(name.startswith("to_") for name in MACHINE.events)
    assert MACHINE.models == []
    assert allowed_triggers(Stage.EVALUATED) == allowed_triggers(Stage.REJECTED) == []
    assert set(allowed_triggers(Stage.ON_HOLD)) == {"kill", "withdraw", "resume"}


def test_screening_go_needs_a_submitted_review_and_a_draft_counts_for_nothing():
    idea = submitted()
    with pytest.raises(InvalidTransition, match="at least one review submitted"):
        idea.decide(Decision.GO, COORDINATOR, NOW)
    draft = idea.review(REVIEWER, dict(ALL_SCORES), {}, "næsten færdig", NOW, draft=True)
    assert (draft.version, draft.submitted, draft.weighted_score) == (1, False, 4.0)
    assert idea.counting_reviews == [] and moves(idea) == [("submit", None, Stage.SUBMITTED)]  # no history row
    with pytest.raises(InvalidTransition, match="at least one review submitted"):
        idea.decide(Decision.GO, COORDINATOR, NOW)  # a complete draft is still a draft
    idea.review(OTHER_REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    idea.decide(Decision.GO, COORDINATOR, NOW)
    assert idea.stage == Stage.SCREENED


def test_an_incomplete_submission_is_refused_naming_what_is_missing_and_a_draft_may_be_incomplete():
    criteria = (Criterion("effekt", 2.0), Criterion("pris", 1.0), Criterion("lovlig", 1.0, must_meet=True))
    idea = submitted(pool(criteria=criteria))
    with pytest.raises(BadInput, match="missing scores for pris, lovlig and must-meet answers for lovlig"):
        idea.review(REVIEWER, {"effekt": 5}, {}, "", NOW)
    with pytest.raises(BadInput, match=r"missing must-meet answers for lovlig \(or save it as a draft\)$"):
        idea.review(REVIEWER, {"effekt": 5, "pris": 3, "lovlig": 4}, {}, "", NOW)
    with pytest.raises(BadInput, match="missing scores for effekt, pris, lovlig"):
        idea.review(REVIEWER, {}, {}, "", NOW)
    assert idea.reviews == [] and len(idea.new_history) == 1  # refused: nothing recorded
    with pytest.raises(BadInput, match="a draft review needs at least"):
        idea.review(REVIEWER, {}, {}, "", NOW, draft=True)
    with pytest.raises(BadInput, match="1 to 5"):
        idea.review(REVIEWER, {"effekt": 9}, {}, "", NOW, draft=True)  # a draft holds only valid answers
    draft = idea.review(REVIEWER, {"effekt": 5}, {}, "", NOW, draft=True)
    assert (draft.submitted, draft.weighted_score) == (False, 5.0)
    assert idea.review(REVIEWER, {}, {}, "tænker", NOW, draft=True).version == 2


def test_a_must_meet_criterion_answered_no_refuses_the_screening_go():
    criteria = (Criterion("effekt", 2.0), Criterion("lovlig", 1.0, must_meet=True))
    idea = submitted(pool(criteria=criteria))
    idea.review(REVIEWER, {"effekt": 5, "lovlig": 5}, {"lovlig": True}, "", NOW)
    idea.review(OTHER_REVIEWER, {"effekt": 5, "lovlig": 5}, {"lovlig": False}, "", NOW)
    with pytest.raises(InvalidTransition, match="answered no: lovlig"):
        idea.decide(Decision.GO, COORDINATOR, NOW)
    assert idea.stage == Stage.SUBMITTED and len(idea.new_history) == 3  # submitted and two reviews
    stranger = Person("x@y.dk", "X", id=9, grants=everywhere(Role.REVIEWER))
    with pytest.raises(BadInput, match="not a must-meet criterion"):
        idea.review(stranger, {"effekt": 3}, {"effekt": True}, "", NOW)
    idea.review(OTHER_REVIEWER, {"effekt": 4, "lovlig": 5}, {"lovlig": True}, "efter dialog", NOW)  # revised
    idea.decide(Decision.GO, COORDINATOR, NOW)
    assert idea.stage == Stage.SCREENED


def test_the_same_review_sent_again_is_the_version_already_saved():
    """A double click on "submit" (or a draft saved twice) adds no version and no "revised" line."""
    idea = submitted()
    first = idea.review(REVIEWER, dict(ALL_SCORES), {}, "første", NOW)
    again = idea.review(REVIEWER, dict(ALL_SCORES), {}, "første", NOW + timedelta(seconds=1))
    assert again is first and idea.reviews == [first]
    assert [h.action for h in idea.new_history] == ["submit", "submit_review"]
    draft = idea.review(REVIEWER, dict(ALL_SCORES), {}, "første", NOW, draft=True)  # the same words, but a draft
    assert [(r.version, r.submitted) for r in idea.reviews] == [(1, True), (2, False)] and draft.version == 2
    assert idea.review(REVIEWER, dict(ALL_SCORES), {}, "første", NOW, draft=True) is draft
    resubmitted = idea.review(REVIEWER, dict(ALL_SCORES), {}, "første", NOW)  # submitted after the draft: a version
    assert resubmitted.version == 3 and idea.new_history[-1].action == "revise_review"


def test_a_revision_before_the_decision_replaces_the_first_and_both_are_kept():
    idea = submitted()
    first = idea.review(REVIEWER, dict(ALL_SCORES), {}, "første", NOW)
    later = NOW + timedelta(hours=2)
    draft = idea.review(REVIEWER, {"kvalitet": 1}, {}, "overvejer", later, draft=True)
    assert idea.counting_reviews == [first]  # a draft after a submission does not withdraw it
    revised = idea.review(REVIEWER, {**ALL_SCORES, "kvalitet": 1}, {}, "anden", later)
    assert [(r.version, r.submitted) for r in idea.reviews] == [(1, True), (2, False), (3, True)]
    assert idea.reviews == [first, draft, revised] == idea.new_reviews  # every version kept
    assert idea.counting_reviews == [revised] and revised.weighted_score == round(30 / 9, 2)  # kvalitet weighs 2 of 9
    assert [(h.action, h.from_stage, h.to_stage, h.by, h.reason) for h in idea.new_history[1:]] == [
        ("submit_review", Stage.SUBMITTED, Stage.SUBMITTED, REVIEWER,
         "review submitted at the screening gate, round 1"),
        ("revise_review", Stage.SUBMITTED, Stage.SUBMITTED, REVIEWER,
         "review revised at the screening gate, round 1 (version 3)"),
    ]
    idea.decide(Decision.GO, COORDINATOR, later)  # decided: the screening review can no longer change
    funding = idea.review(REVIEWER, dict(ALL_SCORES), {}, "", later)  # the funding gate's review is a new one
    assert (funding.gate, funding.version, idea.reviews) == (Gate.FUNDING, 1, [funding])
    assert idea.new_history[-1].action == "submit_review"


def test_funding_go_allocates_within_the_budget_only():
    the_pool = pool(budget_dkk=500_000)
    idea = screened(the_pool)
    with pytest.raises(BudgetExceeded, match="DKK 500,000 left"):
        idea.decide(Decision.GO, COORDINATOR, NOW, amount_dkk=600_000)
    assert idea.stage == Stage.SCREENED and the_pool.allocated_dkk == 0
    idea.decide(Decision.GO, COORDINATOR, NOW)  # the requested 300.000
    assert (idea.stage, idea.allocated_dkk, the_pool.remaining_dkk) == (Stage.FUNDED, 300_000, 200_000)
    other = screened(the_pool, requested_dkk=None)
    with pytest.raises(BadInput, match="needs amount_dkk"):
        other.decide(Decision.GO, COORDINATOR, NOW)
    with pytest.raises(BudgetExceeded):
        other.decide(Decision.GO, COORDINATOR, NOW, amount_dkk=200_001)
    other.decide(Decision.GO, COORDINATOR, NOW, amount_dkk=200_000)
    assert the_pool.remaining_dkk == 0


def test_an_amount_belongs_to_a_funding_go_only():
    with pytest.raises(BadInput, match="amount"):
        submitted().decide(Decision.KILL, COORDINATOR, NOW, amount_dkk=5)
    with pytest.raises(BadInput, match="amount"):
        submitted().decide(Decision.GO, COORDINATOR, NOW, amount_dkk=5)
    with pytest.raises(InvalidTransition, match="no gate is open"):  # the gate closed: refused, not bad input
        funded().decide(Decision.GO, COORDINATOR, NOW, amount_dkk=5)


def test_recycle_reopens_the_gate_with_a_new_round_and_deadline():
    idea = submitted()
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    later = NOW + timedelta(days=7)
    idea.decide(Decision.RECYCLE, COORDINATOR, later, reason="Uddyb")
    assert (idea.stage, idea.gate_round, idea.reviews) == (Stage.SUBMITTED, 2, [])
    assert idea.deadline == later + timedelta(days=30)
    assert idea.new_history[-1].reason == "Uddyb"
    with pytest.raises(InvalidTransition):
        idea.decide(Decision.GO, COORDINATOR, later)  # the first round's review no longer counts
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", later)  # the same reviewer may review the new round
    assert (idea.reviews[0].round, idea.reviews[0].version) == (2, 1)
    with pytest.raises(InvalidTransition, match="no gate is open"):
        funded().decide(Decision.RECYCLE, COORDINATOR, NOW)


def test_a_decision_names_its_gate_so_a_repeat_cannot_decide_the_next_one():
    idea = submitted()
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    idea.decide(Decision.GO, COORDINATOR, NOW, at_gate=Gate.SCREENING, request_id="run-1")
    assert idea.new_decisions[-1].request_id == "run-1"
    with pytest.raises(InvalidTransition, match="not at the screening gate: its funding gate is open"):
        idea.decide(Decision.GO, COORDINATOR, NOW, at_gate=Gate.SCREENING)
    assert idea.stage == Stage.SCREENED and len(idea.new_history) == 3  # submitted, reviewed, screened
    with pytest.raises(InvalidTransition, match="it is funded with no gate open"):
        funded().decide(Decision.KILL, COORDINATOR, NOW, at_gate=Gate.FUNDING)


def test_asking_reviewers_asks_each_once_per_round_and_only_reviewers():
    idea = submitted()
    assert idea.assign_reviewers([REVIEWER], COORDINATOR, NOW) == [REVIEWER]
    assert idea.assign_reviewers([REVIEWER, OTHER_REVIEWER, OTHER_REVIEWER], COORDINATOR, NOW) == [OTHER_REVIEWER]
    assert idea.assign_reviewers([REVIEWER], COORDINATOR, NOW) == []
    asked = [e for e in idea.events if isinstance(e, events.ReviewersAssigned)]
    assert [e.reviewers for e in asked] == [(REVIEWER,), (OTHER_REVIEWER,)]
    assert [(a.gate, a.round, a.reviewer) for a in idea.new_assignments] == [
        (Gate.SCREENING, 1, REVIEWER), (Gate.SCREENING, 1, OTHER_REVIEWER)]
    with pytest.raises(BadInput, match="not a reviewer of pool"):
        idea.assign_reviewers([PROPOSER], COORDINATOR, NOW)
    idea.decide(Decision.RECYCLE, COORDINATOR, NOW, reason="Uddyb budgettet")
    assert idea.assigned == [] and idea.assign_reviewers([REVIEWER], COORDINATOR, NOW) == [REVIEWER]
    with pytest.raises(InvalidTransition, match="no screening or funding gate"):
        funded().assign_reviewers([REVIEWER], COORDINATOR, NOW)


@pytest.mark.parametrize("make", [submitted, screened, funded, piloting])
def test_hold_and_resume_return_to_the_stage_left(make):
    idea = make()
    stage = idea.stage
    idea.decide(Decision.HOLD, COORDINATOR, NOW, reason="Afventer")
    assert (idea.stage, idea.held_from, idea.deadline) == (Stage.ON_HOLD, stage, None)
    assert idea.new_timers == []  # nothing fires while on hold
    with pytest.raises(InvalidTransition):
        idea.decide(Decision.HOLD, COORDINATOR, NOW)
    idea.resume(COORDINATOR, NOW + timedelta(days=3))
    assert (idea.stage, idea.held_from) == (stage, None)
    assert moves(idea)[-2:] == [("hold", stage, Stage.ON_HOLD), ("resume", Stage.ON_HOLD, stage)]


@pytest.mark.parametrize("make", [submitted, screened, funded, piloting])
def test_kill_and_withdraw_end_any_active_stage_including_on_hold(make):
    killed, withdrawn, held = make(), make(), make()
    killed.decide(Decision.KILL, COORDINATOR, NOW, reason="Uden for formålet")
    withdrawn.withdraw(PROPOSER, NOW, "Flytter")
    held.decide(Decision.HOLD, COORDINATOR, NOW)
    held.decide(Decision.KILL, COORDINATOR, NOW, reason="Budgettet slap op")
    assert (killed.stage, withdrawn.stage, held.stage) == (Stage.REJECTED, Stage.WITHDRAWN, Stage.REJECTED)
    for final in (killed, withdrawn):
        for attempt in (lambda i: i.decide(Decision.KILL, COORDINATOR, NOW),
                        lambda i: i.withdraw(PROPOSER, NOW), lambda i: i.resume(COORDINATOR, NOW)):
            with pytest.raises(InvalidTransition):
                attempt(final)


def test_kill_and_recycle_need_a_reason_where_they_are_possible():
    """The proposer is told why their idea was stopped or sent back, and the record keeps it: a blank
    reason is bad input naming the field. On an idea where the move is impossible anyway (a stale form
    after someone else killed it) the state is what refuses, so the loser is told it was decided."""
    for decision in (Decision.KILL, Decision.RECYCLE):
        idea = submitted()
        with pytest.raises(BadInput, match="reason is needed to") as refused:
            idea.decide(decision, COORDINATOR, NOW, reason="  ")
        assert refused.value.field == "reason" and idea.stage == Stage.SUBMITTED and not idea.new_decisions
    killed = submitted()
    killed.decide(Decision.KILL, COORDINATOR, NOW, reason="Uden for formålet")
    with pytest.raises(InvalidTransition, match="cannot kill an idea that is rejected"):
        killed.decide(Decision.KILL, COORDINATOR, NOW)
    submitted().decide(Decision.HOLD, COORDINATOR, NOW)  # a hold needs none: it is taken back by resuming


def test_a_pilot_needs_sites_and_a_last_day_no_earlier_than_its_first():
    with pytest.raises(BadInput) as refused:
        PilotPlan(date(2027, 2, 2), date(2027, 2, 1), ("Viby",))
    assert (refused.value.code, refused.value.field) == ("pilot.ends_before_start", "end")
    assert render(refused.value, "en") == "the pilot's last day, 1 February 2027, is before its first day, " \
                                          "2 February 2027"
    assert render(refused.value, "da") == "pilotens sidste dag, 1. februar 2027, ligger før dens første dag, " \
                                          "2. februar 2027"
    with pytest.raises(BadInput, match="at least one site"):
        PilotPlan(date(2027, 2, 1), date(2027, 3, 1), ())
    with pytest.raises(InvalidTransition, match="planned only for a funded idea"):
        screened().plan_pilot(plan(), COORDINATOR, NOW)
    idea = funded()
    with pytest.raises(InvalidTransition, match="before it is planned"):
        idea.start_pilot(NOW)


def test_timers_follow_the_state():
    idea = submitted()
    assert [(t.kind, t.due_at) for t in idea.new_timers] == [
        (TimerKind.GATE_DEADLINE, NOW + timedelta(days=30)),
        (TimerKind.GATE_REMINDER, NOW + timedelta(days=25)),
    ]
    idea = funded()
    assert idea.new_timers == [] and idea.deadline is None
    the_plan = plan(start_in_days=10, days=60)
    idea.plan_pilot(the_plan, COORDINATOR, NOW)
    assert [(t.kind, t.due_at) for t in idea.new_timers] == [(TimerKind.PILOT_START, local_midnight(the_plan.start))]
    assert local_midnight(date(2026, 12, 3)) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)  # Copenhagen winter time
    assert local_midnight(date(2027, 6, 3)) == datetime(2027, 6, 2, 22, 0, tzinfo=UTC)  # summer time
    idea.start_pilot(NOW)
    assert [(t.kind, t.due_at) for t in idea.new_timers] == [
        (TimerKind.PILOT_END, local_midnight(the_plan.end) + timedelta(days=1))
    ]
    idea.end_pilot(NOW + timedelta(days=71))
    assert idea.open_gate == Gate.EVALUATION
    assert idea.deadline == local_midnight(the_plan.end) + timedelta(days=31)


def test_no_reminder_when_the_deadline_is_too_close():
    idea = submitted(pool(screening_days=3, reminder_days=5))
    assert [t.kind for t in idea.new_timers] == [TimerKind.GATE_DEADLINE]


def test_timers_fire_once_and_skip_when_stale():
    idea = funded()
    idea.plan_pilot(plan(), COORDINATOR, NOW)
    assert idea.fire_timer(TimerKind.PILOT_START, NOW) == "pilot started"
    assert idea.fire_timer(TimerKind.PILOT_START, NOW).startswith("skipped:")
    assert idea.fire_timer(TimerKind.PILOT_END, NOW) == "pilot ended; evaluation gate opened"
    assert idea.fire_timer(TimerKind.PILOT_END, NOW).startswith("skipped:")
    assert [h.action for h in idea.new_history][-2:] == ["start_pilot", "open_evaluation"]


def test_a_passed_deadline_escalates_or_lets_an_unscreened_idea_lapse():
    escalated = submitted()
    outcome = escalated.fire_timer(TimerKind.GATE_DEADLINE, NOW + timedelta(days=30))
    assert outcome == "screening deadline passed; escalated"
    assert escalated.stage == Stage.SUBMITTED and escalated.new_history[-1].action == "escalate"
    assert isinstance(escalated.events[-1], events.DeadlinePassed) and not escalated.events[-1].lapsed

    lapsing = submitted(pool(on_screening_deadline=DeadlinePolicy.LAPSE))
    assert lapsing.fire_timer(TimerKind.GATE_DEADLINE, NOW) == "screening deadline passed; idea lapsed"
    assert lapsing.stage == Stage.REJECTED and lapsing.new_history[-1].by is None
    funding = screened(pool(on_screening_deadline=DeadlinePolicy.LAPSE))
    funding.fire_timer(TimerKind.GATE_DEADLINE, NOW)
    assert funding.stage == Stage.SCREENED  # only the screening gate lapses


def test_every_move_from_a_review_gate_ends_its_round_and_nothing_else_does():
    """`ReviewRoundEnded` lets notifications drop the round's requests not yet sent (see notifications)."""
    def ended(idea) -> list[Gate]:
        return [e.gate for e in idea.events if isinstance(e, events.ReviewRoundEnded)]

    for move in (lambda i: i.decide(Decision.KILL, COORDINATOR, NOW, reason="nej"),
                 lambda i: i.decide(Decision.RECYCLE, COORDINATOR, NOW, reason="uddyb"),
                 lambda i: i.decide(Decision.HOLD, COORDINATOR, NOW),
                 lambda i: i.withdraw(PROPOSER, NOW)):
        idea = submitted()
        move(idea)
        assert ended(idea) == [Gate.SCREENING]
    assert ended(screened()) == [Gate.SCREENING]  # the screening go
    lapsing = submitted(pool(on_screening_deadline=DeadlinePolicy.LAPSE))
    lapsing.fire_timer(TimerKind.GATE_DEADLINE, NOW)
    assert ended(lapsing) == [Gate.SCREENING]
    assert ended(funded()) == [Gate.SCREENING, Gate.FUNDING]

    staying = submitted()
    staying.assign_reviewers([REVIEWER], COORDINATOR, NOW)
    staying.fire_timer(TimerKind.GATE_REMINDER, NOW + timedelta(days=25))
    staying.fire_timer(TimerKind.GATE_DEADLINE, NOW + timedelta(days=30))  # escalated: the gate stays open
    assert ended(staying) == []
    held = submitted()
    held.decide(Decision.HOLD, COORDINATOR, NOW)
    held.resume(COORDINATOR, NOW)  # from on hold: no round was open
    assert ended(held) == [Gate.SCREENING]


def test_reminder_goes_only_before_the_deadline():
    idea = submitted()
    assert idea.fire_timer(TimerKind.GATE_REMINDER, NOW + timedelta(days=25)) == "screening deadline reminder sent"
    assert isinstance(idea.events[-1], events.DeadlineApproaching)
    assert idea.fire_timer(TimerKind.GATE_REMINDER, NOW + timedelta(days=31)).startswith("skipped:")


def test_evaluation_needs_the_gate_open_and_every_criterion():
    idea = piloting()
    with pytest.raises(InvalidTransition, match="evaluation gate opens"):
        idea.evaluate(COORDINATOR, dict(ALL_SCORES), Outcome.STOP, "", NOW)
    idea.end_pilot(NOW)
    with pytest.raises(BadInput, match="missing: kvalitet"):
        idea.evaluate(COORDINATOR, {"effektivitet": 3}, Outcome.STOP, "", NOW)
    with pytest.raises(InvalidTransition, match="ideaflow evaluate"):
        idea.decide(Decision.GO, COORDINATOR, NOW)
    idea.evaluate(COORDINATOR, dict(ALL_SCORES), Outcome.STOP, "Virkede ikke", NOW)
    assert idea.stage == Stage.EVALUATED


def test_events_announce_what_notifications_need():
    idea = funded()
    idea.plan_pilot(plan(), COORDINATOR, NOW)
    kinds = [type(e).__name__ for e in idea.events]
    assert kinds[:2] == ["IdeaSubmitted", "GateOpened"]
    assert kinds.count("GateDecided") == 2 and kinds.count("GateOpened") == 2
    planned = idea.events[-1]
    assert isinstance(planned, events.PilotPlanned) and planned.earlier is None and planned.by is COORDINATOR
    idea.start_pilot(NOW)
    assert isinstance(idea.events[-1], events.PilotStarted)
    assert idea.pilot.followers == (FOLLOWER,)


def test_re_planning_a_pilot_announces_the_plan_it_replaced_and_a_plan_unchanged_announces_nothing():
    idea = funded()
    first = plan()
    idea.plan_pilot(first, COORDINATOR, NOW)
    idea.events.clear()
    idea.plan_pilot(first, COORDINATOR, NOW)
    assert idea.events == []
    later = PilotPlan(first.start, first.end + timedelta(days=7), (*first.sites, "Gundsømagle"), first.followers)
    idea.plan_pilot(later, COORDINATOR, NOW)
    (replanned,) = [e for e in idea.events if isinstance(e, events.PilotPlanned)]
    assert replanned.earlier is first and replanned.idea.pilot is later


def test_reviews_are_scored_and_checked():
    idea = submitted()
    with pytest.raises(BadInput, match="1 to 5"):
        idea.review(REVIEWER, {"kvalitet": 6}, {}, "", NOW)
    with pytest.raises(BadInput, match="unknown criterion"):
        idea.review(REVIEWER, {"hygge": 3}, {}, "", NOW)
    review = idea.review(REVIEWER, {"effektivitet": 5, "omtale": 2}, {}, "", NOW, draft=True)
    assert review.weighted_score == pytest.approx((5 * 2 + 2 * 1) / 3)  # over the criteria scored so far
    with pytest.raises(InvalidTransition, match="no screening or funding gate"):
        funded().review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)


def test_utc_is_kept():
    assert submitted().created_at.tzinfo is UTC


def test_a_pilot_of_one_day_starts_at_the_beginning_of_its_day_and_ends_at_the_end_of_it():
    """Both days are included: a pilot whose first day is its last runs that whole day (Copenhagen), its
    evaluation opening the day after; it may be re-planned, and a longer one shortened to one day."""
    the_day = day(10)
    idea = funded()
    idea.plan_pilot(PilotPlan(the_day, the_day, ("Kastrup",)), COORDINATOR, NOW)
    assert [(t.kind, t.due_at) for t in idea.new_timers] == [(TimerKind.PILOT_START, local_midnight(the_day))]
    assert "pilot planned: 2026-12-03 to 2026-12-03" in idea.new_history[-1].reason
    idea.start_pilot(local_midnight(the_day))
    assert [(t.kind, t.due_at) for t in idea.new_timers] == [
        (TimerKind.PILOT_END, local_midnight(the_day + timedelta(days=1)))]
    assert Action.PLAN_PILOT in available_actions(COORDINATOR, idea) and not idea.evaluation_open
    idea.plan_pilot(PilotPlan(the_day, the_day, ("Kastrup", "Tårnby")), COORDINATOR, local_midnight(the_day))
    idea.end_pilot(local_midnight(the_day + timedelta(days=1)))
    assert idea.open_gate == Gate.EVALUATION
    assert idea.deadline == local_midnight(the_day) + timedelta(days=1 + idea.pool.policy.evaluation_days)
    idea.evaluate(COORDINATOR, dict(ALL_SCORES), Outcome.ADJUST, "", local_midnight(the_day + timedelta(days=2)))
    assert idea.stage == Stage.EVALUATED

    shortened = funded()
    shortened.plan_pilot(plan(), COORDINATOR, NOW)
    one_day = PilotPlan(shortened.pilot.start, shortened.pilot.start, shortened.pilot.sites)
    shortened.plan_pilot(one_day, COORDINATOR, NOW)
    assert shortened.pilot == one_day and shortened.new_history[-1].action == "replan_pilot"
    today = funded()  # a pilot of today alone, planned this morning
    today.plan_pilot(PilotPlan(day(0), day(0), ("Viby",)), COORDINATOR, NOW)
    assert today.pilot.end == day(0)


def test_a_pilot_may_be_recorded_after_it_began_but_not_after_it_ended():
    """A plan whose last day has passed would start and end at the next sweep, its mail announcing a start
    nobody saw; one begun already (a late record) is kept, and so is one that ends today (Copenhagen)."""
    begun = plan(start_in_days=-20, days=30)
    idea = funded()
    idea.plan_pilot(begun, COORDINATOR, NOW)
    assert idea.pilot == begun
    ending_today = PilotPlan(date(2026, 11, 1), date(2026, 11, 23), ("Viby",))
    funded().plan_pilot(ending_today, COORDINATOR, NOW)
    late_evening = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already 24 November in Copenhagen
    for ended, when in ((plan(start_in_days=-40, days=30), NOW), (ending_today, late_evening)):
        idea = funded()
        with pytest.raises(BadInput) as refused:
            idea.plan_pilot(ended, COORDINATOR, when)
        assert (refused.value.code, refused.value.field, idea.pilot) == ("pilot.over", "end", None)


def test_a_running_pilot_is_re_planned_but_keeps_its_first_day_until_its_evaluation_opens():
    """A follow-up group changes with the council, a pilot is extended: the plan may change while the pilot
    runs, its end timer following a new last day; its first day is history by then."""
    idea = funded()
    first = plan(start_in_days=0, days=60)
    idea.plan_pilot(first, COORDINATOR, NOW)
    idea.start_pilot(NOW)
    longer = PilotPlan(first.start, first.end + timedelta(days=30), first.sites + ("Jyllinge",), (), first.measures)
    idea.plan_pilot(longer, COORDINATOR, NOW + timedelta(days=5))
    assert idea.pilot == longer and idea.new_history[-1].action == "replan_pilot"
    assert [(t.kind, t.due_at) for t in idea.new_timers] == [
        (TimerKind.PILOT_END, local_midnight(longer.end) + timedelta(days=1))]
    with pytest.raises(BadInput) as refused:
        idea.plan_pilot(PilotPlan(first.start + timedelta(days=1), longer.end, longer.sites), COORDINATOR, NOW)
    assert (refused.value.code, refused.value.field) == ("pilot.started", "start")
    idea.end_pilot(NOW + timedelta(days=91))  # its evaluation opens; the plan's past last day cannot return
    with pytest.raises(BadInput) as refused:
        idea.plan_pilot(PilotPlan(longer.start, longer.end, longer.sites + ("Viby",)), COORDINATOR,
                        NOW + timedelta(days=91))
    assert (refused.value.code, idea.pilot, idea.evaluation_open) == ("pilot.over", longer, True)


def test_a_pilot_whose_evaluation_is_open_may_be_extended_which_closes_the_evaluation_until_the_new_end():
    """Held from piloting, resumed after its last day: the sweep opens the evaluation at once. Until an
    evaluation is recorded, a coordinator may extend it: the evaluation gate closes (its deadline and
    reminder timers replaced by the new end's), the record says so, and the new end opens it again."""
    idea = piloting()  # 10 days from NOW to 70 days from NOW
    idea.decide(Decision.HOLD, COORDINATOR, NOW + timedelta(days=20), reason="Vinterferie")
    idea.resume(COORDINATOR, NOW + timedelta(days=76))
    idea.end_pilot(NOW + timedelta(days=76))
    assert idea.open_gate == Gate.EVALUATION and {t.kind for t in idea.new_timers} == {
        TimerKind.GATE_DEADLINE, TimerKind.GATE_REMINDER}
    assert Action.PLAN_PILOT in available_actions(COORDINATOR, idea)  # the idea page offers the plan form
    idea.forget_changes()
    when = NOW + timedelta(days=77)
    extended = PilotPlan(idea.pilot.start, day(150), idea.pilot.sites, idea.pilot.followers, idea.pilot.measures)
    idea.plan_pilot(extended, COORDINATOR, when)
    assert (idea.stage, idea.open_gate, idea.evaluation_open, idea.deadline, idea.pilot) == (
        Stage.PILOTING, None, False, None, extended)
    assert [(h.action, h.reason) for h in idea.new_history] == [
        ("replan_pilot", f"pilot re-planned: end {day(70).isoformat()} → {day(150).isoformat()}"),
        ("close_evaluation", f"evaluation gate closed: the pilot runs on until {day(150).isoformat()}")]
    assert [(t.kind, t.due_at) for t in idea.new_timers] == [
        (TimerKind.PILOT_END, local_midnight(day(150)) + timedelta(days=1))]
    assert events.ReviewRoundEnded(idea, Gate.EVALUATION) in idea.events  # queued reminders are dropped
    with pytest.raises(InvalidTransition, match="evaluation gate opens when the pilot ends"):
        idea.evaluate(COORDINATOR, dict(ALL_SCORES), Outcome.SCALE, "", when)
    with pytest.raises(BadInput, match="its first day stays"):
        idea.plan_pilot(PilotPlan(day(80), day(150), ("Viby",)), COORDINATOR, when)
    idea.end_pilot(NOW + timedelta(days=151))  # the new end: the evaluation opens again
    assert idea.open_gate == Gate.EVALUATION and idea.deadline is not None
    idea.evaluate(COORDINATOR, dict(ALL_SCORES), Outcome.ADJUST, "", NOW + timedelta(days=152))
    with pytest.raises(InvalidTransition) as refused:  # evaluated: the plan is what was evaluated
        idea.plan_pilot(PilotPlan(extended.start, day(200), extended.sites), COORDINATOR, NOW + timedelta(days=152))
    assert Action.PLAN_PILOT not in available_actions(COORDINATOR, idea)
    assert (refused.value.code, str(refused.value)) == (
        "pilot.evaluated", "the pilot's evaluation has been recorded: its plan can no longer change")


def test_a_pilot_plan_refused_names_the_real_reason_in_both_languages():
    """Not "only a pilot still running can plan its pilot; this one is piloting": each stage that cannot
    plan says why."""
    held = funded()
    held.decide(Decision.HOLD, COORDINATOR, NOW)
    killed = screened()
    killed.decide(Decision.KILL, COORDINATOR, NOW, reason="Nej")
    for idea, code, english, danish in (
            (held, "pilot.on_hold", "the idea is on hold: resume it", "idéen er sat i bero: genoptag den"),
            (killed, "pilot.not_funded", "the idea is rejected: a pilot is planned only for a funded idea",
             "idéen er afvist: en pilot kan kun planlægges for en bevilget idé"),
            (screened(), "pilot.not_funded", "the idea is screened: a pilot is planned only",
             "idéen er screenet: en pilot kan kun planlægges")):
        with pytest.raises(InvalidTransition) as refused:
            idea.plan_pilot(plan(), COORDINATOR, NOW)
        assert refused.value.code == code and idea.pilot is None
        assert render(refused.value, "en").startswith(english) and render(refused.value, "da").startswith(danish)


def test_a_grant_goes_back_to_the_pool_when_its_idea_ends_before_its_pilot_begins():
    """Killed or withdrawn while funded, or on hold from funded (a pilot planned but not begun too): the
    grant is released in the same command, and a line of its own records it. The pool can grant it again."""
    the_pool = pool(budget_dkk=500_000)
    for end in ("kill", "withdraw", "hold-kill", "hold-withdraw", "planned-kill"):
        idea = funded(the_pool, amount_dkk=500_000)
        assert the_pool.remaining_dkk == 0
        if end.startswith("planned"):
            idea.plan_pilot(plan(), COORDINATOR, NOW)
        if end.startswith("hold"):
            idea.decide(Decision.HOLD, COORDINATOR, NOW)
        idea.forget_changes()
        if end.endswith("kill"):
            idea.decide(Decision.KILL, COORDINATOR, NOW, reason="Uden for formålet")
        else:
            idea.withdraw(PROPOSER, NOW, "Flytter")
        actor = COORDINATOR if end.endswith("kill") else PROPOSER
        assert (the_pool.remaining_dkk, idea.allocated_dkk, idea.new_release_dkk) == (500_000, None, 500_000), end
        assert [(h.action, h.from_stage, h.to_stage, h.by, h.reason) for h in idea.new_history][1:] == [
            ("release", idea.stage, idea.stage, actor, "grant of 500.000 kr. released to the pool")], end
        assert idea.new_timers == []  # a planned pilot's start is cancelled with it
        idea.forget_changes()
        assert idea.new_release_dkk is None
    funded(the_pool, amount_dkk=500_000)  # the money is there again


def test_a_grant_is_spent_once_its_pilot_has_begun():
    """A pilot that began spent its grant on the pilot: killed while it runs, on hold from it, once its
    evaluation opened, or withdrawn, its grant stays allocated. Ideas never granted anything release nothing."""
    the_pool = pool(budget_dkk=200_000)
    running = piloting(the_pool)
    running.decide(Decision.KILL, COORDINATOR, NOW, reason="Virker ikke")
    assert (the_pool.remaining_dkk, running.allocated_dkk, running.new_release_dkk) == (0, 200_000, None)
    assert "release" not in [h.action for h in running.new_history]
    for end in ("hold", "evaluation"):
        the_pool = pool(budget_dkk=200_000)
        idea = piloting(the_pool)
        if end == "hold":
            idea.decide(Decision.HOLD, COORDINATOR, NOW)
        else:
            idea.end_pilot(NOW + timedelta(days=71))
        idea.withdraw(PROPOSER, NOW + timedelta(days=72))
        assert (the_pool.remaining_dkk, idea.allocated_dkk, idea.new_release_dkk) == (0, 200_000, None), end
    for never_granted in (submitted(), screened()):
        never_granted.withdraw(PROPOSER, NOW)
        assert never_granted.new_release_dkk is None and never_granted.allocated_dkk is None
