"""The deployments: which flow runs when. `ideaflow serve` serves exactly these, and prefect.yaml
declares the same ones for a Prefect server with workers (a test keeps the two in step)."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import Flow
from prefect.schedules import Cron, Interval, Schedule

from ideaflow.config import Settings
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


def serve(settings: Settings) -> None:
    """Run every deployment's schedule in this process until Ctrl-C (schedules stay active after)."""
    from prefect import serve as prefect_serve

    prefect_serve(
        *(d.flow.to_deployment(name=DEPLOYMENT_NAME, schedules=list(d.schedules), description=d.description)
          for d in deployments(settings)),
        pause_on_shutdown=False,
    )
