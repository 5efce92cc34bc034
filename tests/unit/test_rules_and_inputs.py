"""Who may do what, the criteria, and what text the domain accepts."""

import subprocess
import sys

import pytest
from domain import ALL_SCORES, COORDINATOR, EVERYONE, FOLLOWER, NOW, PROPOSER, REVIEWER, piloting, pool, submitted

from states import text
from states.criteria import (
    TAARNBY_CRITERIA,
    Criterion,
    check_criteria,
    check_scores,
    criteria_from_document,
    scored_by_name,
    weighted_score,
)
from states.errors import BadInput, InvalidTransition, NotAllowed
from states.form_keys import form_key, new_form_key
from states.messages import render
from states.model import GatePolicy, Person, check_budget, everywhere
from states.rules import Action, may, require_an_administrator_left
from states.vocabulary import Decision, Outcome, Role

ALLOWED = {
    Action.REVIEW: {REVIEWER},
    **dict.fromkeys((Action.GO, Action.KILL, Action.HOLD, Action.RECYCLE), {COORDINATOR}),
    Action.ASSIGN: {COORDINATOR},
    Action.PLAN_PILOT: {COORDINATOR},
    Action.EVALUATE: {COORDINATOR},
    Action.RESUME: {COORDINATOR},
    Action.WITHDRAW: {PROPOSER},
    Action.REVISE: {PROPOSER},
    Action.DECLARE_CONFLICT: {COORDINATOR, REVIEWER},
}


@pytest.mark.parametrize("action", list(Action))
def test_each_action_belongs_to_its_roles(action):
    idea = submitted()
    assert {p for p in EVERYONE if may(p, action, idea)} == ALLOWED[action]


def test_only_the_ideas_own_proposer_withdraws():
    another_proposer = Person("anden@example.dk", "Anden", id=7)
    with pytest.raises(NotAllowed, match="only the idea's proposer"):
        submitted().withdraw(another_proposer, NOW)


@pytest.mark.parametrize("person", [REVIEWER, PROPOSER, FOLLOWER])
def test_refused_roles_change_nothing(person):
    idea = piloting()
    idea.end_pilot(NOW)
    before = (idea.stage, len(idea.new_history), idea.pool.allocated_dkk)
    with pytest.raises(NotAllowed):
        idea.decide(Decision.KILL, person, NOW)
    with pytest.raises(NotAllowed):
        idea.evaluate(person, dict(ALL_SCORES), Outcome.SCALE, "", NOW)
    assert (idea.stage, len(idea.new_history), idea.pool.allocated_dkk) == before


def test_criteria_documents():
    listed = criteria_from_document([{"name": "effekt", "weight": 2}, {"name": "lovlig", "must_meet": True}])
    wrapped = criteria_from_document({"criteria": [{"name": "effekt", "weight": 2},
                                                   {"name": "lovlig", "must_meet": True}]})
    assert listed == wrapped and listed[1].must_meet and listed[1].weight == 1.0
    for bad, reason in [([], "non-empty"), ({"x": 1}, "non-empty"), ([{"weight": 1}], "name"),
                        ([{"name": "a", "weight": 0}], "weight"), ([{"name": "a", "weight": True}], "weight"),
                        ([{"name": "a"}, {"name": "a"}], "unique"), ([{"name": "a", "colour": "red"}], "unknown keys"),
                        ([{"name": "a", "must_meet": "yes"}], "true or false")]:
        with pytest.raises(BadInput, match=reason):
            criteria_from_document(bad)


def test_criteria_names_are_unique_ignoring_case():
    """"Effekt" and "effekt" in one pool could not be told apart once reviewers name criteria in any case."""
    for bad in ([{"name": "Effekt"}, {"name": "effekt"}], [{"name": "ÆLDRE"}, {"name": "ældre"}],
                [{"name": "Straße"}, {"name": "STRASSE"}]):
        with pytest.raises(BadInput, match="unique, also ignoring capital letters") as refused:
            criteria_from_document(bad)
        assert (refused.value.values["first"], refused.value.values["second"]) == (bad[0]["name"], bad[1]["name"])
    with pytest.raises(BadInput) as refused:
        check_criteria((Criterion("a"), Criterion("a")))
    assert render(refused.value, "da") == ("kriteriernes navne skal være forskellige, også uden hensyn til store og "
                                           "små bogstaver: 'a' og 'a' er det samme navn")
    with pytest.raises(BadInput, match="non-empty"):
        check_criteria(())
    assert check_criteria(TAARNBY_CRITERIA) is TAARNBY_CRITERIA


def test_scores_name_a_criterion_in_any_case_and_are_kept_under_its_own_name():
    criteria = (Criterion("Effekt", 2.0), Criterion("Lovlig", must_meet=True), Criterion("ældre"))
    assert scored_by_name(criteria, {"effekt": 4, "LOVLIG": 2, "ÆLDRE": 3}, "scores") == \
        {"Effekt": 4, "Lovlig": 2, "ældre": 3}
    assert scored_by_name(criteria, {"skønhed": 1}, "scores") == {"skønhed": 1}  # refused by check_scores, named
    with pytest.raises(BadInput, match="names the criterion 'Effekt' twice \\('Effekt' and 'effekt'\\)"):
        scored_by_name(criteria, {"Effekt": 4, "effekt": 3}, "scores")
    # An exact name wins over another in another case (criteria from before the names had to differ in case).
    old = (Criterion("effekt"), Criterion("Effekt"))
    assert scored_by_name(old, {"Effekt": 1, "effekt": 2}, "scores") == {"Effekt": 1, "effekt": 2}
    assert scored_by_name(old, {"EFFEKT": 1}, "scores") == {"EFFEKT": 1}  # which one? neither: refused as unknown

    idea = submitted(pool(criteria=criteria))
    review = idea.review(REVIEWER, {"effekt": 4, "lovlig": 5, "Ældre": 3}, {"lovlig": True}, "", NOW)
    assert (review.scores, review.must_meet) == ({"Effekt": 4, "Lovlig": 5, "ældre": 3}, {"Lovlig": True})
    assert review.weighted_score == 4.0
    with pytest.raises(BadInput, match="twice"):
        idea.review(REVIEWER, {"effekt": 4, "EFFEKT": 5}, {}, "", NOW, draft=True)


def test_an_evaluation_names_the_criteria_in_any_case():
    idea = piloting()
    idea.end_pilot(NOW)
    idea.evaluate(COORDINATOR, {name.upper(): 4 for name in ALL_SCORES}, Outcome.SCALE, "", NOW)
    assert idea.evaluation.scores == ALL_SCORES


def test_a_pool_has_a_positive_budget():
    assert check_budget(1) == 1 and check_budget(10**12 - 1) == 10**12 - 1
    for bad in (0, -1, -5_000_000):
        with pytest.raises(BadInput) as refused:
            check_budget(bad)
        assert refused.value.field == "budget_dkk"
        assert render(refused.value, "en") == "budget_dkk must be at least DKK 1: a pool without a budget cannot " \
                                              "fund any idea"
        assert render(refused.value, "da") == "budget_dkk skal være mindst 1 kr.: en pulje uden budget kan ikke " \
                                              "støtte nogen idé"
    with pytest.raises(BadInput, match="from DKK 1 to"):
        check_budget(10**12)


def test_weighted_score_and_score_checks():
    assert weighted_score(TAARNBY_CRITERIA, {}) is None
    assert weighted_score(TAARNBY_CRITERIA, ALL_SCORES) == 4.0
    assert weighted_score(TAARNBY_CRITERIA, {"effektivitet": 5, "omtale": 1}) == pytest.approx(11 / 3, abs=0.005)
    for scores in ({"kvalitet": 0}, {"kvalitet": 6}, {"kvalitet": True}, {"kvalitet": 2.5}, {"ukendt": 3}):
        with pytest.raises(BadInput):
            check_scores(TAARNBY_CRITERIA, scores)


@pytest.mark.parametrize("value", ["", "   ", "a\x00b", "a\x1bb", "x" * 201, "a\ud800b"])
def test_text_refused(value):
    with pytest.raises(BadInput):
        text.text(value, "--title", max_length=200)


@pytest.mark.parametrize("value", ["Æblegrød på Ærø", "<script>alert(1)</script>", "'; DROP TABLE ideas; --",
                                   "שלום עולם", "\u202eRTL override", "x" * 200])
def test_text_accepted_exactly_as_given(value):
    assert text.text(value, "--title", max_length=200) is value


def test_line_breaks_only_where_text_may_span_lines():
    assert text.text("a\nb\tc", "--description", max_length=100, multiline=True) == "a\nb\tc"
    with pytest.raises(BadInput):
        text.text("a\nb", "--title", max_length=100)


@pytest.mark.parametrize("value", ["a@b.dk", "fornavn.efternavn@kommune.dk"])
def test_emails(value):
    assert text.email(value) == value


@pytest.mark.parametrize("value", ["", "ab", "a@b", "a b@c.dk", "a@b.dk\n", "@b.dk"])
def test_not_emails(value):
    with pytest.raises(BadInput):
        text.email(value)


def test_amounts():
    assert text.amount_dkk(1, "x") == 1
    for bad in (0, -1, 10**12):
        with pytest.raises(BadInput):
            text.amount_dkk(bad, "x")


@pytest.mark.parametrize("value, number", [
    ("250000", 250_000), ("250.000", 250_000), ("250,000", 250_000), ("250 000", 250_000), ("250\u00a0000", 250_000),
    ("2.500.000", 2_500_000), (" 007 ", 7), ("-5", -5), ("\u22125", -5), ("9" * 5000, 10**30),
    ("12.50", None), ("1.5", None), ("1,5", None), ("2500.50", None), ("1.000,50", None), ("2.500,000", None),
    ("25.00.000", None), ("1 2", None), ("", None), ("²", None), ("١٢", None), ("12 kr.", None), ("1e3", None)])
def test_a_written_number_is_whole_and_grouped_in_threes_or_not_a_number(value, number):
    """No decimal is read as a whole number: 12.50 is not 1250, 1,5 not 15 (a form and the command line
    read amounts so; they used to drop every dot)."""
    assert text.written_number(value) == number


@pytest.mark.parametrize("value, number", [("0", 0), ("250000", 250000), ("007", 7), ("12345", None), ("", None),
                                           ("²", None), ("1²", None), ("٣", None), ("１２", None), ("-1", None),
                                           (" 1", None), ("1.5", None), ("9" * 5000, None)])
def test_whole_numbers_are_ascii_digits_only(value, number):
    """"²" passes `str.isdigit` and then breaks `int`; "٣" and "１２" `int` reads, but nobody types them
    for an amount; 5,000 digits exceed `int`'s limit. None of them may reach `int`."""
    assert text.whole_number(value, max_digits=4 if value != "250000" else 6) == number


def test_the_domain_imports_no_database_prefect_or_smtp():
    modules = ("states.lifecycle, states.model, states.rules, states.criteria, states.text, states.events, "
               "states.diagram, states.formatting")
    code = (f"import sys, {modules}; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'prefect', 'smtplib', 'aiosmtpd', 'storage', 'notifications', 'ideaflow', 'psycopg')]; "
            "print(bad); assert not bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_form_key_is_what_new_form_key_draws_and_nothing_else():
    drawn = {new_form_key() for _ in range(100)}
    assert len(drawn) == 100 and all(form_key(key) == key for key in drawn)
    key = next(iter(drawn))
    for sent in ("", key[:-1], key + "A", key[:-1] + "=", key[:-1] + "é", key[:-1] + "\x00", "<script>" * 5 + "abc"):
        assert form_key(sent) is None, repr(sent)


def test_the_last_administrator_keeps_the_role():
    ida = Person("ida@kommune.dk", "Ida", id=9, grants=everywhere(Role.ADMINISTRATOR))
    with pytest.raises(InvalidTransition, match="ida@kommune.dk is the last administrator"):
        require_an_administrator_left(ida, Role.ADMINISTRATOR, administrators=1)
    require_an_administrator_left(ida, Role.ADMINISTRATOR, administrators=2)  # another one is left
    require_an_administrator_left(ida, Role.COORDINATOR, administrators=1)  # another role of hers
    require_an_administrator_left(COORDINATOR, Role.ADMINISTRATOR, administrators=1)  # holds none to lose


def test_a_reminder_further_ahead_than_a_deadline_is_refused():
    with pytest.raises(BadInput, match="a reminder 30 days before a deadline comes before the gate opens"):
        GatePolicy(screening_days=30, reminder_days=30).check()
    GatePolicy(screening_days=30, reminder_days=29).check()
    GatePolicy(reminder_days=0).check()  # no reminders
