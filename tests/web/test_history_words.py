"""How the idea page says a history line's reason (`web.routes.history_words.reason`): the record keeps the
domain's English line; the page shows what a person typed, and the facts of generated parts (an amount, a
pilot plan and its changes) in the page's words, dates and number format."""

from __future__ import annotations

from datetime import date

from states.model import Person, PilotPlan
from web.routes.history_words import reason

PLAN = PilotPlan(date(2027, 1, 4), date(2027, 4, 30), ("Viby", "Gundsømagle, nord"),
                 (Person("a@kommune.dk", "A"), Person("b@kommune.dk", "B")), ("Antal ture", "Tilfredshed; 1–5"))


def test_a_funding_go_says_its_amount_the_way_the_page_writes_amounts():
    recorded = "go at the funding gate, 180.000 kr. allocated"
    assert reason("go", recorded + ": Stærk sag", "da") == ("180.000 kr. bevilget: Stærk sag", None)
    assert reason("go", recorded, "en") == ("DKK 180,000 allocated", None)  # not "180.000 kr. allocated"


def test_generated_reasons_are_left_to_the_lines_words_and_typed_ones_shown_as_typed():
    assert reason("go", "go at the screening gate", "en") is None
    assert reason("kill", "Ligger uden for puljens formål", "en") == ("Ligger uden for puljens formål", None)


def test_a_pilot_plan_is_said_in_the_pages_words_and_dates_with_its_typed_names_as_typed():
    recorded = f"pilot planned: {PLAN.summary()}"
    assert reason("plan_pilot", recorded, "da") == (
        "4. januar 2027 til 30. april 2027; teststeder: Viby, Gundsømagle, nord; "
        "målepunkter: Antal ture; Tilfredshed; 1–5; følgegruppe på 2", None)
    assert reason("plan_pilot", recorded, "en") == (
        "4 January 2027 to 30 April 2027; test sites: Viby, Gundsømagle, nord; "
        "measures: Antal ture; Tilfredshed; 1–5; follow-up group of 2", None)
    without_measures = PilotPlan(PLAN.start, PLAN.end, ("Viby",))
    assert reason("plan_pilot", f"pilot planned: {without_measures.summary()}", "da") == (
        "4. januar 2027 til 30. april 2027; teststeder: Viby; følgegruppe på 0", None)


def test_a_changed_plan_says_each_change_in_the_pages_words():
    later = PilotPlan(date(2027, 1, 11), PLAN.end, ("Viby", "Jyllinge"), PLAN.followers[:1], PLAN.measures)
    recorded = f"pilot re-planned: {later.changes_since(PLAN)}"
    assert reason("replan_pilot", recorded, "da") == (
        "første dag 4. januar 2027 → 11. januar 2027; teststeder +Jyllinge, −Gundsømagle, nord; "
        "følgegruppe: 0 tilføjet, 1 fjernet (nu 1)", None)
    assert reason("replan_pilot", recorded, "en") == (
        "first day 4 January 2027 → 11 January 2027; test sites +Jyllinge, −Gundsømagle, nord; "
        "follow-up group: 0 added, 1 removed (now 1)", None)
    only_the_end = PilotPlan(PLAN.start, date(2027, 5, 31), PLAN.sites, PLAN.followers, PLAN.measures)
    assert reason("replan_pilot", f"pilot re-planned: {only_the_end.changes_since(PLAN)}", "en") == (
        "last day 30 April 2027 → 31 May 2027", None)


def test_a_line_of_another_form_is_shown_as_recorded_marked_english():
    assert reason("plan_pilot", "pilot planned from the old CLI", "da") == ("pilot planned from the old CLI", "en")


def test_a_revision_says_the_fields_the_proposer_changed_in_the_pages_words():
    recorded = "revised by the proposer: title, requested amount, departments"
    assert reason("revise", recorded, "da") == ("titel, ansøgt beløb, område eller afdeling", None)
    assert reason("revise", recorded, "en") == ("title, amount asked for, area or department", None)
    assert reason("revise", "revised by the proposer: the colour", "da") == (
        "revised by the proposer: the colour", "en")
