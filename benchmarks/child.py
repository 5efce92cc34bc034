"""Measurements that run in a process of their own: `python -m benchmarks.child MODE URL [URL2]`.

A fresh process gives an honest peak memory (ru_maxrss) and keeps one measurement's caches from
helping the next. Prints one JSON object: {"seconds": ..., "peak_mb": ..., ...}.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import sys
import time

from benchmarks.datasets import NOW, stamp
from storage.db import BUSY_TIMEOUT_MS

BATCH = 500


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def sweep_ideaflow(url: str) -> dict:
    from ideaflow.bootstrap import bootstrap
    from ideaflow.config import Settings

    services = bootstrap(Settings(_env_file=None, database_url=url)).services
    started = time.perf_counter()
    report = services.sweep(NOW)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    empty = services.sweep(NOW)
    empty_seconds = time.perf_counter() - started
    assert not empty.fired
    return {"seconds": seconds, "fired": len(report.fired), "empty_seconds": empty_seconds, "peak_mb": peak_mb()}


def sweep_raw(url: str) -> dict:
    """The database alone: the same due rows found by the same partial index, the same writes, in batches."""
    db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    coordinators = [r[0] for r in db.execute("SELECT person_id FROM role_grants WHERE role = 'coordinator' "
                                             "ORDER BY person_id")]
    now = stamp(NOW)
    started, fired = time.perf_counter(), 0
    while True:
        db.execute("BEGIN IMMEDIATE")
        due = db.execute("SELECT id, idea_id FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL"
                         " AND due_at <= ? ORDER BY due_at, id LIMIT ?", (now, BATCH)).fetchall()
        if not due:
            db.execute("COMMIT")
            break
        ideas = {row[0]: row for row in db.execute(
            f"SELECT id, title, version FROM ideas WHERE id IN ({','.join('?' * len(due))})", [i for _, i in due])}
        db.executemany("UPDATE timers SET fired_at = ?, outcome = ? WHERE id = ? AND fired_at IS NULL",
                       [(now, "screening deadline passed; escalated", t) for t, _ in due])
        db.executemany("UPDATE ideas SET updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
                       [(now, row[0], row[2]) for row in ideas.values()])
        db.executemany("INSERT INTO history (idea_id, action, from_stage, to_stage, at, by_id, reason)"
                       " VALUES (?, 'escalate', 'submitted', 'submitted', ?, NULL, 'screening deadline passed;"
                       " escalated')", [(i, now) for _, i in due])
        db.executemany(
            "INSERT INTO outbox (kind, idea_id, recipient_id, payload, created_at, status, attempts, next_attempt_at,"
            " message_key) VALUES ('deadline_escalated', ?, ?, ?, ?, 'pending', 0, ?, lower(hex(randomblob(16))))",
            [(i, c, json.dumps({"idea_id": i, "title": ideas[i][1], "gate": "screening"}), now, now)
             for _, i in due for c in coordinators])
        db.execute("COMMIT")
        fired += len(due)
    return {"seconds": time.perf_counter() - started, "fired": fired, "peak_mb": peak_mb()}


def sweep_flow(url: str, warm_url: str, bare_url: str) -> dict:
    """The same sweep as the `sweep-deadlines` flow, timed after Prefect's one-off server start;
    and, for comparison, the bare service call while that server is up (on these 2 cores the
    server process competes with the sweep even when idle)."""
    import asyncio

    from ideaflow.bootstrap import bootstrap
    from ideaflow.config import Settings

    def point_at(database: str) -> None:
        os.environ["IDEAFLOW_DATABASE_URL"] = database  # each flow run builds its application from it

    from workflows.flows import sweep_deadlines

    point_at(warm_url)
    asyncio.run(sweep_deadlines(now=NOW))  # starts the temporary server; not part of the figure
    started = time.perf_counter()
    bootstrap(Settings(_env_file=None, database_url=bare_url)).services.sweep(NOW)
    bare_seconds = time.perf_counter() - started
    point_at(url)
    started = time.perf_counter()
    report = asyncio.run(sweep_deadlines(now=NOW))
    return {"seconds": time.perf_counter() - started, "fired": report.fired, "bare_server_up_seconds": bare_seconds,
            "peak_mb": peak_mb()}


MODES = {"sweep-ideaflow": sweep_ideaflow, "sweep-raw": sweep_raw, "sweep-flow": sweep_flow}

if __name__ == "__main__":
    mode, *urls = sys.argv[1:]
    print(json.dumps(MODES[mode](*urls)))
