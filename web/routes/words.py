"""Words and formats the reviewer's and the follower's pages share, in the reader's language.

`formatters(request)` gives a template `moment`, `day`, `dkk`, `score`, `size` (of a file) and `weight`
(of a criterion) in the reader's formats (Copenhagen time), `word(kind, value)` for the lifecycle's
codes (stage, gate, history action, outcome; a follower's words are `ideaflow.follower_words`) and
`pilot_dates(pilot)` for a pilot's dates, or how it was stopped or put on hold.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Request

from ideaflow import follower_words, i18n
from ideaflow.i18n import N_
from states import formatting
from states.vocabulary import COPENHAGEN, Language, Stage
from web import pages

# A stage as the staff's pages (the portfolio, the pool page) name it; `WORDS["stage"]` are the followers' words.
STAGE_NAMES = {
    Stage.SUBMITTED: N_("Submitted"), Stage.SCREENED: N_("Screened"), Stage.FUNDED: N_("Funded"),
    Stage.PILOTING: N_("Piloting"), Stage.EVALUATED: N_("Evaluated"), Stage.REJECTED: N_("Rejected"),
    Stage.WITHDRAWN: N_("Withdrawn"), Stage.ON_HOLD: N_("On hold"),
}

WORDS = {
    **follower_words.PLAIN,  # stage, history action, outcome: as the follower's digest says them
    "gate": {"screening": N_("screening"), "funding": N_("funding")},
    "status": {"to_do": N_("Not started"), "unfinished": N_("Unfinished"),
               "submitted": N_("Submitted (you may revise it)")},
}


def formatters(request: Request) -> dict:
    lang = pages.language(request)
    return {
        "moment": lambda value: formatting.moment(value, lang),
        "day": lambda value: formatting.day(value, lang),
        "dkk": lambda value: formatting.dkk(value, lang),
        "score": lambda value: formatting.score(value, lang),
        "size": lambda n_bytes: file_size(n_bytes, lang),
        "weight": lambda value: weight(value, lang),
        "opening_day": lambda moment: whole_day(moment, lang),
        "closing_day": lambda moment: whole_day(moment, lang, ending=True),
        "stage_name": lambda stage: i18n.gettext(lang, STAGE_NAMES[stage]) if stage in STAGE_NAMES else stage,
        "word": lambda kind, value: i18n.gettext(lang, WORDS[kind][value]) if value in WORDS[kind] else value,
        # a pilot's dates, or how it was stopped or put on hold, as its follow-up group's digest says them
        "pilot_dates": lambda p: follower_words.plain_dates(p.start, p.end, p.halt, Language(lang)),
    }


def file_size(n_bytes: int, lang: str) -> str:
    """A file's size as a download link or a limit shows it: 12 kB, 10 MB, 1,5 MB (1.5 MB in English)."""
    return formatting.file_size(n_bytes, lang)


def weight(value: float, lang: str) -> str:
    """A criterion's weight as people write it in the page's language: 2, or 1,5 in Danish and 1.5 in English
    (the criteria form reads either back)."""
    return _decimal(f"{value:g}", lang)


def _decimal(number: str, lang: str) -> str:
    return number.replace(".", ",") if lang == "da" else number


def whole_day(moment: datetime | None, lang: str, *, ending: bool = False) -> str | None:
    """A window's bound said as a day when it falls on a Copenhagen midnight: the day it begins, or for an
    end (`ending`) the last day before it ("til og med 31. januar", not "1. februar kl. 00:00"); None
    for a bound within a day, which is said as the moment."""
    if moment is None:
        return None
    local = moment.astimezone(COPENHAGEN)
    if local.time() != datetime.min.time():
        return None
    return formatting.day((local - timedelta(days=1)).date() if ending else local.date(), lang)
