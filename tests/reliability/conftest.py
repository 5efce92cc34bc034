"""Shared by the reliability tests: racing processes, and the CLI run in this process for speed.

Every test here runs on SQLite and on PostgreSQL (the `db_url` fixture of tests/conftest.py).
"""

from __future__ import annotations

import multiprocessing

import pytest
import reliability_workers as workers

from ideaflow import runtime
from ideaflow.config import get_settings


@pytest.fixture
def spawn():
    """A 'spawn' multiprocessing context: children start clean, as separate ideaflow processes would."""
    return multiprocessing.get_context("spawn")


def _reset_runtime() -> None:
    if runtime.engine.cache_info().currsize:
        runtime.engine().dispose()
    for cached in (get_settings, runtime.engine, runtime.services):
        cached.cache_clear()


@pytest.fixture
def ideaflow_here(engine, db_url, monkeypatch, tmp_path):
    """`ideaflow_here(*argv)`: the real CLI entry point in this process (exit code, stdout, stderr).

    Hypothesis runs hundreds of examples; a process per example would take minutes. The exit codes,
    messages and the database are the same as the console script's (tests/e2e checks those through
    real processes).
    """
    monkeypatch.setenv("IDEAFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("IDEAFLOW_MAIL_DIR", str(tmp_path / "mail"))
    _reset_runtime()
    yield lambda *argv: workers.run_cli([str(a) for a in argv])
    _reset_runtime()
