"""How the idea page says a history line's reason (`web.routes.idea._reason`): the record keeps the
domain's English line; the page shows what a person typed, in the page's words and number format."""

from __future__ import annotations

from web.routes.idea import _reason


def test_a_funding_go_says_its_amount_the_way_the_page_writes_amounts():
    recorded = "go at the funding gate, 180.000 kr. allocated"
    assert _reason("go", recorded + ": Stærk sag", "da") == ("180.000 kr. bevilget: Stærk sag", None)
    assert _reason("go", recorded, "en") == ("DKK 180,000 allocated", None)  # not "180.000 kr. allocated"


def test_generated_reasons_are_left_to_the_lines_words_and_typed_ones_shown_as_typed():
    assert _reason("go", "go at the screening gate", "en") is None
    assert _reason("kill", "Ligger uden for puljens formål", "en") == ("Ligger uden for puljens formål", None)
    assert _reason("plan_pilot", "pilot planned: 2027-01-04 to 2027-04-30", "da") == (
        "pilot planned: 2027-01-04 to 2027-04-30", "en")  # the plan's summary, marked as English
