"""Fixtures for the flow tests: one Prefect test harness for the whole session, a real SQLite file.

The harness (a temporary Prefect server, about ten seconds to start here) is started once, lazily,
by the first test that needs it. The flows get their services the way they do in production: each
flow run builds its application (ideaflow.bootstrap) from IDEAFLOW_* in the environment, which
`configure` points at the test's database (and mail settings) until the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_harness(prefect_home, tmp_path_factory) -> Iterator[None]:
    """A Prefect server of this worker's for the flows, started once, lazily, by the first test that needs it.

    It is the server `ideaflow serve` starts (workflows.local_server), without UI and services, on a
    copy of a Prefect database migrated once per run: Prefect's own test harness migrates a fresh
    database each time, ~20 s of a worker's time before the first flow test."""
    import prefect.settings

    from workflows.local_server import drain_prefect_clients, free_port, local_prefect_server

    home = prefect_home(tmp_path_factory.mktemp("prefect-home"))
    with pytest.MonkeyPatch.context() as environment:  # read by the server's process as it starts
        environment.setenv("PREFECT_HOME", str(home))
        environment.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        with local_prefect_server(free_port(), ui=False, services=False) as url, \
                prefect.settings.temporary_settings(updates={prefect.settings.PREFECT_API_URL: url}):
            yield
            drain_prefect_clients()


@pytest.fixture
def db_url(db_path) -> str:
    """The flow tests run on SQLite; the flows call the same service layer whose tests cover PostgreSQL."""
    return f"sqlite:///{db_path}"


@pytest.fixture
def configure(engine, runtime_env, prefect_harness):
    """`configure(**settings)`: the IDEAFLOW_* settings the flows of this test run with."""
    url = engine.url.render_as_string(hide_password=False)

    def apply(**settings: object) -> None:
        runtime_env(url, **settings)

    apply()
    return apply
