"""The words a proposer reads about their idea, on "my ideas" and in their weekly digest.

One place for both, so that the digest never tells a proposer what their page hides (escalations, who
reviewed, internal notes) nor says it in other words. Translated by the catalogue (`ideaflow.i18n`).
"""

from __future__ import annotations

from collections.abc import Callable

from ideaflow import i18n
from ideaflow.i18n import N_
from states.vocabulary import Language

#: What a proposer reads about their idea, translated by the catalogue (`ideaflow.i18n`). The history
#: actions not named here (escalations, reviewers asked, reviews) are internal and not shown.
PLAIN: dict[str, dict[str, str]] = {
    "stage": {
        "submitted": N_("Received – waiting for screening"),
        "screened": N_("Screened – waiting for a funding decision"),
        "funded": N_("Funded – the pilot is being planned"), "piloting": N_("Being tried out in a pilot"),
        "evaluated": N_("Tried out and evaluated"), "rejected": N_("Not selected"), "withdrawn": N_("Withdrawn"),
        "on_hold": N_("On hold"),
    },
    "action": {
        "submit": N_("The idea was received"), "go:screened": N_("The idea passed screening"),
        "go:funded": N_("The idea was funded by the pool"), "kill": N_("The idea was not selected"),
        "hold": N_("The idea was put on hold"), "recycle": N_("The idea was sent back to you for revision"),
        "resume": N_("Work on the idea was resumed"), "withdraw": N_("The idea was withdrawn"),
        "start_pilot": N_("The pilot started"), "open_evaluation": N_("The pilot ended and its evaluation began"),
        "close_evaluation": N_("The pilot was extended, and its evaluation waits until it ends"),
        "evaluate": N_("The pilot was evaluated"),
        "lapse": N_("The screening deadline passed and the idea lapsed"),
        "revise": N_("You revised the idea"),
    },
    # what a revision changed (`states.model.REVISABLE`)
    "field": {"title": N_("title"), "description": N_("description"), "requested_dkk": N_("amount asked for"),
              "departments": N_("area or department")},
    "decision": {"go": N_("Approved"), "kill": N_("Not selected"), "hold": N_("Put on hold"),
                 "recycle": N_("Sent back for revision")},
    # where a decision was taken: "Approved at the screening"
    "gate": {"screening": N_("at the screening"), "funding": N_("at the funding decision")},
    "outcome": {"scale": N_("The solution is to be scaled up"), "adjust": N_("The solution is to be adjusted"),
                "stop": N_("The solution is stopped")},
}


#: The history actions a proposer is shown, on "my ideas" and in their digest: those PLAIN has words for.
PROPOSER_HISTORY = frozenset(key.partition(":")[0] for key in PLAIN["action"])


def plain_history(action: str, to_stage: str, lang: Language) -> str | None:
    """What a proposer reads for a history line (a go by where it led), or None for a line that is
    internal and not shown to them."""
    return words_for(lang)("action", history_key(action, to_stage))


def plain_stage(stage: str, lang: Language) -> str:
    """A stage in the proposer's words."""
    return words_for(lang)("stage", stage)


def history_key(action: str, to_stage: str) -> str:
    """The PLAIN["action"] key of a history line: a go is told by where it led."""
    return f"go:{to_stage}" if action == "go" else action


def words_for(lang: Language) -> Callable[[str, str], str | None]:
    """`word(kind, code)`: the proposer's words for a code in `lang`, or None for a code they are not shown."""
    def word(kind: str, code: str) -> str | None:
        text = PLAIN[kind].get(code)
        return i18n.gettext(lang.value, text) if text is not None else None
    return word
