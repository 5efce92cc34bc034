"""The words a follower reads about their pilots: on the pilot's page, the list of their pilots and in their
weekly digest.

One place for all three, so that the digest tells a follow-up group what its pages show, in the same words
(not the staff's "godkendt (screenet → bevilget)"). The reviewer's pages and a pool's page say a stage in
these words too (`web.routes.words`). Translated by the catalogue (`ideaflow.i18n`).

A pilot stopped, withdrawn or put on hold is not said by its planned dates, as if it were still to run, but by
what happened to it and when (`halt`, `plain_dates`): stopped, cancelled before it began, on hold; as its
follow-up group's mail told it (`notifications/templates/*/pilot_status.j2`, which tells a pilot that had begun
from one only planned by `Idea.moved_from`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.proposer_words import history_key
from states import formatting
from states.vocabulary import COPENHAGEN, Language, Stage

#: A running pilot whose end date has passed: its evaluation gate is open (`status_key`).
EVALUATING = "evaluating"

PLAIN: dict[str, dict[str, str]] = {
    "stage": {
        "submitted": N_("submitted, waiting for screening"), "screened": N_("screened, waiting for funding"),
        "funded": N_("funded, pilot being planned"), "piloting": N_("pilot running"),
        EVALUATING: N_("the pilot has ended, and its evaluation is under way"),
        "evaluated": N_("evaluated"), "rejected": N_("stopped"), "withdrawn": N_("withdrawn"),
        "on_hold": N_("on hold"),
    },
    "action": {
        "submit": N_("The idea was submitted"), "go:screened": N_("The idea passed screening"),
        "go:funded": N_("The idea was funded"), "kill": N_("The idea was stopped"),
        "hold": N_("The idea was put on hold"), "resume": N_("Work on the idea was resumed"),
        "recycle": N_("The idea was sent back for revision"), "withdraw": N_("The idea was withdrawn"),
        "lapse": N_("The screening deadline passed and the idea lapsed"),
        "plan_pilot": N_("The pilot was planned"), "replan_pilot": N_("The pilot plan was changed"),
        "start_pilot": N_("The pilot started"), "open_evaluation": N_("The pilot ended and its evaluation began"),
        "evaluate": N_("The pilot was evaluated"),
        "close_evaluation": N_("The pilot was extended and its evaluation waits for the new end"),
    },
    "outcome": {"scale": N_("to be scaled up"), "adjust": N_("to be adjusted"), "stop": N_("stopped")},
}


#: How a pilot's dates are said once it was stopped or put on hold (`Halt.key`), or while it is not (PLANNED).
PLANNED = "planned"
DATES = {
    PLANNED: N_("From %(start)s to %(end)s"),
    "stopped": N_("Stopped on %(day)s"),
    "cancelled": N_("Cancelled on %(day)s, before the pilot began"),
    "held": N_("On hold since %(day)s"),
    "held_before_start": N_("On hold since %(day)s, before the pilot began"),
}
#: The history actions that stop a pilot or put it on hold, and the one that shows it had begun.
HALTING = ("kill", "withdraw", "hold")
BEGUN = "start_pilot"


@dataclass(frozen=True, slots=True)
class Halt:
    """What stopped a pilot or put it on hold: `key` (a `DATES` key) and the day (Copenhagen) it happened."""

    key: str
    on: date


def halt(stage: str, history: Iterable[tuple[str, datetime]]) -> Halt | None:
    """How a pilot whose idea is at `stage` was stopped or put on hold, from its idea's history (`(action, at)`,
    oldest first; other actions are passed over), or None while it is planned, running or evaluated. Killed
    or withdrawn, it was "stopped" if it had begun and "cancelled" if it had not; held, "held" or
    "held_before_start"."""
    if stage not in (Stage.REJECTED, Stage.WITHDRAWN, Stage.ON_HOLD):
        return None
    began, halted_at = False, None
    for action, at in history:
        if action == BEGUN:
            began = True
        elif action in HALTING:
            halted_at = at
    if halted_at is None:
        return None
    if stage == Stage.ON_HOLD:
        key = "held" if began else "held_before_start"
    else:
        key = "stopped" if began else "cancelled"
    return Halt(key, halted_at.astimezone(COPENHAGEN).date())


def plain_dates(start: date, end: date, halted: Halt | None, lang: Language) -> str:
    """A pilot's dates in the follower's words: its plan's first and last day, or, stopped or on hold, what
    happened to it and on which day (not the dates it will no longer run)."""
    if halted is None:
        return i18n.gettext(lang.value, DATES[PLANNED], start=formatting.day(start, lang.value),
                            end=formatting.day(end, lang.value))
    return i18n.gettext(lang.value, DATES[halted.key], day=formatting.day(halted.on, lang.value))


def status_key(stage: str, evaluation_open: bool) -> str:
    """The PLAIN["stage"] key of a pilot's status: its stage, or EVALUATING once a running pilot has ended."""
    return EVALUATING if stage == "piloting" and evaluation_open else stage


def plain_history(action: str, to_stage: str, lang: Language) -> str | None:
    """What a follower reads for a history line (a go by where it led), or None for one they are not shown."""
    return words_for(lang)("action", history_key(action, to_stage))


def plain_status(stage: str, evaluation_open: bool, lang: Language) -> str:
    """A pilot's status in the follower's words."""
    return words_for(lang)("stage", status_key(stage, evaluation_open))


def words_for(lang: Language) -> Callable[[str, str], str | None]:
    """`word(kind, code)`: the follower's words for a code in `lang`, or None for a code they are not shown."""
    def word(kind: str, code: str) -> str | None:
        text = PLAIN[kind].get(code)
        return i18n.gettext(lang.value, text) if text is not None else None
    return word
