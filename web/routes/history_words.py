"""How the idea page says a history line's reason, in the page's language.

The record keeps the domain's English line (`Idea._record`): generated words ("go at the screening
gate"), sometimes followed by what a person typed. The page leaves out what the line's own words
already say, shows what was typed as typed, and says the generated parts that carry facts (a funding
go's amount, a pilot plan and its changes, the fields a proposer revised) in the page's words, dates
and number format. A line that does not have the form its action's words expect (written by an older
version) is shown as recorded, marked as English.
"""

from __future__ import annotations

import re

from ideaflow import i18n
from ideaflow.i18n import N_
from states import formatting
from states.model import revised_fields

ALLOCATED = N_("%(amount)s allocated")
RELEASED = N_("%(amount)s back in the pool")
#: What a proposer's revision changed (`states.model.REVISABLE`), as the page says it after "Revised by the proposer".
REVISED = {"title": N_("title"), "description": N_("description"), "requested_dkk": N_("amount asked for"),
           "departments": N_("area or department")}
PLAN = {"period": N_("%(start)s to %(end)s"), "sites": N_("test sites: %(sites)s"),
        "measures": N_("measures: %(measures)s"), "group": N_("follow-up group of %(count)s")}
CHANGE = {"start": N_("first day %(old)s → %(new)s"), "end": N_("last day %(old)s → %(new)s"),
          "sites": N_("test sites %(changes)s"), "measures": N_("measures %(changes)s"),
          "group": N_("follow-up group: %(added)s added, %(removed)s removed (now %(count)s)")}

# Generated lines with nothing a person typed, which the line's own words say.
GENERATED = frozenset({"submit", "submit_review", "revise_review", "assign", "start_pilot", "open_evaluation",
                       "escalate", "lapse", "resume", "forget"})
# `states.model.released_line`, as the domain (and migration 1b7e4c9d2f60) writes it.
RELEASE = re.compile(r"grant of (?P<amount>.*) released to the pool")
# The evaluation gate closed by extending the pilot (`Idea.plan_pilot`): the new last day.
CLOSED = re.compile(r"evaluation gate closed: the pilot runs on until (?P<end>\d{4}-\d\d-\d\d)")
RUNS_ON = N_("the pilot runs on until %(end)s")
TYPED_AFTER = {  # the generated part of a reason, and the typed text after its colon, if any
    "go": re.compile(r"(?:go at the \w+ gate|go at the funding gate, (?P<amount>.*) allocated)(?:: (?P<typed>.*))?",
                     re.S),
    "kill": re.compile(r"kill at the \w+ gate"), "hold": re.compile(r"hold at the \w+ gate"),
    "recycle": re.compile(r"recycle at the \w+ gate"), "withdraw": re.compile(r"withdrawn by the proposer"),
    "evaluate": re.compile(r"outcome \w+(?:: (?P<typed>.*))?", re.S),
    "conflict": re.compile(r"conflict of interest declared: (?P<typed>.*)", re.S),
}
DAY = r"\d{4}-\d\d-\d\d"
# `PilotPlan.summary` and `PilotPlan.changes_since`, as the domain writes them.
PLANNED = re.compile(rf"pilot planned: (?P<start>{DAY}) to (?P<end>{DAY}), sites: (?P<sites>.*?)"
                     r"(?:, measures: (?P<measures>.*?))?, follow-up group of (?P<group>\d+)", re.S)
REPLANNED = re.compile(
    rf"pilot re-planned: (?:start (?P<old_start>{DAY}) → (?P<new_start>{DAY})(?:; |$))?"
    rf"(?:end (?P<old_end>{DAY}) → (?P<new_end>{DAY})(?:; |$))?(?:sites (?P<sites>.*?)(?:; |$))?"
    r"(?:measures (?P<measures>.*?)(?:; |$))?"
    r"(?:follow-up group (?P<added>\d+) added, (?P<removed>\d+) removed \(now (?P<group>\d+)\))?", re.S)


def reason(action: str, recorded: str, lang: str) -> tuple[str, str | None] | None:
    """What the page shows of a history line's reason: (text, its language if not the page's), or None."""
    if action in GENERATED:
        return None
    if action == "plan_pilot":
        return _said(PLANNED.fullmatch(recorded), _plan, recorded, lang)
    if action == "replan_pilot":
        return _said(REPLANNED.fullmatch(recorded), _changes, recorded, lang)
    if action == "release":
        return _said(RELEASE.fullmatch(recorded), lambda found, lang: i18n.gettext(
            lang, RELEASED, amount=_amount(found["amount"], lang)), recorded, lang)
    if action == "close_evaluation":
        return _said(CLOSED.fullmatch(recorded), lambda found, lang: i18n.gettext(
            lang, RUNS_ON, end=formatting.day(found["end"], lang)), recorded, lang)
    if action == "revise":
        fields = revised_fields(recorded)
        if fields is None:
            return recorded, "en"
        return ", ".join(i18n.gettext(lang, REVISED[name]) for name in fields), None
    generated = TYPED_AFTER.get(action)
    found = generated.fullmatch(recorded) if generated else None
    if found is None:
        return recorded, None
    typed, amount = found.groupdict().get("typed"), found.groupdict().get("amount")
    if amount:
        typed = i18n.gettext(lang, ALLOCATED, amount=_amount(amount, lang)) + (f": {typed}" if typed else "")
    return (typed, None) if typed else None


def _amount(recorded: str, lang: str) -> str:
    """An amount the record wrote the Danish way ("50.000 kr."), in the page's format."""
    digits = "".join(c for c in recorded if c.isdigit())
    return formatting.dkk(int(digits), lang) if digits else recorded


def _said(found: re.Match | None, words, recorded: str, lang: str) -> tuple[str, str | None]:
    return (words(found, lang), None) if found else (recorded, "en")


def _plan(found: re.Match, lang: str) -> str:
    day = formatting.day
    parts = [i18n.gettext(lang, PLAN["period"], start=day(found["start"], lang), end=day(found["end"], lang)),
             i18n.gettext(lang, PLAN["sites"], sites=found["sites"])]
    if found["measures"]:
        parts.append(i18n.gettext(lang, PLAN["measures"], measures=found["measures"]))
    parts.append(i18n.gettext(lang, PLAN["group"], count=found["group"]))
    return "; ".join(parts)


def _changes(found: re.Match, lang: str) -> str:
    parts = [i18n.gettext(lang, CHANGE[what], old=formatting.day(found[f"old_{what}"], lang),
                          new=formatting.day(found[f"new_{what}"], lang))
             for what in ("start", "end") if found[f"old_{what}"]]
    parts += [i18n.gettext(lang, CHANGE[what], changes=found[what]) for what in ("sites", "measures") if found[what]]
    if found["group"]:
        parts.append(i18n.gettext(lang, CHANGE["group"], added=found["added"], removed=found["removed"],
                                  count=found["group"]))
    return "; ".join(parts)
