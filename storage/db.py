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
"""

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


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, not the driver, start transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if parsed.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        dbapi_connection.create_function(CASEFOLD, 1, _casefold, deterministic=True)
        dbapi_connection.create_collation(DANISH, alphabet.compare)

    @event.listens_for(engine, "begin")
    def _begin(connection):
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
