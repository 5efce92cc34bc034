"""Process bodies for the intake's concurrency tests ('spawn' children: they import and connect, then
wait at the barrier so the racing parts start together)."""

from __future__ import annotations

import traceback
from datetime import datetime


def confirm_all(db_url: str, tokens: list[str], now_iso: str, barrier, results) -> None:
    """Confirm every token once; report (token, idea id, newly registered) for each, or the traceback."""
    try:
        from storage.db import make_engine

        from intake_helpers import intake_for

        engine = make_engine(db_url)
        engine.connect().close()
        intake = intake_for(engine)
        now = datetime.fromisoformat(now_iso)
        barrier.wait(timeout=120)
        outcome = []
        for token in tokens:
            confirmation = intake.confirm(token, now)
            outcome.append((token, confirmation.idea_id, confirmation.newly_registered))
        results.put(outcome)
    except Exception:  # noqa: BLE001 - the parent asserts on it
        results.put(traceback.format_exc())
