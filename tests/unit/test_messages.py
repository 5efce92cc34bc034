"""Errors are codes with fields and values; every code reads in Danish and English.

A message that exists in one language only, a raise whose code the catalogue lacks, or an amount
shown as a bare number would reach a person as a KeyError or as `6000000`; these tests walk the
catalogue and the raise sites so that cannot happen unnoticed.
"""

from __future__ import annotations

import ast
import string
from datetime import date
from pathlib import Path

import pytest
from domain import COORDINATOR, NOW, screened, submitted

from states.errors import BadInput, BudgetExceeded, IdeaflowError, InvalidTransition, NotAllowed
from states.messages import CATALOGUE, LANGUAGES, render, sentence
from states.vocabulary import Decision

ROOT = Path(__file__).resolve().parents[2]
def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def sample(name: str) -> object:
    if name.endswith("_dkk"):
        return 6_000_000
    if name in ("start", "end"):
        return date(2027, 4, 1)
    return ["a", "b"] if name in ("people", "criteria", "keys", "known", "must", "choices") else "x"


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_reads_in_both_languages_with_its_values(code):
    texts = CATALOGUE[code]
    assert set(texts) == set(LANGUAGES), f"{code} lacks a language"
    names = placeholders(texts["en"])
    assert placeholders(texts["da"]) == names, f"{code}: the languages name different values"
    values = {name: sample(name) for name in names - {"field"}}
    error = IdeaflowError(code, field="the_field" if "field" in names else None, **values)
    for lang in LANGUAGES:
        line = render(error, lang, lambda field: f"<{field}>")
        assert line and "{" not in line and "\n" not in line
        if "field" in names:
            assert "<the_field>" in line
    assert texts["da"] != texts["en"] or names == {"detail"}, f"{code} is not translated"


def _raise_sites():
    """(path, function, code) of every `raise SomeError("code", ...)` in the layers that raise them."""
    for folder in ("states", "ideaflow", "storage", "web", "workflows", "notifications"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            errors = {alias.asname or alias.name for node in ast.walk(tree)
                      if isinstance(node, ast.ImportFrom) and node.module == "states.errors" for alias in node.names}
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef):
                    continue
                for node in ast.walk(function):
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in errors
                            and node.args):
                        yield str(path.relative_to(ROOT)), function.name, node.args[0]


def test_every_raised_code_is_in_the_catalogue():
    sites = list(_raise_sites())
    assert len(sites) > 50, "the walk found the raise sites"
    for path, function, code in sites:
        assert isinstance(code, ast.Constant | ast.JoinedStr), (path, function)
        literal = code.value if isinstance(code, ast.Constant) else None
        if literal is None:  # f"not_allowed.{reason}": every reason `why_not` gives is catalogued (below)
            continue
        assert literal in CATALOGUE, f"{path} {function}(): {literal!r} is not in states/messages.py"


def test_every_reason_of_the_rules_is_catalogued():
    source = (ROOT / "states/rules.py").read_text(encoding="utf-8")
    reasons = {"proposer_only", "own_idea", "conflicted", "staff_only", "role_needed"}
    assert all(f'"{reason}"' in source for reason in reasons)
    assert {f"not_allowed.{reason}" for reason in reasons} <= set(CATALOGUE)


def test_a_refusal_in_danish_formats_its_amounts_the_danish_way():
    idea = screened(requested_dkk=6_000_000)
    with pytest.raises(BudgetExceeded) as refused:
        idea.decide(Decision.GO, COORDINATOR, NOW)
    error = refused.value
    assert (error.code, error.field, error.values["amount_dkk"]) == ("budget.exceeded", "amount_dkk", 6_000_000)
    danish = render(error, "da")
    assert "har ikke råd til 6.000.000 kr." in danish and "kr. tilbage" in danish, danish
    assert "cannot afford DKK 6,000,000" in str(error), "str() is the English line, for logs and the audit"


def test_the_entry_point_names_the_field():
    with pytest.raises(BadInput) as bad:
        submitted().decide(Decision.GO, COORDINATOR, NOW, amount_dkk=1000)
    assert bad.value.field == "amount_dkk"
    assert str(bad.value) == "amount_dkk applies only to a go at the funding gate"
    flags = {"amount_dkk": "--amount-dkk"}
    assert render(bad.value, "en", flags.get) == "--amount-dkk applies only to a go at the funding gate"
    assert render(bad.value, "da", {"amount_dkk": "Beløb"}.get) == (
        "Beløb gælder kun en godkendelse (go) ved bevillingsbeslutningen")


def test_danish_names_the_stage_and_the_action():
    with pytest.raises(NotAllowed) as refused:
        submitted().withdraw(COORDINATOR, NOW)
    assert render(refused.value, "da") == \
        f"{COORDINATOR.email} må ikke tilbagetrække idé {submitted().id}: det må kun idéens forslagsstiller"
    moment = IdeaflowError("evaluation.opens_at_end", end=date(2027, 4, 1))
    assert render(moment, "da") == "evalueringen åbner, når piloten slutter (1. april 2027)"
    assert render(moment, "en") == "the evaluation gate opens when the pilot ends (1 April 2027)"
    assert render(IdeaflowError("gate.none_open", stage="on_hold"), "da") == \
        "ingen beslutning er åben for en idé, der er i bero"


def test_typed_values_stay_on_one_line():
    error = BadInput("input.not_a_pair", field="scores", value="a\nb\u0007")
    assert render(error, "en", {"scores": "--score"}.get) == "--score 'a\\nb\\x07' must look like CRITERION=VALUE"


def test_on_a_page_a_message_is_a_sentence_but_a_value_it_begins_with_keeps_its_case():
    withdrawn = InvalidTransition("transition.impossible", trigger="withdraw", stage="withdrawn")
    assert sentence(withdrawn, "da") == "En idé, der er trukket tilbage, kan ikke trækkes tilbage."
    assert sentence(withdrawn, "en") == "Cannot withdraw an idea that is withdrawn."
    assert render(withdrawn, "da") == "en idé, der er trukket tilbage, kan ikke trækkes tilbage"  # the CLI's line
    not_theirs = NotAllowed("not_allowed.proposer_only", person="karin@kommune.dk", action="withdraw", idea=7)
    assert sentence(not_theirs, "da").startswith("karin@kommune.dk må ikke ")
    assert sentence(not_theirs, "da").endswith(".") and not sentence(not_theirs, "da").endswith("..")
