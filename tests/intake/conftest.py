"""Fixtures for the public intake tests: the service on the test database (SQLite and PostgreSQL) with
its confirmation mail delivered at once to a real SMTP server, and a pool open for ideas.
"""

from __future__ import annotations

import pytest

from ideaflow.intake import Intake
from states.vocabulary import Role

from intake_helpers import COORDINATOR, FOLLOWER, POOL, REVIEWER, T0, intake_for


@pytest.fixture
def intake(engine, smtp) -> Intake:
    return intake_for(engine, smtp_port=smtp.port)


@pytest.fixture
def pool_id(services) -> int:
    """A pool with a coordinator, a reviewer and a follower; open for ideas (no window set)."""
    pool = services.create_pool(POOL, 2_000_000, 2027, T0)
    for email, name, role in ((COORDINATOR, "Karin Koordinator", Role.COORDINATOR),
                              (REVIEWER, "Bent Bedømmer", Role.REVIEWER), (FOLLOWER, "Frede Følger", Role.FOLLOWER)):
        services.add_person(email, name, role, T0)
    return pool.id
