"""Hypothesis drives random commands at one idea: the record stays whole whatever the order.

Invariants: the stage is always one of the diagram's; a refused command changes nothing; a
successful one appends exactly its history entries, each starting where the last ended; the pool
never allocates beyond its budget; nothing leaves a final stage; every submitted review is complete,
each reviewer's versions are numbered 1, 2, 3… and one version per reviewer counts.
"""

from datetime import timedelta

from domain import ALL_SCORES, COORDINATOR, EVERYONE, NOW, OTHER_REVIEWER, PROPOSER, REVIEWER, plan, pool
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from states.errors import IdeaflowError
from states.model import Idea
from states.vocabulary import FINAL_STAGES, Decision, Outcome, Stage, TimerKind

people = st.sampled_from([*EVERYONE, OTHER_REVIEWER])
scores = st.one_of(st.just(dict(ALL_SCORES)), st.dictionaries(st.sampled_from(list(ALL_SCORES)),
                                                              st.integers(0, 6), max_size=6))


class OneIdea(RuleBasedStateMachine):
    @initialize(budget=st.integers(0, 1_000_000))
    def submit(self, budget):
        self.pool = pool(budget_dkk=budget)
        self.idea = Idea.submit(title="Idé", description="d", pool=self.pool, proposer=PROPOSER, now=NOW,
                                requested_dkk=300_000)
        self.clock = NOW
        self.final_seen = None

    def attempt(self, command) -> None:
        idea = self.idea
        before = (idea.stage, len(idea.new_history), idea.gate_round, self.pool.allocated_dkk, idea.held_from,
                  idea.evaluation_open, len(idea.reviews), len(idea.new_reviews))
        self.clock += timedelta(hours=1)
        try:
            command()
        except IdeaflowError:
            after = (idea.stage, len(idea.new_history), idea.gate_round, self.pool.allocated_dkk, idea.held_from,
                     idea.evaluation_open, len(idea.reviews), len(idea.new_reviews))
            assert after == before, "a refused command changed the idea"
            return
        assert len(idea.new_history) >= before[1]

    @rule(person=people, decision=st.sampled_from(list(Decision)),
          amount=st.one_of(st.none(), st.integers(-5, 2_000_000)), reason=st.sampled_from(["", "Fordi"]))
    def decide(self, person, decision, amount, reason):
        self.attempt(lambda: self.idea.decide(decision, person, self.clock, amount_dkk=amount, reason=reason))

    @rule(person=people, given=scores, must=st.dictionaries(st.sampled_from(["kvalitet", "x"]), st.booleans()),
          draft=st.booleans())
    def review(self, person, given, must, draft):
        self.attempt(lambda: self.idea.review(person, given, must, "", self.clock, draft=draft))

    @rule(person=people)
    def withdraw(self, person):
        self.attempt(lambda: self.idea.withdraw(person, self.clock))

    @rule(person=people)
    def resume(self, person):
        self.attempt(lambda: self.idea.resume(person, self.clock))

    @rule(person=people)
    def plan_pilot(self, person):
        self.attempt(lambda: self.idea.plan_pilot(plan(), person, self.clock))

    @rule(kind=st.sampled_from(list(TimerKind)))
    def timer(self, kind):
        self.attempt(lambda: self.idea.fire_timer(kind, self.clock))

    @rule(person=people, given=scores, outcome=st.sampled_from(list(Outcome)))
    def evaluate(self, person, given, outcome):
        self.attempt(lambda: self.idea.evaluate(person, given, outcome, "", self.clock))

    @invariant()
    def stage_is_in_the_diagram(self):
        assert self.idea.stage in set(Stage)

    @invariant()
    def history_chains(self):
        history = self.idea.new_history
        assert history[0].from_stage is None and history[0].to_stage == Stage.SUBMITTED
        for previous, entry in zip(history, history[1:], strict=False):
            assert entry.from_stage == previous.to_stage
        assert history[-1].to_stage == self.idea.stage
        assert all(a.at <= b.at for a, b in zip(history, history[1:], strict=False))

    @invariant()
    def pool_within_budget(self):
        assert 0 <= self.pool.allocated_dkk <= self.pool.budget_dkk
        assert self.pool.allocated_dkk == (self.idea.allocated_dkk or 0)

    @invariant()
    def final_stays_final(self):
        if self.final_seen is not None:
            assert self.idea.stage == self.final_seen
        if self.idea.stage in FINAL_STAGES:
            self.final_seen = self.idea.stage

    @invariant()
    def submitted_reviews_are_complete_and_one_version_counts_per_reviewer(self):
        reviews = self.idea.reviews
        assert all(set(r.scores) == set(ALL_SCORES) for r in reviews if r.submitted)
        for reviewer in {r.reviewer.email for r in reviews}:
            assert [r.version for r in reviews if r.reviewer.email == reviewer] == \
                list(range(1, 1 + sum(r.reviewer.email == reviewer for r in reviews)))
        assert len({r.reviewer.email for r in self.idea.counting_reviews}) == len(self.idea.counting_reviews)

    @invariant()
    def on_hold_remembers_where_it_was(self):
        assert (self.idea.stage == Stage.ON_HOLD) == (self.idea.held_from is not None)


OneIdea.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
TestOneIdea = OneIdea.TestCase


def test_a_reviewer_and_coordinator_can_reach_every_stage():
    """Not random: the rules above are not vacuous, the good path is reachable."""
    idea = Idea.submit(title="Idé", description="d", pool=pool(), proposer=PROPOSER, now=NOW, requested_dkk=1)
    idea.review(REVIEWER, dict(ALL_SCORES), {}, "", NOW)
    for _ in range(2):
        idea.decide(Decision.GO, COORDINATOR, NOW)
    assert idea.stage == Stage.FUNDED
