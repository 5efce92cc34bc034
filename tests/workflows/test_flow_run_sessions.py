"""`ideaflow serve` starts each flow run's process in a session of its own (workflows.deployments), so that
Ctrl-C in serve's terminal reaches serve alone. The Quickstart test watches the whole of it end to end;
these check the wiring itself, which a Prefect upgrade could undo without a word."""

from __future__ import annotations

import inspect

import prefect.runner.runner as prefect_runner
from prefect.runner import Runner

from workflows.deployments import _flow_runs_in_sessions_of_their_own, _StarterOfItsOwnSession


def _nested_codes(code):
    for const in code.co_consts:
        if hasattr(const, "co_consts"):
            yield const
            yield from _nested_codes(const)


def test_the_runner_picks_its_starter_by_the_name_serve_swaps():
    """Prefect's runner resolves a due run's starter in a function nested in one of its methods
    (`_resolve_starter`), which looks `EngineCommandStarter` up in prefect.runner.runner at that moment."""
    resolvers = [nested for member in vars(Runner).values() if hasattr(inspect.unwrap(member), "__code__")
                 for nested in _nested_codes(inspect.unwrap(member).__code__) if nested.co_name == "_resolve_starter"]
    assert resolvers, "Prefect's Runner no longer has _resolve_starter: check workflows.deployments"
    assert all("EngineCommandStarter" in code.co_names for code in resolvers)


def test_while_serving_runs_start_in_sessions_of_their_own_and_the_name_is_restored_after():
    original = prefect_runner.EngineCommandStarter
    with _flow_runs_in_sessions_of_their_own():
        assert prefect_runner.EngineCommandStarter is _StarterOfItsOwnSession
        assert _StarterOfItsOwnSession(entrypoint="workflows/flows.py:deliver_outbox")._isolate_process_group
    assert prefect_runner.EngineCommandStarter is original
