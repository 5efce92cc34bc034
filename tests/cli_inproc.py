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


def in_lockstep(db_url: str, commands: list[tuple[object, list[str]]], barrier, results) -> None:
    """A racer's body: run each `(key, argv)` in turn, each round starting together with the other
    racers' rounds (the barrier), so the commands of a round reach the database within milliseconds.

    Puts `[(key, exit code, stdout, stderr), ...]` on `results` when done.
    """
    configure(db_url)
    warm_up()  # import everything and connect before the first start signal
    outcomes = []
    for key, argv in commands:
        barrier.wait(timeout=120)
        outcomes.append((key, *run_cli(argv)))
    results.put(outcomes)


def race_in_lockstep(spawn, db_url: str, commands_per_racer: list[list[tuple[object, list[str]]]]) -> list[tuple]:
    """Run each racer's commands in its own `spawn` process, round by round in lockstep; every
    outcome `(key, exit code, stdout, stderr)`. One process per racer, not per command: a Python
    start-up costs more than a command."""
    barrier, results = spawn.Barrier(len(commands_per_racer)), spawn.Queue()
    racers = [spawn.Process(target=in_lockstep, args=(db_url, commands, barrier, results))
              for commands in commands_per_racer]
    for racer in racers:
        racer.start()
    outcomes = [outcome for _ in racers for outcome in results.get(timeout=600)]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    return outcomes
