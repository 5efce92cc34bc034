"""Large, deterministic portfolios written straight into a migrated SQLite file.

The schema comes from the real migrations and the pool from the service layer; the bulk rows
(people, ideas, their submit history and their pending deadline timers) are inserted with
`executemany`, in the format SQLAlchemy itself writes, so ideaflow reads them like its own.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.vocabulary import Role
from storage.migrate import upgrade

POOL = "Benchmarkpuljen"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHUNK = 50_000


@dataclass(frozen=True)
class Portfolio:
    path: Path
    ideas: int
    due: int
    people: int

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


def stamp(moment: datetime) -> str:
    """How SQLAlchemy stores an aware UTC datetime in SQLite."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def build(path: Path, *, ideas: int, due: int, proposers: int, reviewers: int = 20, coordinators: int = 5,
          followers: int = 0, seed: int = 1) -> Portfolio:
    """`ideas` submitted ideas, each with one pending screening-deadline timer, `due` of them overdue.

    Each idea has its submit row in the history; submissions are spread over the 25 days before NOW,
    so every deadline still ahead falls within the next five days.
    """
    with bootstrap(Settings(_env_file=None, database_url=f"sqlite:///{path}")) as app:
        upgrade(app.engine)
        app.services.create_pool(POOL, 10**11, NOW.year, NOW - timedelta(days=400))
    rng = random.Random(seed)
    overdue = set(rng.sample(range(1, ideas + 1), due))
    created = stamp(NOW - timedelta(days=400))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # generating only; the benchmarks use ideaflow's settings
        roles = ([Role.COORDINATOR] * coordinators + [Role.REVIEWER] * reviewers + [Role.PROPOSER] * proposers
                 + [Role.FOLLOWER] * followers)
        base = db.execute("SELECT COALESCE(MAX(id), 0) FROM people").fetchone()[0]  # the operator is there already
        people = [(base + n, role) for n, role in enumerate(roles, 1)]
        db.executemany("INSERT INTO people (id, email, name, lang, created_at) VALUES (?, ?, ?, 'da', ?)",
                       ((base + n, f"person{n}@bench.example.dk", f"Person {n}", created)
                        for n in range(1, len(roles) + 1)))
        db.executemany("INSERT INTO role_grants (person_id, role, pool_id, granted_at) VALUES (?, ?, NULL, ?)",
                       ((n, role.value, created) for n, role in people if role in (Role.COORDINATOR, Role.REVIEWER)))
        db.executemany("INSERT INTO digest_watermarks (person_id, history_id, digested_at) VALUES (?, 0, NULL)",
                       ((n,) for n, _ in people))
        first_proposer = base + coordinators + reviewers + 1
        for start in range(1, ideas + 1, CHUNK):
            numbers = range(start, min(start + CHUNK, ideas + 1))
            rows = []
            for n in numbers:
                submitted = NOW - timedelta(days=31 if n in overdue else 25 + rng.random() * 4.9, seconds=n % 3600)
                rows.append((n, first_proposer + rng.randrange(proposers), f"Idé {n}", stamp(submitted),
                             stamp(submitted + timedelta(days=30))))
            db.executemany(
                "INSERT INTO ideas (id, pool_id, proposer_id, title, description, requested_dkk, departments, stage,"
                " held_from, gate_round, deadline, evaluation_open, allocated_dkk, created_at, updated_at, version)"
                " VALUES (?, 1, ?, ?, 'En idé til benchmark.', 100000, '[]', 'submitted', NULL, 1, ?5, 0, NULL,"
                " ?4, ?4, 1)", rows)
            db.executemany(
                "INSERT INTO history (idea_id, action, from_stage, to_stage, at, by_id, reason)"
                " SELECT ?, 'submit', NULL, 'submitted', ?, ?, 'submitted'", ((r[0], r[3], r[1]) for r in rows))
            db.executemany(
                "INSERT INTO timers (idea_id, kind, due_at, created_at, fired_at, cancelled_at, outcome)"
                " VALUES (?, 'gate_deadline', ?, ?, NULL, NULL, NULL)", ((r[0], r[4], r[3]) for r in rows))
        db.execute("ANALYZE")
    return Portfolio(path, ideas, due, len(roles))
