"""Engines that behave the same on SQLite and PostgreSQL under concurrent writers.

SQLite: WAL, `synchronous=NORMAL`, a busy timeout, foreign keys on, `BEGIN IMMEDIATE` for
every write transaction, and `ideaflow_casefold(text)` (Python's `str.casefold`: SQLite's own
`lower()` and `LIKE` know the case of ASCII letters only, so "ÆLDRE" would not find "Ældre"), and
the collation `ideaflow_danish` (`states.alphabet`: Danish alphabetical order; on PostgreSQL the
migration 7e2d4b9c1f30 creates a collation of that name, ICU's "da").
A deferred `BEGIN` lets two writers both read and then fail at once with
"database is locked" when they upgrade to a write lock; taking the write lock up front makes them
queue behind the busy timeout instead. Read-only units of work use a plain deferred `BEGIN` so they
never wait for writers (WAL readers see the last committed state).

Writers of one process also queue in the process (`_WriterConnection`) before they ask SQLite: SQLite's
busy handler polls, sleeping longer and longer (up to 100 ms) between tries, so under a burst the
write lock stood free while every waiter slept, and an unlucky request waited far longer than its
turn. A thread waiting on a lock is woken the moment it is released. Writers in other processes (a
flow run, a command) still meet the busy timeout, as before.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from states import alphabet

BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "ideaflow_read_only"
#: The SQL function every SQLite connection has for case-insensitive text search beyond ASCII.
CASEFOLD = "ideaflow_casefold"
#: The collation that orders text alphabetically as Danish does, on both databases.
DANISH = "ideaflow_danish"


def _casefold(text: object) -> object:
    return text.casefold() if isinstance(text, str) else text


#: One lock per database file: this process's writers to it, in line (see the module's docstring).
_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


class _WriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions take their turn in the process's line first; the
    turn ends when the transaction does (commit, rollback, or the connection closed)."""

    line: threading.Lock | None = None
    has_turn = False

    def wait_turn(self) -> None:
        # Never worse than without the line: after the busy timeout it asks SQLite anyway.
        if self.line is not None and not self.has_turn:
            self.has_turn = self.line.acquire(timeout=BUSY_TIMEOUT_MS / 1000)

    def end_turn(self) -> None:
        if self.has_turn:
            self.has_turn = False
            self.line.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()


def _writer_line(database: str) -> threading.Lock:
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(str(Path(database).resolve()), threading.Lock())


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "factory": _WriterConnection})
    # An in-memory database is private to its connection: no WAL, and nobody to queue behind.
    on_disk = parsed.database not in (None, "", ":memory:")
    line = _writer_line(parsed.database) if on_disk else None

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, not the driver, start transactions.
        dbapi_connection.isolation_level = None
        dbapi_connection.line = line
        cursor = dbapi_connection.cursor()
        if on_disk:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        dbapi_connection.create_function(CASEFOLD, 1, _casefold, deterministic=True)
        dbapi_connection.create_collation(DANISH, alphabet.compare)

    @event.listens_for(engine, "begin")
    def _begin(connection):
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
            return
        writer = connection.connection.dbapi_connection
        writer.wait_turn()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.end_turn()
            raise

    return engine
