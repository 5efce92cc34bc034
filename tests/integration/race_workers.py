"""Process bodies for the concurrency tests (imported by 'spawn' children, so kept light and importable).

Each worker configures itself from its arguments, imports and connects *before* waiting at the
barrier, so the racing parts start within milliseconds of each other.
"""

from __future__ import annotations

import os
from datetime import datetime

from cli_inproc import configure


def sweep_at_barrier(db_url: str, now_iso: str, batch_size: int, pause_s: float, barrier, results, key) -> None:
    """Sweep through the service layer once every sweeper is ready; report the timers this one fired.

    `pause_s` pauses after each transaction has ended (as a flow doing other work between batches
    would): SQLite's busy handler is not fair, so without it the sweeper that commits a batch takes
    the write lock straight back and the other one never gets a batch in between.
    """
    configure(db_url)
    import time

    from ideaflow.bootstrap import bootstrap
    from storage.unit_of_work import UnitOfWork

    if pause_s:
        real_exit = UnitOfWork.__exit__

        def exit_then_pause(self, *exc_info):
            real_exit(self, *exc_info)
            time.sleep(pause_s)

        UnitOfWork.__exit__ = exit_then_pause

    app = bootstrap()
    app.engine.connect().close()
    services = app.services
    barrier.wait(timeout=120)
    report = services.sweep(datetime.fromisoformat(now_iso), batch_size=batch_size)
    results.put((key, [(f.timer_id, f.idea_id, f.kind, f.outcome) for f in report.fired]))


def sweep_and_die(db_url: str, now_iso: str, batch_size: int, die_after: int) -> None:
    """Sweep, and drop dead (no cleanup, no rollback) in the middle of firing timer number `die_after + 1`."""
    configure(db_url)
    from ideaflow.bootstrap import bootstrap
    from states.model import Idea

    real = Idea.fire_timer
    calls = 0

    def fire_timer(self, kind, now):
        nonlocal calls
        calls += 1
        if calls > die_after:
            os._exit(17)
        return real(self, kind, now)

    Idea.fire_timer = fire_timer
    bootstrap().services.sweep(datetime.fromisoformat(now_iso), batch_size=batch_size)
    os._exit(0)  # not reached unless there were too few timers
