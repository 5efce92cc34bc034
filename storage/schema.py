"""Which schema a database has, read without Alembic (whose import takes a second or more): every
command checks once per process that the database is not from a newer release than this code."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS = Path(__file__).with_name("migrations") / "versions"
_REVISION = re.compile(r"""^revision(?:\s*:\s*str)?\s*=\s*['"]([0-9A-Za-z_]+)['"]""", re.MULTILINE)


@cache
def known_revisions() -> frozenset[str]:
    """The revisions of this code's migrations (as Alembic's version files declare them)."""
    return frozenset(found.group(1) for path in VERSIONS.glob("*.py")
                     if (found := _REVISION.search(path.read_text(encoding="utf-8"))))


def stored_revisions(engine: Engine) -> list[str]:
    """The revisions the database says its schema is at (none: no ideaflow schema yet)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return []
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def unknown_revision(engine: Engine) -> str | None:
    """The database's schema revision if this code does not know it (a newer release migrated it), else None."""
    known = known_revisions()
    return next((revision for revision in stored_revisions(engine) if revision not in known), None)
