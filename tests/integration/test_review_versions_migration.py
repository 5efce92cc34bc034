"""The migration to review versions keeps every stored review counting, and its reviewer can now revise it.

A database made by the previous schema holds one review per reviewer and gate round; before, a second
review by the same reviewer was refused ("has already reviewed"). After the upgrade that review is
version 1, submitted, and still counts; a new review by its reviewer is version 2 and replaces it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, insert, select

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from ideaflow.views import idea_view
from states.criteria import TAARNBY_CRITERIA
from storage.migrate import MIGRATIONS, alembic_config, upgrade
from storage.tables import ReviewRow

VERSIONS = "c30b08210d21"  # the migration to review versions
BEFORE = ScriptDirectory(str(MIGRATIONS)).get_revision(VERSIONS).down_revision  # one review per reviewer and round
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def migrate(engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def legacy_database(engine) -> tuple[int, dict[str, int]]:
    """An idea with a complete review by one reviewer and a partial one by another, as the old schema stored them."""
    migrate(engine, BEFORE)
    tables = MetaData()
    with engine.begin() as connection:
        tables.reflect(connection)
        t = tables.tables
        pool = connection.execute(insert(t["pools"]).returning(t["pools"].c.id).values(
            name="Tårnby", year=2026, budget_dkk=5_000_000, allocated_dkk=0, screening_days=30, funding_days=45,
            evaluation_days=30, reminder_days=5, on_screening_deadline="escalate", created_at=AT)).scalar()
        connection.execute(insert(t["criteria"]), [
            {"pool_id": pool, "position": n, "name": c.name, "weight": c.weight, "must_meet": c.must_meet,
             "description": c.description} for n, c in enumerate(TAARNBY_CRITERIA)])
        people = {}
        for email, role in [("k@kommune.dk", "coordinator"), ("r1@kommune.dk", "reviewer"),
                            ("r2@kommune.dk", "reviewer"), ("p@example.dk", None)]:
            people[email] = connection.execute(insert(t["people"]).returning(t["people"].c.id).values(
                email=email, name=email, lang="da", created_at=AT)).scalar()
            if role:
                connection.execute(insert(t["role_grants"]).values(person_id=people[email], role=role, pool_id=None,
                                                                   granted_at=AT))
        idea = connection.execute(insert(t["ideas"]).returning(t["ideas"].c.id).values(
            pool_id=pool, proposer_id=people["p@example.dk"], title="Idé", description="d", requested_dkk=None,
            departments=[], stage="submitted", held_from=None, gate_round=1, deadline=None, evaluation_open=False,
            allocated_dkk=None, created_at=AT, updated_at=AT, version=1)).scalar()
        connection.execute(insert(t["reviews"]), [
            {"idea_id": idea, "gate": "screening", "round": 1, "reviewer_id": people["r1@kommune.dk"],
             "scores": {c.name: 4 for c in TAARNBY_CRITERIA}, "must_meet": {}, "comment": "fin",
             "weighted_score": 4.0, "created_at": AT},
            {"idea_id": idea, "gate": "screening", "round": 1, "reviewer_id": people["r2@kommune.dk"],
             "scores": {"effektivitet": 5}, "must_meet": {}, "comment": "halv", "weighted_score": 5.0,
             "created_at": AT},
        ])
    return idea, people


def test_stored_reviews_become_version_1_submitted_and_their_reviewers_can_revise(db_url, tmp_path):
    with bootstrap(Settings(_env_file=None, database_url=db_url, mail_dir=tmp_path / "mail")) as app:
        engine, services = app.engine, app.services
        idea, _ = legacy_database(engine)
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(select(ReviewRow.comment, ReviewRow.version, ReviewRow.submitted)
                                      .order_by(ReviewRow.id)).all() == [("fin", 1, True), ("halv", 1, True)]
        view = idea_view(engine, idea)
        assert [(r.reviewer, r.version, r.submitted, r.counts) for r in view.reviews] == [
            ("r1@kommune.dk", 1, True, True), ("r2@kommune.dk", 1, True, True)]
        assert [(c.criterion, c.count, c.mean) for c in view.criteria_summary][:2] == [
            ("effektivitet", 2, 4.5), ("kvalitet", 1, 4.0)]  # the partial review counts where it scored

        # the reviewer locked out before ("has already reviewed") completes their review now
        now = datetime.now(UTC)
        assert services.review(idea, "r2@kommune.dk", {c.name: 3 for c in TAARNBY_CRITERIA}, now).version == 2
        view = idea_view(engine, idea)
        assert [(r.reviewer, r.version, r.counts) for r in view.reviews] == [
            ("r1@kommune.dk", 1, True), ("r2@kommune.dk", 1, False), ("r2@kommune.dk", 2, True)]
        assert view.history[-1].action == "revise_review" and view.history[-1].by == "r2@kommune.dk"

        # going back keeps the version that counts of each reviewer (the old schema holds one)
        services.review(idea, "r1@kommune.dk", {"kvalitet": 1}, now, draft=True)
        migrate(engine, BEFORE, down=True)
        with engine.connect() as connection:
            reviews = MetaData()
            reviews.reflect(connection, only=["reviews"])
            kept = connection.execute(select(reviews.tables["reviews"].c.comment)
                                      .order_by(reviews.tables["reviews"].c.id)).scalars().all()
        assert kept == ["fin", ""]
