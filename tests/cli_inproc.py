"""The real `ideaflow` entry point (`ideaflow.cli.main`) run inside a process, and process bodies
that race it (imported by 'spawn' children, so kept light).

A worker process can run hundreds of commands without paying a Python start-up for each one; a
command's exit code, stdout and stderr are exactly what the console script gives.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path


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


def run_cli_in(argv: list[str], environment: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """`run_cli(argv)` with exactly this environment and working directory, both restored afterwards:
    what the console script would do as a subprocess started with `env=environment, cwd=cwd`."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(cwd)
    try:
        return run_cli(argv)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)

