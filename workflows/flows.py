"""ideaflow's Prefect flows: thin orchestration of the same service calls the CLI makes.

One flow run handles all the work that is due, one task run per batch (never a run per idea: a flow
run costs about a second here, a task run a few milliseconds). Every flow may be retried or run
twice at once, because the database, not Prefect, records what is done: a timer is claimed in the
transaction of the change it causes, an outbox row is leased and settled, a digest moves its
recipient's watermark, and a decision carries its flow run's id. A re-run finds only what is left.

Waiting is not done here: an open gate is a row with a deadline timer, so no process waits for a
decision and a restart of every process loses nothing.

Each flow run builds its own application (ideaflow.bootstrap) from the IDEAFLOW_* settings of the
process that runs it, hands it to its tasks and closes it at the end: a served process runs for
weeks, and nothing in it is cached beyond one run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Failed, State
from pydantic import BaseModel, ConfigDict, Field

from ideaflow.bootstrap import Container, bootstrap
from ideaflow.digests import Cadence
from ideaflow.services import FlushReport, SweepReport, SweepTally
from notifications.delivery import Transport
from states.errors import Conflict, IdeaflowError
from states.vocabulary import Decision, Gate


def _not_refused(task, task_run, state) -> bool:
    """Retry a lost race or an infrastructure failure, never a refusal: it would only be refused again.

    Retrying is safe because each task's work is recorded in the database it ran against (claimed
    timers, leased mail, watermarks, decision request ids), whether or not the failure came before
    or after its commit.
    """
    error = state.data
    return isinstance(error, Conflict) or not isinstance(error, IdeaflowError)


_retried = dict(retries=3, retry_delay_seconds=[1, 5, 15], retry_condition_fn=_not_refused)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


@task(name="fire-due-timers", cache_policy=NO_CACHE, **_retried)
async def fire_due_timers(app: Container, now: datetime, batch_size: int) -> SweepTally:
    # A tally, not the fired timers: Prefect walks every task result, and a batch's thousand
    # objects cost more than the batch itself. The tasks are async (their database work still
    # blocks, briefly): measured here, a sync task in this async flow cost about 0.1 s a run
    # (a new API client with its SSL context each time), an async one a few milliseconds.
    return SweepReport(app.services.sweep_batch(now, batch_size)).tally()


@task(name="expire-submissions", cache_policy=NO_CACHE, **_retried)
async def expire_submissions(app: Container, now: datetime) -> int:
    return app.intake.expire_submissions(now)


@task(name="deliver-mail-batch", cache_policy=NO_CACHE, **_retried)
async def deliver_mail_batch(app: Container, now: datetime, transport: Transport, report: FlushReport,
                             batch_size: int) -> bool:
    # A failed delivery is not an exception but the outbox's business (backoff). A retry after an
    # exception cannot send twice: the rows this attempt leased stay leased until their lease ends.
    return app.services.deliver_batch(now, transport, app.letterhead, report, batch_size=batch_size)


@task(name="queue-digests", cache_policy=NO_CACHE, **_retried)
async def queue_due_digests(app: Container, now: datetime, cadence: Cadence) -> dict[str, int]:
    return app.services.queue_digests(now, cadence).queued


@flow(name="sweep-deadlines", retries=2, retry_delay_seconds=30)
async def sweep_deadlines(now: datetime | None = None, batch_size: int = 1000) -> SweepTally:
    """Fire every due deadline, reminder and pilot timer once, then delete expired unconfirmed submissions."""
    logger = get_run_logger()
    moment, total = _now(now), SweepTally()
    with bootstrap() as app:
        while (batch := await fire_due_timers(app, moment, batch_size)).fired:
            total.add(batch)
            logger.info("batch: %s", batch.summary())
        logger.info("sweep at %s: %s", moment.isoformat(), total.summary())
        if expired := await expire_submissions(app, moment):
            logger.info("%d unconfirmed submission(s) expired and deleted", expired)
    return total


@flow(name="deliver-outbox", retries=2, retry_delay_seconds=30)
async def deliver_outbox(now: datetime | None = None, batch_size: int = 100) -> FlushReport:
    """Deliver the pending mail (SMTP, or .eml files without an SMTP host)."""
    logger = get_run_logger()
    with bootstrap() as app:
        moment, transport = _now(now), app.mail_transport()
        report = FlushReport.for_transport(transport)
        try:
            while await deliver_mail_batch(app, moment, transport, report, batch_size):
                pass
        finally:
            transport.close()
        app.services.count_pending(report, moment)
    for failure in report.failed:
        logger.error("permanently failed: %s", failure)
    (logger.info if report.ok else logger.warning)("outbox: %s", report.summary())
    return report


@flow(name="send-digests", retries=2, retry_delay_seconds=30)
async def send_digests(now: datetime | None = None) -> DigestRun:
    """Queue the weekly digests that are due, then deliver them with the rest of the outbox."""
    logger = get_run_logger()
    moment = _now(now)
    with bootstrap() as app:
        queued = await queue_due_digests(app, moment, app.digest_cadence)
    logger.info("digests queued: %s", ", ".join(f"{n} × {role}" for role, n in queued.items()) or "none due")
    return DigestRun(queued, await deliver_outbox(now=moment))


@dataclass(frozen=True, slots=True)
class DigestRun:
    queued: dict[str, int]
    delivery: FlushReport


class GateAction(StrEnum):
    ASK_REVIEWERS = "ask_reviewers"
    DECIDE = "decide"


class GateReview(BaseModel):
    """The form a coordinator fills in on the gate-review deployment in the Prefect UI.

    Asking reviewers and deciding are two explicit choices, and neither is a default: an untouched
    form must not ask every reviewer, and a typed reason must not be dropped. The fields that belong
    to the other choice are refused, not ignored (`problem`). There is no default decision either.
    """

    model_config = ConfigDict(extra="forbid")

    idea: int = Field(ge=1, description="The idea's id, as `ideaflow submit` printed it.")
    by: str = Field(min_length=3, description="Email of the coordinator acting.")
    gate: Gate = Field(description="The gate under review; a request for any other gate is refused.")
    action: GateAction = Field(description="ask_reviewers: ask the reviewers listed below to review the idea. "
                                           "decide: record the decision below.")
    decision: Decision | None = Field(default=None, description="With decide: go, kill, hold or recycle.")
    amount_dkk: int | None = Field(default=None, ge=1, description="With decide, for a funding go: the allocation "
                                                                   "in whole DKK (default: the amount requested).")
    reason: str = Field(default="", description="With decide: why; shown to the proposer and kept in the history.")
    reviewers: list[str] = Field(default_factory=list, description="With ask_reviewers: the reviewers to ask "
                                                                   "(emails, at least one).")

    def problem(self) -> str | None:
        """Why the form cannot be carried out as filled in, in one line; None when it can."""
        if self.action == GateAction.DECIDE:
            if self.decision is None:
                return "decide needs a decision (go, kill, hold or recycle)"
            if self.reviewers:
                return "reviewers are asked with the action ask_reviewers, not with decide"
            return None
        extra = [name for name, given in (("decision", self.decision is not None), ("amount_dkk", self.amount_dkk),
                                          ("reason", self.reason.strip())) if given]
        if extra:
            return f"ask_reviewers takes no {', '.join(extra)}: choose the action decide to decide"
        if not self.reviewers:
            return "ask_reviewers needs at least one reviewer's email"
        return None


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str


def _refusals_returned(work: Callable[[], str]) -> str | Refusal:
    """A refusal as the task's result, not its failure: Prefect would log it with a traceback. A lost
    race (Conflict) and any other failure still raise, so that the task is retried."""
    try:
        return work()
    except Conflict:
        raise
    except IdeaflowError as refused:
        return Refusal(str(refused))


@task(name="ask-reviewers", cache_policy=NO_CACHE, **_retried)
async def ask_reviewers(app: Container, review: GateReview, now: datetime) -> str | Refusal:
    def ask() -> str:
        asked = app.services.assign_reviewers(review.idea, review.by, now, tuple(review.reviewers))
        return f"idea {review.idea}: asked {', '.join(p.email for p in asked)}" if asked else \
            f"idea {review.idea}: every reviewer named was already asked"

    return _refusals_returned(ask)


@task(name="record-decision", cache_policy=NO_CACHE, **_retried)
async def record_decision(app: Container, review: GateReview, now: datetime, request_id: str) -> str | Refusal:
    def decide() -> str:
        idea = app.services.decide(review.idea, review.decision, review.by, now, review.amount_dkk, review.reason,
                                   at_gate=review.gate, request_id=request_id)
        return f"idea {review.idea}: {review.decision} at the {review.gate} gate, now {idea.stage}"

    return _refusals_returned(decide)


@flow(name="gate-review")
async def gate_review(review: GateReview) -> str | State:
    """Ask reviewers for one idea's open gate, or record the coordinator's decision on it.

    A form that does not fit its action, or a refusal by the rules, ends the run failed with its
    one-line reason (and changes nothing). The decision carries this flow run's id, so a retry of
    the run records it once; a second run with the same form finds the gate already decided.
    """
    logger = get_run_logger()
    now = datetime.now(UTC)
    if problem := review.problem():
        outcome: str | Refusal = Refusal(problem)
    else:
        with bootstrap() as app:
            if review.action == GateAction.ASK_REVIEWERS:
                outcome = await ask_reviewers(app, review, now)
            else:
                outcome = await record_decision(app, review, now, f"prefect-flow-run:{flow_run.id}")
    if isinstance(outcome, Refusal):
        logger.error("idea %s: refused: %s", review.idea, outcome.reason)
        return Failed(message=f"refused: {outcome.reason}")
    logger.info(outcome)
    return outcome
