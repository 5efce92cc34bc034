"""The migration to roles per pool: a database made by the previous schema keeps what everyone could do."""

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.errors import NotAllowed
from states.rules import Action
from states.vocabulary import OPERATOR_EMAIL, Decision, Role
from storage.migrate import alembic_config, head, upgrade

PREVIOUS_HEAD = "c097eaabe3d6"  # the schema with one global role per person
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PEOPLE = [("koord@kommune.dk", "Karin", "coordinator"), ("bed@kommune.dk", "Bent", "reviewer"),
          ("borger@example.dk", "Birgit", "proposer"), ("byraad@kommune.dk", "Frede", "follower")]


def _previous_schema_with_people(engine, db_url) -> None:
    config = alembic_config(db_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, PREVIOUS_HEAD)
        stamp = NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW
        connection.execute(text(
            "INSERT INTO pools (name, year, budget_dkk, allocated_dkk, screening_days, funding_days, "
            "evaluation_days, reminder_days, on_screening_deadline, created_at) "
            "VALUES ('Gammel pulje', 2026, 1000000, 0, 30, 45, 30, 5, 'escalate', :at)"), {"at": stamp})
        for email, name, role in PEOPLE:
            person = connection.execute(text(
                "INSERT INTO people (email, name, role, lang, created_at) VALUES (:e, :n, :r, 'da', :at) RETURNING id"),
                {"e": email, "n": name, "r": role, "at": stamp}).scalar_one()
            connection.execute(text("INSERT INTO digest_watermarks (person_id, history_id) VALUES (:p, 0)"),
                               {"p": person})


def test_every_person_keeps_what_they_could_do(db_url):
    app = bootstrap(Settings(_env_file=None, database_url=db_url))
    engine = app.engine
    try:
        _previous_schema_with_people(engine, db_url)
        assert upgrade(engine) == head()
        services = app.services
        # A pool made after the migration: the old global roles hold on it too.
        services.create_pool("Ny pulje", 500_000, 2026, NOW)
        coordinator, reviewer, proposer, follower = (email for email, _, _ in PEOPLE)
        for pool in ("Gammel pulje", "Ny pulje"):
            idea = services.submit(title="Idé", description="d", proposer="borger@example.dk", pool=pool, now=NOW)
            assert services.available_actions(idea, reviewer) == [Action.REVIEW, Action.DECLARE_CONFLICT]
            assert Action.KILL in services.available_actions(idea, coordinator)
            assert services.available_actions(idea, proposer) == [Action.WITHDRAW]
            assert services.available_actions(idea, follower) == []
            services.decide(idea, Decision.HOLD, coordinator, NOW)
            with pytest.raises(NotAllowed):
                services.decide(idea, Decision.KILL, reviewer, NOW)
        with engine.connect() as connection:
            grants = connection.execute(text(
                "SELECT p.email, g.role, g.pool_id FROM role_grants g JOIN people p ON p.id = g.person_id "
                "ORDER BY p.email")).all()
            columns = [c["name"] for c in inspect(connection).get_columns("people")]
        assert sorted(grants) == sorted([("koord@kommune.dk", "coordinator", None),
                                         ("bed@kommune.dk", "reviewer", None),
                                         (OPERATOR_EMAIL, Role.OPERATOR.value, None)])
        assert "role" not in columns
    finally:
        app.close()
