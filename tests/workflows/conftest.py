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
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    # ~10 s on a quiet machine; a parallel run on a machine shared with other work was seen to need more
    # than 120 s (every flow test then errors). The time-out is only a ceiling.
    with prefect_test_harness(server_startup_timeout=300):
        yield


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
