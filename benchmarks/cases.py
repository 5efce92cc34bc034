"""The benchmark cases. Each returns its figures; ratios compare ideaflow with the database alone,
measured in the same run on the same kind of file, because these machines are noisy."""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.datasets import NOW, build, stamp
from storage.db import BUSY_TIMEOUT_MS

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    transitions: int
    sweep_ideas: int
    sweep_due: int
    digest_ideas: tuple[int, int]
    digest_recipients: int
    prefect_due: int
    public_form: int = 1_000  # submissions (each submitted and confirmed) through the web process, per round
    public_form_rounds: int = 3  # rounds of the bare route's rows, then the form's submissions (the median counts)
    public_form_warm_up: int = 50  # untimed submissions (and bare rows) before the rounds
    web_ideas: int = 100_000  # ideas in the database behind the console's pages (benchmarks/web_pages.py)
    web_requests: int = 800  # requests to each page (and to the bare route), in 4 rounds
    web_clients: int = 16  # clients at once


FULL = Sizes(transitions=4_000, sweep_ideas=1_000_000, sweep_due=10_000, digest_ideas=(10_000, 100_000),
             digest_recipients=1_000, prefect_due=10_000)
QUICK = Sizes(transitions=2_000, sweep_ideas=200_000, sweep_due=10_000, digest_ideas=(10_000, 100_000),
              digest_recipients=1_000, prefect_due=10_000, public_form=500, web_requests=480)
TINY = Sizes(transitions=40, sweep_ideas=3_000, sweep_due=300, digest_ideas=(500, 2_000), digest_recipients=60,
             prefect_due=100, public_form=60, public_form_rounds=1, public_form_warm_up=10, web_ideas=300,
             web_requests=8, web_clients=4)


def child(mode: str, *urls: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.child", mode, *urls], cwd=REPO, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"benchmarks.child {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def copy_db(source: Path, target: Path) -> Path:
    with sqlite3.connect(source) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, target)
    return target


# -- transitions ------------------------------------------------------------------------------------------


def transitions(work: Path, n: int) -> dict:
    """Hold and resume, alternately, through the service layer vs the same rows written by raw sqlite3.

    A hold writes the idea, a history row, a decision, cancels the pending timers and mails the
    proposer and the coordinators; a resume writes the idea, a history row, re-arms two timers and
    asks the reviewers. The raw baseline issues exactly those statements, one transaction per change.
    """
    from ideaflow.bootstrap import bootstrap
    from ideaflow.config import Settings
    from states.vocabulary import Decision

    ideas = max(n // 10, 1)
    portfolio = build(work / "transitions.db", ideas=ideas, due=0, proposers=ideas, reviewers=3, coordinators=2)
    services = bootstrap(Settings(_env_file=None, database_url=portfolio.url)).services
    coordinator = "person1@bench.example.dk"
    started = time.perf_counter()
    for change in range(n):
        idea = change % ideas + 1
        if (change // ideas) % 2 == 0:
            services.decide(idea, Decision.HOLD, coordinator, NOW, reason="afventer")
        else:
            services.resume(idea, coordinator, NOW)
    ideaflow_s = time.perf_counter() - started
    services.engine.dispose()

    baseline = build(work / "transitions-raw.db", ideas=ideas, due=0, proposers=ideas, reviewers=3, coordinators=2)
    raw_s = _raw_transitions(baseline.path, n, ideas)
    return {"transitions": n, "ideaflow_per_s": n / ideaflow_s, "raw_per_s": n / raw_s,
            "transition_ratio": raw_s / ideaflow_s}


def _raw_transitions(path: Path, n: int, ideas: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    now = stamp(NOW)
    coordinators, reviewers = [1, 2], [3, 4, 5]
    payload = json.dumps({"idea_id": 0, "title": "Idé", "pool": "Benchmarkpuljen", "stage": "on_hold"})
    started = time.perf_counter()
    for change in range(n):
        idea = change % ideas + 1
        hold = (change // ideas) % 2 == 0
        db.execute("BEGIN IMMEDIATE")
        version, proposer = db.execute("SELECT version, proposer_id FROM ideas WHERE id = ?", (idea,)).fetchone()
        stages = ("submitted", "on_hold") if hold else ("on_hold", "submitted")
        db.execute("UPDATE ideas SET stage = ?, held_from = ?, updated_at = ?, version = ?"
                   " WHERE id = ? AND version = ?",
                   (stages[1], "submitted" if hold else None, now, version + 1, idea, version))
        db.execute("INSERT INTO history (idea_id, action, from_stage, to_stage, at, by_id, reason)"
                   " VALUES (?, ?, ?, ?, ?, 1, 'afventer')", (idea, "hold" if hold else "resume", *stages, now))
        db.execute("UPDATE timers SET cancelled_at = ? WHERE idea_id = ? AND fired_at IS NULL AND cancelled_at IS NULL",
                   (now, idea))
        if hold:
            db.execute("INSERT INTO decisions (idea_id, gate, round, decision, by_id, amount_dkk, reason, at)"
                       " VALUES (?, 'screening', 1, 'hold', 1, NULL, 'afventer', ?)", (idea, now))
            recipients = [proposer, *coordinators]
        else:
            db.executemany("INSERT INTO timers (idea_id, kind, due_at, created_at) VALUES (?, ?, ?, ?)",
                           [(idea, "gate_deadline", now, now), (idea, "gate_reminder", now, now)])
            recipients = reviewers
        db.executemany("INSERT INTO outbox (kind, idea_id, recipient_id, payload, created_at, status, attempts,"
                       " next_attempt_at, message_key)"
                       " VALUES ('gate_decided', ?, ?, ?, ?, 'pending', 0, ?, lower(hex(randomblob(16))))",
                       [(idea, r, payload, now, now) for r in recipients])
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return seconds


# -- the sweep -----------------------------------------------------------------------------------------------


def sweep(work: Path, ideas: int, due: int) -> dict:
    portfolio = build(work / "sweep.db", ideas=ideas, due=due, proposers=max(ideas // 10, 1))
    raw_copy = copy_db(portfolio.path, work / "sweep-raw.db")
    measured = child("sweep-ideaflow", portfolio.url)
    baseline = child("sweep-raw", f"sqlite:///{raw_copy}")
    assert measured["fired"] == baseline["fired"] == due, (measured, baseline)
    return {"ideas": ideas, "due": due, "ideaflow_s": measured["seconds"], "raw_s": baseline["seconds"],
            "sweep_ratio": baseline["seconds"] / measured["seconds"],
            "sweep_empty_ms": measured["empty_seconds"] * 1000, "sweep_peak_memory_mb": measured["peak_mb"],
            "portfolio": portfolio}


def cli_show(portfolio_url: str, runs: int = 5) -> dict:
    import os

    env = {**os.environ, "IDEAFLOW_DATABASE_URL": portfolio_url}
    ideaflow = Path(sys.executable).with_name("ideaflow")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(ideaflow), "show", "1", "--json"], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return {"cli_show_s": statistics.median(times)}


# -- digests ----------------------------------------------------------------------------------------------------


def digests(work: Path, ideas: int, recipients: int) -> dict:
    """Every recipient's first weekly digest: coordinators, reviewers and proposers over the portfolio."""
    from ideaflow.bootstrap import bootstrap
    from ideaflow.config import Settings
    from ideaflow.digests import Cadence

    coordinators, reviewers = max(recipients // 100, 1), max(recipients // 25, 1)
    portfolio = build(work / f"digests-{ideas}.db", ideas=ideas, due=ideas // 100,
                      proposers=recipients - coordinators - reviewers, reviewers=reviewers,
                      coordinators=coordinators)
    services = bootstrap(Settings(_env_file=None, database_url=portfolio.url)).services
    started = time.perf_counter()
    report = services.queue_digests(NOW, Cadence())
    seconds = time.perf_counter() - started
    services.engine.dispose()
    assert report.covered == portfolio.people + 1  # and the command line's operator, who is always silent
    assert sum(report.queued.values()) >= report.covered - report.silent - report.opted_out
    return {"ideas": ideas, "recipients": portfolio.people, "per_recipient_ms": seconds * 1000 / portfolio.people}


# -- Prefect ----------------------------------------------------------------------------------------------------


def prefect_overhead(work: Path, due: int) -> dict:
    """The sweep as the `sweep-deadlines` flow vs the bare service call in a process without Prefect
    (the figure the goal is about), and vs the bare call while Prefect's server runs beside it."""
    portfolio = build(work / "prefect.db", ideas=due * 2, due=due, proposers=max(due // 5, 1))
    bare_copy = copy_db(portfolio.path, work / "prefect-bare.db")
    server_up_copy = copy_db(portfolio.path, work / "prefect-bare-server-up.db")
    warm = build(work / "prefect-warm.db", ideas=10, due=0, proposers=1)
    flow = child("sweep-flow", portfolio.url, warm.url, f"sqlite:///{server_up_copy}")
    bare = child("sweep-ideaflow", f"sqlite:///{bare_copy}")
    assert flow["fired"] == bare["fired"] == due
    return {"flow_s": flow["seconds"], "bare_s": bare["seconds"],
            "prefect_overhead_ratio": flow["seconds"] / bare["seconds"],
            "prefect_overhead_ratio_server_up": flow["seconds"] / flow["bare_server_up_seconds"]}
