"""SQLite writers of one process take turns in the process (storage.db) before they ask SQLite for its write
lock: a turn is taken by a write transaction's BEGIN and ends with the transaction, however it ends, and
read-only transactions never take one. (That the line shortens the waits under a burst is measured by the
public form's benchmark, p95, not asserted here.)"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.db import READ_ONLY, _writer_line, make_engine


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "writers.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    yield engine, _writer_line(str(path))
    engine.dispose()


def test_a_write_transaction_holds_the_turn_until_it_commits_or_rolls_back(database):
    engine, line = database
    assert not line.locked()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert line.locked()
    assert not line.locked()

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))  # the same key again: refused, rolled back
    assert not line.locked()

    with engine.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (2)"))
        assert line.locked()
        connection.rollback()
        assert not line.locked()


def test_a_read_only_transaction_takes_no_turn_and_a_closed_connection_gives_its_turn_back(database):
    engine, line = database
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert not line.locked()

    connection = engine.connect()
    connection.execute(text("INSERT INTO t VALUES (3)"))
    assert line.locked()
    connection.invalidate()  # the DBAPI connection is closed under the open transaction
    assert not line.locked()
    connection.close()


def test_engines_on_one_file_share_one_line_and_a_waiting_writer_goes_on_when_the_turn_ends(database, tmp_path):
    engine, line = database
    other = make_engine(f"sqlite:///{tmp_path / '.' / 'writers.db'}")  # another spelling of the same file
    assert _writer_line(str(tmp_path / "writers.db")) is line
    began, stored = threading.Event(), []

    def second_writer() -> None:
        with other.begin() as connection:
            began.set()
            connection.execute(text("INSERT INTO t VALUES (5)"))
        stored.append(5)

    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (4)"))
        waiting = threading.Thread(target=second_writer)
        waiting.start()
        assert not began.wait(0.3)  # in line behind this transaction
    waiting.join(30)
    assert began.is_set() and stored == [5] and not line.locked()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [4, 5]
    other.dispose()


def test_many_threads_writing_at_once_all_commit(database):
    engine, line = database

    def write(first: int) -> None:
        for n in range(first, first + 50):
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    writers = [threading.Thread(target=write, args=(1000 * k,)) for k in range(1, 9)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 8 * 50
    assert not line.locked()
