"""Racing process bodies for the reliability tests (imported by 'spawn' children, so kept light).

Each racer is a separate process running the real entry point, `ideaflow.cli.main`, once per command
(see cli_inproc.py); before each command it waits at a barrier for every other racer, so the
commands of one round start within milliseconds of each other.
"""

from __future__ import annotations

from cli_inproc import configure, run_cli, warm_up


def in_lockstep(db_url: str, commands: list[tuple[object, list[str]]], barrier, results) -> None:
    """Run each `(key, argv)` in turn, each round starting together with the other racers' rounds.

    Puts `[(key, exit code, stdout, stderr), ...]` on `results` when done.
    """
    configure(db_url)
    warm_up()  # import everything and connect before the first start signal
    outcomes = []
    for key, argv in commands:
        barrier.wait(timeout=120)
        outcomes.append((key, *run_cli(argv)))
    results.put(outcomes)
