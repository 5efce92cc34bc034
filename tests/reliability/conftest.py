"""Shared by the reliability tests: racing processes, and the CLI run in this process for speed.

Every test here runs on SQLite and on PostgreSQL (the `db_url` fixture of tests/conftest.py).
"""

from __future__ import annotations

import multiprocessing

import pytest

import cli_inproc


@pytest.fixture
def spawn():
    """A 'spawn' multiprocessing context: children start clean, as separate ideaflow processes would."""
    return multiprocessing.get_context("spawn")


@pytest.fixture
def ideaflow_here(db_url, engine, runtime_env):
    """`ideaflow_here(*argv)`: the real CLI entry point in this process (exit code, stdout, stderr).

    Hypothesis runs hundreds of examples; a process per example would take minutes. The exit codes,
    messages and the database are the same as the console script's (tests/e2e checks those through
    real processes).
    """
    runtime_env(db_url)
    return lambda *argv: cli_inproc.run_cli([str(a) for a in argv])
