"""What a form was filled in from, in a few characters: a pool's settings forms (its intake, its criteria)
carry the fingerprint of the settings they showed, and a save made from an older copy is refused.

Settings have no version of their own; their fingerprint serves as one: two forms filled in from the same
settings carry the same fingerprint, and any change of them (by anybody, in any way) changes it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from states.errors import Conflict


def fingerprint(*values: object) -> str:
    """The fingerprint of `values` (str, int, float, bool, None, aware datetimes, and tuples of these)."""
    return hashlib.sha256(repr(tuple(_plain(v) for v in values)).encode()).hexdigest()[:32]


def _plain(value: object) -> object:
    if isinstance(value, datetime):  # the same moment read back in another time zone is the same setting
        return value.astimezone(UTC).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, tuple | list):
        return tuple(_plain(v) for v in value)
    return value


def require_unchanged(seen: str | None, current: str, *, pool: str, settings: str) -> None:
    """Refuse (Conflict) a change of a pool's `settings` ("intake", "criteria") made from a copy filled in from
    other settings than those stored now (`seen`, the copy's fingerprint; None: no such check, as on the
    command line, which changes only the settings it names)."""
    if seen is not None and seen != current:
        raise Conflict(f"conflict.{settings}_changed_meanwhile", pool=pool)
