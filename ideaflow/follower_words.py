"""The words a follower reads about their pilots: on the pilot's page, the list of their pilots and in their
weekly digest.

One place for all three, so that the digest tells a follow-up group what its pages show, in the same words
(not the staff's "godkendt (screenet → bevilget)"). The reviewer's pages and a pool's page say a stage in
these words too (`web.routes.words`). Translated by the catalogue (`ideaflow.i18n`).
"""

from __future__ import annotations

from collections.abc import Callable

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.proposer_words import history_key
from states.vocabulary import Language

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
