"""The form helper and its macros, as page authors use them: values kept as typed, one message per
field in the reader's language, markup that ties each message to its field, and no markup from the
values. The browser half runs axe-core on the rendered parts."""

from __future__ import annotations

import re

import pytest

from states import text
from states.errors import BadInput, NotAllowed
from web.forms import Form
from web.pages import environment, html_of

from webtest import assert_no_axe_violations

PAGE = """{% from "_forms.html" import error_summary, field, radios, select, checkbox with context %}
<!DOCTYPE html><html lang="{{ lang }}"><head><meta charset="utf-8"><title>Form</title></head><body><main>
<h1>Form</h1>
{{ error_summary(form) }}
<form method="post" action="/x" novalidate>
{{ field(form, "title", _("E-mail address"), hint="Hint <b>") }}
{{ field(form, "description", "Beskrivelse", rows=5, required=False) }}
{{ radios(form, "score", "Effektivitet", [(1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5")]) }}
{{ select(form, "pool", "Pulje", [("", "Vælg"), ("7", "Tårnby <2026>")]) }}
{{ checkbox(form, "must", "Lovmedholdelig") }}
<button type="submit">Gem</button>
</form></main></body></html>"""


def rendered(form: Form, lang: str = "da") -> str:
    return html_of(environment().from_string(PAGE), {"form": form, "lang": lang})


def test_checks_keep_values_and_collect_one_message_per_field():
    form = Form({"title": " ", "description": "x\u0007y", "amount": "12.000", "score": "4", "long": "ø" * 201})
    assert form.text("title", required=True) == " "
    assert form.text("description", multiline=True) == "x\u0007y"
    assert form.whole_number("amount") == 12000
    assert form.text("long") == "ø" * 201
    form.error("title", "Write at most %(max)s characters.", max=3)  # a second error keeps the first
    assert list(form.errors) == ["title", "description", "long"]
    assert form.message("title", "da") == "Udfyld feltet."
    assert form.message("long", "da") == "Skriv højst 200 tegn."
    assert form.message("long", "en") == "Write at most 200 characters."
    assert form.message("amount", "da") is None
    bad = Form({"n": "12a", "m": "5", "k": ""})
    assert bad.whole_number("n") is None and bad.whole_number("m", low=10, high=20) is None
    assert bad.whole_number("k", required=True) is None
    assert [bad.message(f, "da") for f in "nmk"] == ["Skriv et helt tal, for eksempel 250000.",
                                                      "Skriv et tal fra 10 til 20.", "Udfyld feltet."]
    odd = Form({"a": "²", "b": "9" * 5000, "c": "0007"})  # str.isdigit, but not for int; too many digits; zeros
    assert [odd.whole_number(f, high=100) for f in "abc"] == [None, None, 7]
    assert [odd.message(f, "da") for f in "ab"] == ["Skriv et helt tal, for eksempel 250000.",
                                                    "Skriv et tal på højst 100."]
    negative = Form({"budget": "-5", "huge": "10000000000000"})  # below the range: from .. to; above: at most
    negative.whole_number("budget", low=1)
    negative.whole_number("huge", low=-(10**12 - 1))
    assert [negative.message(f, "da") for f in ("budget", "huge")] == [
        "Skriv et tal fra 1 til 999.999.999.999.", "Skriv et tal på højst 999.999.999.999."]
    big = Form({"reason": "r" * 10_001, "amount": "5"})
    big.text("reason", max_length=10_000, multiline=True)
    big.whole_number("amount", low=10_000, high=2_000_000)
    assert [big.message(f, "da") for f in ("reason", "amount")] == [  # the reader's digit grouping
        "Skriv højst 10.000 tegn.", "Skriv et tal fra 10.000 til 2.000.000."]
    assert big.message("reason", "en") == "Write at most 10,000 characters."


def test_a_number_that_is_no_amount_gets_an_example_and_a_range_of_its_own():
    form = Form({"year": "20x6", "early": "27", "days": "-3"})
    form.whole_number("year", required=True, low=2000, high=2200, example=2027, grouped=False)
    form.whole_number("early", required=True, low=2000, high=2200, example=2027, grouped=False)
    form.whole_number("days", required=True, low=1, high=365, example=30)
    assert [form.message(f, "da") for f in ("year", "early", "days")] == [
        "Skriv et helt tal, for eksempel 2027.", "Skriv et tal fra 2000 til 2200.",  # a year is not 2.000
        "Skriv et tal fra 1 til 365."]  # -3 is a whole number, outside the range


def test_a_number_is_read_as_people_write_it_and_a_decimal_is_none():
    form = Form({"dk": "2.500.000", "en": "5,000,000", "spaced": "250 000", "cents": "12.50", "half": "1,5",
                 "both": "1.000,50"})
    assert [form.whole_number(f) for f in ("dk", "en", "spaced")] == [2_500_000, 5_000_000, 250_000]
    assert [form.whole_number(f) for f in ("cents", "half", "both")] == [None, None, None]  # not 1250, 15, 100050
    assert {form.message(f, "en") for f in ("cents", "half", "both")} == {
        "Write a whole number, for example 250000."}


def test_an_address_is_marked_with_the_forms_other_errors():
    form = Form({"email": " ikke-en-adresse ", "other": "Ida@Kommune.dk ", "blank": " "})
    assert form.email() == "ikke-en-adresse" and form.email("other") == "Ida@Kommune.dk"
    form.email("blank")
    assert form.message("email", "da") == "Skriv en e-mailadresse, for eksempel navn@kommune.dk."
    assert form.message("other", "da") is None and form.message("blank", "da") == "Udfyld feltet."


def test_macros_tie_messages_to_fields_and_show_values_as_text():
    form = Form({"title": '"><script>alert(1)</script>', "score": "4", "pool": "7", "must": "yes"})
    form.error("title", "Fill in this field.")
    form.error("score", "Fill in this field.")
    html = rendered(form)
    assert "<script>" not in html and "&#34;&gt;&lt;script&gt;" in html
    assert 'href="#title"' in html and 'href="#score"' in html, "the summary links to each field"
    # A message that does not say which field it is about is named by the field's label in the summary
    # (the label the page shows, learnt as it rendered), and stands alone beside its field.
    assert '<a href="#title">E-mailadresse: Udfyld feltet.</a>' in html
    assert '<a href="#score">Effektivitet: Udfyld feltet.</a>' in html
    assert re.search(r'id="title"[^>]*aria-invalid="true"[^>]*aria-describedby="title-hint title-error"', html)
    assert '<span class="form-error-message" id="title-error"><span class="sr-only">Fejl: </span>Udfyld feltet.' in html
    assert re.search(r'id="score" name="score" value="1"', html), "the group's first radio carries its id"
    assert re.search(r'id="score-4" name="score" value="4" checked', html)
    assert re.search(r'<option value="7" selected>Tårnby &lt;2026&gt;</option>', html)
    assert re.search(r'id="must" name="must" value="yes" checked', html)
    assert "Beskrivelse<span class=\"weight-normal\"> (frivilligt)</span>" in html
    assert "Hint &lt;b&gt;" in html


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_form_parts_pass_axe_with_and_without_errors(page, lang):
    form = Form({"title": "x", "score": "2"})
    page.set_content(rendered(form, lang))
    assert_no_axe_violations(page)
    for name in ("title", "description", "score", "pool", "must"):
        form.error(name, "Fill in this field.")
    page.set_content(rendered(form, lang))
    assert_no_axe_violations(page)
    page.get_by_role("link").nth(2).click()
    assert page.evaluate("document.activeElement.id") == "score"


def test_a_service_error_lands_on_its_field_named_by_its_label_in_the_readers_language():
    """The service names its field (`email`, `amount_dkk`); the page shows the message at its own
    field, naming it by the label people see (never a command-line flag), in their language; an
    error of no field of the form goes to the summary alone."""
    form = Form({"title": " ", "amount": "0"})
    fields = {"email": ("title", "E-mail address"), "amount_dkk": ("amount", "Amount")}
    for bad in (lambda: text.text(" ", "email", max_length=320), lambda: text.amount_dkk(0, "amount_dkk")):
        with pytest.raises(BadInput) as error:
            bad()
        form.failed(error.value, fields)
    assert form.message("title", "da") == "E-mailadresse skal udfyldes."
    assert form.message("title", "en") == "E-mail address must not be empty."
    assert form.message("amount", "en") == "Amount must be a whole number of kroner from DKK 1 to DKK 999,999,999,999."
    assert form.message("amount", "da") == "Beløb skal være et helt antal kroner fra 1 kr. til 999.999.999.999 kr."
    form.failed(NotAllowed("not_allowed.proposer_only", person="k@kommune.dk", action="withdraw", idea=7), fields)
    refusal = "k@kommune.dk må ikke tilbagetrække idé 7: det må kun idéens forslagsstiller."
    assert form.message(Form.GENERAL, "da") == refusal
    html = rendered(form, "da")
    assert '<span class="sr-only">Fejl: </span>E-mailadresse skal udfyldes' in html
    assert 'href="#amount"' in html and f"<li>{refusal}</li>" in html, "the summary; no link for no field"
    assert '<a href="#title">E-mailadresse skal udfyldes.</a>' in html  # it names its field already
    assert "--" not in html.split("<main>")[1]
