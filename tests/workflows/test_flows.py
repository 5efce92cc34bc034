"""The Prefect flows against a real SQLite file, a real (temporary) Prefect server and aiosmtpd.

What is checked is the database and the mail server, not Prefect's bookkeeping: a flow that is run
again, retried after a crash, or fed from a deployment's parameters must leave the same record as
one clean run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ideaflow.services import Services
from states.vocabulary import Stage
from storage.tables import DecisionRow, HistoryRow, OutboxRow, TimerRow
from workflows.flows import GateReview, deliver_outbox, gate_review, send_digests, sweep_deadlines

from mailtest import ALL_SCORES, Cast

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def count(engine, statement) -> int:
    with engine.connect() as connection:
        return connection.execute(statement).scalar_one()


def fired_timers(engine) -> int:
    return count(engine, select(func.count()).select_from(TimerRow).where(TimerRow.fired_at.is_not(None)))


def escalated(engine) -> dict[int, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(HistoryRow.idea_id, func.count()).where(HistoryRow.action == "escalate")
                                       .group_by(HistoryRow.idea_id)).all())


def history_rows(engine) -> int:
    return count(engine, select(func.count()).select_from(HistoryRow))


@pytest.fixture
def cast(services) -> Cast:
    return Cast(services, now=datetime.now(UTC) - timedelta(days=60))


async def test_the_sweep_flow_moves_due_ideas_and_a_rerun_does_nothing(configure, engine, services, cast):
    configure()
    submitted_at = datetime.now(UTC) - timedelta(days=40)  # the 30-day screening deadline has passed
    ideas = [cast.submit(f"Idé {n}", cast.proposer, submitted_at) for n in range(5)]
    before = history_rows(engine)

    report = await sweep_deadlines(batch_size=2)  # several batches, one task run each

    assert report.outcomes["screening deadline passed; escalated"] == len(ideas)
    assert escalated(engine) == {idea: 1 for idea in ideas}
    assert history_rows(engine) == before + len(ideas)  # one escalation row each
    fired = fired_timers(engine)
    assert fired == report.fired

    again = await sweep_deadlines()
    assert again.fired == 0 and fired_timers(engine) == fired and history_rows(engine) == before + len(ideas)


def crash_between_the_first_two_batches(monkeypatch, service: str, task: str) -> list:
    """Make the service's second batch fail as a lost connection would, once; returns the calls.

    The batch task's own retries are switched off, so the crash fails the flow run and Prefect
    retries the whole run: the retry must find only what the first attempt left.
    """
    from workflows import flows

    original, calls = getattr(Services, service), []

    def crash_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("the worker lost the database between two batches")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Services, service, crash_once)
    monkeypatch.setattr(flows, task, getattr(flows, task).with_options(retries=0))
    return calls


async def test_a_sweep_flow_retried_after_a_crash_between_batches_does_no_work_twice(
        configure, engine, services, cast, monkeypatch):
    configure()
    submitted_at = datetime.now(UTC) - timedelta(days=40)
    ideas = [cast.submit(f"Idé {n}", cast.proposer, submitted_at) for n in range(6)]
    before = history_rows(engine)
    calls = crash_between_the_first_two_batches(monkeypatch, "sweep_batch", "fire_due_timers")
    report = await sweep_deadlines.with_options(retry_delay_seconds=0)(batch_size=4)

    assert len(calls) > 3, "the flow was not retried after the crash"
    assert 0 < report.fired < 2 * len(ideas)  # the retry fired what the first attempt had left
    assert history_rows(engine) == before + len(ideas)  # every idea escalated exactly once
    assert escalated(engine) == {idea: 1 for idea in ideas}
    assert count(engine, select(func.count()).select_from(TimerRow).where(
        TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None), TimerRow.due_at <= datetime.now(UTC))) == 0


async def test_the_digest_and_outbox_flows_deliver_each_message_once_to_a_real_smtp_server(
        configure, engine, services, cast, smtp):
    configure(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="Innovation <ideaflow@kommune.dk>")
    cast.submit("Cykelparkering ved skolerne", cast.proposer, datetime.now(UTC) - timedelta(days=1))

    delivered = await deliver_outbox()
    events = len(smtp.handler.received)
    assert delivered.sent == events > 0 and delivered.pending == 0

    run = await send_digests(now=datetime.now(UTC))  # the Monday slot just past has digests due
    assert sum(run.queued.values()) > 0
    assert run.delivery.sent == len(smtp.handler.received) - events == sum(run.queued.values())

    again = await send_digests(now=datetime.now(UTC))
    assert sum(again.queued.values()) == 0 and again.delivery.sent == 0
    assert (await deliver_outbox()).sent == 0
    assert max(smtp.handler.ids().values()) == 1  # no Message-ID twice
    assert count(engine, select(func.count()).select_from(OutboxRow).where(OutboxRow.status != "sent")) == 0


async def test_an_outbox_flow_retried_after_a_crash_between_batches_sends_nothing_twice(
        configure, engine, services, cast, smtp, monkeypatch):
    configure(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="Innovation <ideaflow@kommune.dk>")
    for n in range(4):
        cast.submit(f"Idé {n}", cast.proposer, datetime.now(UTC) - timedelta(days=1))
    total = count(engine, select(func.count()).select_from(OutboxRow))
    calls = crash_between_the_first_two_batches(monkeypatch, "deliver_batch", "deliver_mail_batch")
    report = await deliver_outbox.with_options(retry_delay_seconds=0)(batch_size=3)

    assert len(calls) > 3, "the flow was not retried after the crash"
    assert len(smtp.handler.received) == total and max(smtp.handler.ids().values()) == 1
    assert report.pending == 0


def review_form(idea: int, **fields) -> dict:
    """The JSON a coordinator's form in the Prefect UI sends as the deployment's parameters."""
    return {"review": {"idea": idea, "by": Cast.coordinator, "gate": "screening", **fields}}


@pytest.fixture
async def run_form(configure):
    """`run_form(idea, **fields)`: submit the gate-review form through Prefect's API (which checks it
    against the flow's schema), let a runner execute the run in a process of its own, as `ideaflow
    serve` does, and return how it ended: (state type, state message, every log line of the run)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.deployments import run_deployment
    from prefect.runner import Runner

    configure()
    deployment_id = await (await gate_review.ato_deployment(name="test")).apply()
    runner = Runner()  # execute_flow_run is deprecated after 3.8 (pinned here)

    async def run(idea: int, **fields) -> tuple[str, str, list[str]]:
        flow_run = await run_deployment(deployment_id, parameters=review_form(idea, **fields), timeout=0)
        await runner.execute_flow_run(flow_run.id, stream_output=False)
        async with get_client() as client:
            state = (await client.read_flow_run(flow_run.id)).state
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
        return state.type.value, state.message or "", [log.message for log in logs]

    run.deployment_id = deployment_id
    return run


async def run_here(idea: int, **fields) -> tuple[str, str, list[str]]:
    """`run_form`'s answer for a flow run of gate-review in this process (the form's fields as the
    deployment would have turned them into a GateReview): no runner process to start."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    state = await gate_review(GateReview(**review_form(idea, **fields)["review"]), return_state=True)
    await APILogHandler.aflush()
    async with get_client() as client:
        logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    return state.type.value, state.message or "", [log.message for log in logs]


@pytest.mark.filterwarnings("ignore:Runner.execute_flow_run has been deprecated")
async def test_a_gate_decision_submitted_as_deployment_parameters_moves_the_idea(run_form, services, cast):
    from prefect.deployments import run_deployment

    idea = cast.submit("Fælles kørselsordning", cast.proposer, datetime.now(UTC) - timedelta(days=1))
    services.review(idea, cast.reviewer, ALL_SCORES, datetime.now(UTC))

    state, _, _ = await run_form(idea, action="ask_reviewers", reviewers=[cast.reviewer_en])
    assert state == "COMPLETED"
    assert services_view(services, idea)["reviewers_asked"] == [cast.reviewer_en]
    state, _, _ = await run_form(idea, action="decide", decision="go", reason="Klar gevinst")
    assert state == "COMPLETED"
    shown = services_view(services, idea)
    assert shown["stage"] == Stage.SCREENED and shown["history"][-1]["reason"] == "Klar gevinst"
    # The same form submitted twice must not decide the next gate: the second run is refused.
    state, message, _ = await run_form(idea, action="decide", decision="go", reason="Klar gevinst")
    assert state == "FAILED" and message.startswith("refused: ")
    assert services_view(services, idea)["stage"] == Stage.SCREENED

    # the API refuses a form that does not fit the schema: an unknown decision, or no action chosen
    with pytest.raises(Exception, match="decision"):
        await run_deployment(run_form.deployment_id, parameters=review_form(idea, action="decide", decision="maybe"),
                             timeout=0)
    with pytest.raises(Exception, match="action"):
        await run_deployment(run_form.deployment_id, parameters=review_form(idea, decision="go"), timeout=0)


@pytest.mark.filterwarnings("ignore:Runner.execute_flow_run has been deprecated")
async def test_a_form_that_does_not_fit_its_action_or_a_refusal_fails_the_run_with_one_line_and_changes_nothing(
        run_form, engine, services, cast):
    """An untouched decision must not silently ask every reviewer, a typed reason must not be dropped,
    and a refusal by the rules ends the run failed with its reason, never with a traceback.

    A form through the API and a runner's process of its own, as in production, for one misfit and
    the refusal; the other misfits take the same path through the flow, in this process."""
    idea = cast.submit("Uden vurdering", cast.proposer, datetime.now(UTC) - timedelta(days=1))
    before = db_state(engine)
    cases = {
        "ask_reviewers takes no reason": dict(action="ask_reviewers", reviewers=[cast.reviewer],
                                              reason="Vi mangler budget"),
        "ask_reviewers takes no decision": dict(action="ask_reviewers", reviewers=[cast.reviewer], decision="go"),
        "ask_reviewers needs at least one reviewer": dict(action="ask_reviewers", reason=""),
        "decide needs a decision": dict(action="decide", reason="Uden for puljens formål"),
        "reviewers are asked with the action ask_reviewers": dict(action="decide", decision="kill",
                                                                  reviewers=[cast.reviewer]),
        "needs at least one review": dict(action="decide", decision="go"),  # refused by the rules
    }
    through_a_runner = {"decide needs a decision", "needs at least one review"}
    for reason, fields in cases.items():
        state, message, logs = await (run_form if reason in through_a_runner else run_here)(idea, **fields)
        assert state == "FAILED", (reason, state)
        assert message.startswith("refused: ") and reason in message and "\n" not in message, message
        assert any(f"idea {idea}: refused: " in line and reason in line for line in logs), logs
        assert not any("Traceback" in line for line in logs), logs
        assert db_state(engine) == before, reason


def db_state(engine) -> tuple:
    """What a gate-review run could change: the history, the decisions and the reviewers asked."""
    from storage.tables import ReviewAssignmentRow

    return tuple(count(engine, select(func.count()).select_from(table))
                 for table in (HistoryRow, DecisionRow, ReviewAssignmentRow))


def services_view(services, idea: int) -> dict:
    from ideaflow.views import idea_view

    return idea_view(services.engine, idea).model_dump(mode="json", by_alias=True)


async def test_a_retried_gate_decision_is_recorded_once(configure, engine, services, cast, monkeypatch):
    """The decision commits, then the connection drops before the task returns: the task is retried
    with the same flow run id, finds its decision recorded, and does nothing."""
    configure()
    idea = cast.submit("Digital affaldssortering", cast.proposer, datetime.now(UTC) - timedelta(days=1))
    services.review(idea, cast.reviewer, ALL_SCORES, datetime.now(UTC))
    original, calls = Services.decide, []

    def decide_then_lose_the_connection(self, *args, **kwargs):
        calls.append(kwargs["request_id"])
        result = original(self, *args, **kwargs)
        if len(calls) == 1:
            raise ConnectionError("connection lost after the commit")
        return result

    monkeypatch.setattr(Services, "decide", decide_then_lose_the_connection)
    from workflows import flows
    monkeypatch.setattr(flows, "record_decision", flows.record_decision.with_options(retry_delay_seconds=0))
    summary = await gate_review(GateReview(idea=idea, by=Cast.coordinator, gate="screening", action="decide",
                                           decision="go"))

    assert len(calls) == 2 and calls[0] == calls[1], "the task was not retried with the same request id"
    assert "now screened" in summary
    assert count(engine, select(func.count()).select_from(DecisionRow).where(DecisionRow.idea_id == idea)) == 1
    assert [h["to"] for h in services_view(services, idea)["history"]] == ["submitted", "submitted", "screened"]


async def test_a_refused_gate_decision_is_not_retried_and_changes_nothing(
        configure, engine, services, cast, monkeypatch):
    configure()
    idea = cast.submit("Uden vurdering", cast.proposer, datetime.now(UTC) - timedelta(days=1))
    before = history_rows(engine)
    original, calls = Services.decide, []
    monkeypatch.setattr(Services, "decide", lambda self, *a, **kw: calls.append(1) or original(self, *a, **kw))

    state = await gate_review(GateReview(idea=idea, by=Cast.coordinator, gate="screening", action="decide",
                                         decision="go"), return_state=True)
    assert state.is_failed() and "needs at least one review" in state.message
    assert len(calls) == 1, "a refusal was retried"
    assert history_rows(engine) == before
