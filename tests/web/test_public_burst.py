"""A burst on the public form through the running web process: 1,000 submissions from 50 concurrent
clients, then every confirmation link posted twice by two racing clients, ends as exactly 1,000 ideas
(none lost, none doubled) on SQLite and on PostgreSQL.

The load is the benchmark's (benchmarks/public_form.py: asyncio clients, each with its own cookies and
connection, as browsers have); here it is the outcome that is checked, there the speed measured.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.vocabulary import Role
from storage.tables import IdeaRow, SubmissionRow

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the benchmarks package, beside the installed ones
from benchmarks.public_form import confirm_jobs, drive, idea, mailed_tokens, submit_jobs  # noqa: E402

pytestmark = pytest.mark.slow

N, CLIENTS = 1000, 50


@pytest.mark.long
def test_a_burst_of_1000_submissions_and_confirmations_from_50_clients(engine, db_url, web_server):
    now = datetime.now(UTC)
    with bootstrap(Settings(_env_file=None, database_url=db_url)) as app:
        pool = app.services.create_pool("Borgerpuljen", 1_000_000, now.year, now)
        app.services.add_person("koordinator@kommune.dk", "Karin Koordinator", Role.COORDINATOR, now)
    server = web_server(db_url, submit_per_address=10 * N, submit_per_email=10)
    mail_dir = Path(server.env["IDEAFLOW_MAIL_DIR"])

    started = time.perf_counter()
    _, _, failed = asyncio.run(drive(server.url, submit_jobs(pool.id, N), CLIENTS))
    assert failed == []
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(SubmissionRow)) == N
        assert connection.scalar(select(func.count()).select_from(IdeaRow)) == 0
    tokens = mailed_tokens(mail_dir)
    assert len(set(tokens)) == N

    # Every link twice, the copies far apart in the list so that two different clients race for it.
    _, _, failed = asyncio.run(drive(server.url, confirm_jobs(tokens + tokens[::-1]), CLIENTS))
    assert failed == []
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        titles = connection.scalars(select(IdeaRow.title)).all()
        proposers = connection.scalar(select(func.count(func.distinct(IdeaRow.proposer_id))))
    assert sorted(titles) == sorted(idea(n)["title"] for n in range(N)), "every idea once, none lost or doubled"
    assert proposers == N
    print(f"{N} submissions and {2 * N} confirmations from {CLIENTS} clients on {engine.dialect.name}: "
          f"{seconds:.1f} s")
