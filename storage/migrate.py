"""Bring a database to the newest schema; `ideaflow init` and the tests call this.

On PostgreSQL the upgrade holds a transaction-scoped advisory lock, so that several `ideaflow init` at
once (every worker of a deployment runs one at start) take turns: the first migrates, the others wait
for its commit and then find nothing to do. (Without it, both created `alembic_version` and one ended
in a duplicate key.) SQLite's write transactions take their turns already (`BEGIN IMMEDIATE`).
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
#: The key of the advisory lock migrations hold on PostgreSQL (any number no other lock of the database uses).
MIGRATION_LOCK = 0x1DEAF70


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> str:
    """Upgrade to head inside one transaction; safe to repeat. Returns the revision now current."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # released when the transaction ends
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head()


def head() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
