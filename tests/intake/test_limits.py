"""Rate limits per client address and per e-mail, counted in the database so that every web process
shares them, and exact under concurrent submissions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from states.intake import RateLimited
from storage.db import make_engine
from storage.tables import RateCountRow, SubmissionRow

from intake_helpers import T0, intake_for, submit


def submissions(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(SubmissionRow))


def test_one_address_gets_its_limit_per_window_whichever_process_it_reaches(engine, db_url, pool_id, snapshot):
    first = intake_for(engine, per_address=3, per_email=100)
    other_engine = make_engine(db_url)  # a second web process, with its own connections
    second = intake_for(other_engine, per_address=3, per_email=100)
    try:
        for n, service in enumerate((first, second, first)):
            submit(service, pool_id, email=f"p{n}@example.dk", now=T0 + timedelta(minutes=n))
        before = snapshot()
        with pytest.raises(RateLimited, match="too many ideas from this address: at most 3 in 60 minutes") as no:
            submit(second, pool_id, email="p9@example.dk", now=T0 + timedelta(minutes=5))
        assert no.value.values["retry_after"] == T0.replace(minute=0) + timedelta(hours=1)
        assert snapshot() == before  # refused: nothing stored, not even the count
        submit(second, pool_id, email="p9@example.dk", client="198.51.100.7", now=T0 + timedelta(minutes=6))
        submit(first, pool_id, email="p9@example.dk", now=no.value.values["retry_after"])  # the next window
    finally:
        other_engine.dispose()


def test_one_email_gets_its_limit_whatever_address_it_comes_from(engine, pool_id):
    service = intake_for(engine, per_address=100, per_email=2)
    submit(service, pool_id, client="192.0.2.1", email="Aase@Example.dk")
    submit(service, pool_id, client="192.0.2.2", email="aase@example.dk")
    with pytest.raises(RateLimited, match="this e-mail address"):
        submit(service, pool_id, client="192.0.2.3", email="AASE@example.dk")
    assert submissions(engine) == 2


def test_the_counts_hold_no_address_and_are_swept_away(engine, pool_id):
    service = intake_for(engine)
    submit(service, pool_id, client="203.0.113.99")
    with engine.connect() as connection:
        keys = connection.scalars(select(RateCountRow.key)).all()
    assert len(keys) == 2 and not any("203.0.113" in k or "example" in k for k in keys)
    service.expire_submissions(T0 + timedelta(hours=2))
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(RateCountRow)) == 0


def test_concurrent_submissions_from_one_address_stop_exactly_at_the_limit(engine, pool_id):
    service = intake_for(engine, per_address=5, per_email=100)
    outcomes, start = [], threading.Barrier(12)

    def one(n: int) -> None:
        start.wait()
        try:
            submit(service, pool_id, email=f"p{n}@example.dk")
            outcomes.append("ok")
        except RateLimited:
            outcomes.append("limited")

    threads = [threading.Thread(target=one, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["limited"] * 7 + ["ok"] * 5
    assert submissions(engine) == 5
