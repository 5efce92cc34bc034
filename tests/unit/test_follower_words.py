"""A pilot's dates in its follow-up group's words (`ideaflow.follower_words`): stopped, cancelled before it
began or put on hold, it is said by what happened and when, not by the dates it will not run. The list of
pilots, the pilot's page and the follower's digest all say it with `plain_dates`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ideaflow.follower_words import Halt, halt, plain_dates
from states.vocabulary import Language

START, END = date(2027, 2, 1), date(2027, 4, 30)
PLANNED = [("submit", datetime(2026, 9, 1, 8, tzinfo=UTC)), ("go", datetime(2026, 10, 1, 8, tzinfo=UTC)),
           ("go", datetime(2026, 11, 1, 8, tzinfo=UTC)), ("plan_pilot", datetime(2026, 11, 2, 8, tzinfo=UTC))]
BEGUN = [*PLANNED, ("start_pilot", datetime(2027, 1, 31, 23, 0, 5, tzinfo=UTC))]
# 23:30 UTC on 2 March is 3 March in Copenhagen: the day is the Danish one
LATE = datetime(2027, 3, 2, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(("stage", "history", "expected"), [
    ("rejected", [*BEGUN, ("kill", LATE)], Halt("stopped", date(2027, 3, 3))),
    ("withdrawn", [*BEGUN, ("withdraw", LATE)], Halt("stopped", date(2027, 3, 3))),
    ("rejected", [*PLANNED, ("kill", LATE)], Halt("cancelled", date(2027, 3, 3))),
    ("withdrawn", [*PLANNED, ("withdraw", LATE), ("release", LATE)], Halt("cancelled", date(2027, 3, 3))),
    ("on_hold", [*BEGUN, ("hold", LATE)], Halt("held", date(2027, 3, 3))),
    ("on_hold", [*PLANNED, ("hold", LATE)], Halt("held_before_start", date(2027, 3, 3))),
    # held before it began, resumed, begun, then stopped: it had begun
    ("rejected", [*PLANNED, ("hold", datetime(2027, 1, 5, tzinfo=UTC)), ("resume", datetime(2027, 1, 6, tzinfo=UTC)),
                  ("start_pilot", datetime(2027, 2, 1, tzinfo=UTC)), ("kill", LATE)],
     Halt("stopped", date(2027, 3, 3))),
    # held twice: the latest hold says since when
    ("on_hold", [*BEGUN, ("hold", datetime(2027, 2, 10, tzinfo=UTC)), ("resume", datetime(2027, 2, 11, tzinfo=UTC)),
                 ("hold", LATE)], Halt("held", date(2027, 3, 3))),
    ("funded", PLANNED, None),
    ("piloting", [*BEGUN, ("hold", datetime(2027, 2, 10, tzinfo=UTC)), ("resume", LATE)], None),
    ("evaluated", [*BEGUN, ("evaluate", LATE)], None),
])
def test_how_a_pilot_was_stopped_or_held_is_read_from_its_history(stage, history, expected):
    assert halt(stage, history) == expected


@pytest.mark.parametrize(("halted", "da", "en"), [
    (None, "Fra 1. februar 2027 til 30. april 2027", "From 1 February 2027 to 30 April 2027"),
    (Halt("stopped", date(2026, 12, 3)), "Stoppet 3. december 2026", "Stopped on 3 December 2026"),
    (Halt("cancelled", date(2026, 12, 3)), "Aflyst 3. december 2026, før piloten begyndte",
     "Cancelled on 3 December 2026, before the pilot began"),
    (Halt("held", date(2026, 12, 3)), "Sat i bero 3. december 2026", "On hold since 3 December 2026"),
    (Halt("held_before_start", date(2026, 12, 3)), "Sat i bero 3. december 2026, før piloten begyndte",
     "On hold since 3 December 2026, before the pilot began"),
])
def test_a_stopped_or_held_pilot_is_said_by_what_happened_not_by_its_planned_dates(halted, da, en):
    assert plain_dates(START, END, halted, Language.DA) == da
    assert plain_dates(START, END, halted, Language.EN) == en
    if halted is not None:
        for said in (da, en):
            assert "februar" not in said.lower() and "april" not in said.lower()
