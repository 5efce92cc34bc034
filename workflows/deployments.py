"""The deployments: which flow runs when. `ideaflow serve` serves exactly these, and prefect.yaml
declares the same ones for a Prefect server with workers (a test keeps the two in step)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import prefect.runner.runner as prefect_runner
from prefect import Flow
from prefect.runner import Runner
from prefect.runner._starter_engine import EngineCommandStarter
from prefect.schedules import Cron, Interval, Schedule

from ideaflow.config import Settings
from ideaflow.processes import as_sigint, signals_to_asyncio
from workflows.flows import deliver_outbox, gate_review, send_digests, sweep_deadlines

WORK_POOL = "ideaflow"
DEPLOYMENT_NAME = "ideaflow"
DIGEST_TIMEZONE = "Europe/Copenhagen"


@dataclass(frozen=True)
class Deployment:
    flow: Flow
    schedules: tuple[Schedule, ...]
    description: str

    @property
    def entrypoint(self) -> str:
        return f"workflows/flows.py:{self.flow.fn.__name__}"


def digest_cron(settings: Settings) -> str:
    """The digest slot of the settings as a cron line (cron counts Sunday as 0, Python Monday as 0).

    The flow only queues digests whose slot has come, so a schedule off the settings' slot would
    send each week's digests at the next run after it, up to a week late.
    """
    at = settings.digest_time
    return f"{at.minute} {at.hour} * * {(settings.digest_weekday + 1) % 7}"


def deployments(settings: Settings) -> tuple[Deployment, ...]:
    return (
        Deployment(sweep_deadlines, (Interval(settings.sweep_every_s),),
                   "Every 15 minutes (IDEAFLOW_SWEEP_EVERY_S): fire due gate deadlines, reminders and pilot "
                   "start/end dates."),
        Deployment(deliver_outbox, (Interval(settings.deliver_every_s),),
                   "Every 5 minutes (IDEAFLOW_DELIVER_EVERY_S): deliver pending mail; failed deliveries are "
                   "retried with backoff."),
        Deployment(send_digests, (Cron(digest_cron(settings), timezone=DIGEST_TIMEZONE),),
                   "Mondays 07:00 Copenhagen time (IDEAFLOW_DIGEST_WEEKDAY, IDEAFLOW_DIGEST_TIME): queue and "
                   "send the weekly status digests."),
        Deployment(gate_review, (),
                   "Run from the Prefect UI: ask reviewers for an idea's open gate, or record the gate decision."),
    )


class _Runner(Runner):
    """Prefect's runner, stopped by SIGTERM the way Ctrl-C stops it.

    Its own SIGTERM handler calls sys.exit() wherever the main thread is; inside Prefect's async code
    that exit was swallowed (under load here, serve kept running after SIGTERM). Ctrl-C, under
    asyncio.run, cancels the runner's task and lets it shut down cleanly.
    """

    def handle_sigterm(self, *args: object, **kwargs: object) -> None:
        as_sigint(signal.SIGTERM, None)


def serve(settings: Settings, announce: Callable[[str], None]) -> None:
    """Run every deployment's schedule in this process until SIGINT or SIGTERM, which raise
    KeyboardInterrupt once the runner has stopped (the schedules stay active after)."""
    runner = _Runner(pause_on_shutdown=False)
    for d in deployments(settings):
        runner.add_deployment(d.flow.to_deployment(name=DEPLOYMENT_NAME, schedules=list(d.schedules),
                                                   description=d.description))
    announce("serving " + ", ".join(f"{d.flow.name}/{DEPLOYMENT_NAME}" for d in deployments(settings)))
    start = runner.start()
    try:
        with signals_to_asyncio(), _flow_runs_in_sessions_of_their_own():
            asyncio.run(start)
    finally:
        start.close()  # a Ctrl-C before asyncio.run began it: no "coroutine was never awaited" warning


class _StarterOfItsOwnSession(EngineCommandStarter):
    """Starts a flow run's process in a session of its own, as Prefect does for its workspace runs.

    In serve's process group, the run's process got the Ctrl-C that a terminal sends the whole group,
    and one still importing printed a KeyboardInterrupt traceback over serve's last words. Apart, it
    sees no keystroke: serve stops, and the runner ends each run it started, as on SIGTERM.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs, isolate_process_group=True)


@contextmanager
def _flow_runs_in_sessions_of_their_own() -> Iterator[None]:
    """The runner picks its starter by this module-level name when a run is due (Prefect 3.8 offers no
    option for it); the name is restored once serving ends."""
    original = prefect_runner.EngineCommandStarter
    prefect_runner.EngineCommandStarter = _StarterOfItsOwnSession
    try:
        yield
    finally:
        prefect_runner.EngineCommandStarter = original
