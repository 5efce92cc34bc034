"""The real `ideaflow` entry point (`ideaflow.cli.main`) run inside a process, and process bodies
that race it (imported by 'spawn' children, so kept light).

A worker process can run hundreds of commands without paying a Python start-up for each one; a
command's exit code, stdout and stderr are exactly what the console script gives.
"""

from __future__ import annotations

import contextlib
import io
import os


def configure(db_url: str) -> None:
    for key in [k for k in os.environ if k.startswith("IDEAFLOW_")]:
        del os.environ[key]
    os.environ["IDEAFLOW_DATABASE_URL"] = db_url


def warm_up() -> None:
    """Import what the commands import and connect once, so that racers released together start together.

    Each command still builds its own application from the environment, as the console script
    does; the engine (and its compiled statements) is the process's one for that database.
    """
    import ideaflow.services  # noqa: F401  (the service layer and the mail machinery)
    from ideaflow.bootstrap import bootstrap

    with bootstrap() as app:
        app.engine.connect().close()


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    from ideaflow import cli

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def decide_in_lockstep(db_url: str, ideas: list[int], argv_tail: list[str], barrier, results) -> None:
    """For each idea in turn: wait until every racer is ready, then `ideaflow decide IDEA ...ARGV_TAIL`."""
    configure(db_url)
    warm_up()
    outcomes = []
    for idea in ideas:
        barrier.wait(timeout=120)
        outcomes.append((idea, *run_cli(["decide", str(idea), *argv_tail])))
    results.put(outcomes)
