"""A revision keeps the text it replaces: `idea_versions`, written in the revision's own transaction,
append-only like the history, on SQLite and PostgreSQL; shown by `show --json`; kept through a proposer
being forgotten; made by its migration.

What would fail without it: the overwritten title, description, amount and departments lost (the
reviewers' earlier round judged a text nobody can read any more), a version written without its
revision or with the wrong round (a second revision in a round, a revision in a later round read from
the database anew), an earlier version rewritten or deleted, the forgetting of a proposer refused by the
append-only table or leaving their name in it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError
from test_review_versions_migration import migrate

from states.criteria import TAARNBY_CRITERIA
from states.errors import BadInput
from states.vocabulary import Decision
from storage.migrate import MIGRATIONS, upgrade
from storage.tables import IdeaVersionRow, PersonRow

ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}
VERSIONS = "6e1c9b4d2a57"  # the migration that adds idea_versions
BEFORE = ScriptDirectory(str(MIGRATIONS)).get_revision(VERSIONS).down_revision


def stored(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(IdeaVersionRow.idea_id, IdeaVersionRow.round, IdeaVersionRow.title, IdeaVersionRow.description,
                   IdeaVersionRow.requested_dkk, IdeaVersionRow.departments, PersonRow.email,
                   IdeaVersionRow.replaced_in_round)
            .join(PersonRow, IdeaVersionRow.replaced_by_id == PersonRow.id).order_by(IdeaVersionRow.id))]


def send_back(services, world, idea: int, reason: str = "Uddyb budgettet") -> None:
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    services.decide(idea, Decision.RECYCLE, world.coordinator, world.clock(), reason=reason)


@pytest.fixture
def revised(services, world):
    """An idea sent back at screening (round 2) and revised once by its proposer."""
    idea = world.idea()
    send_back(services, world, idea)
    services.revise(idea, world.proposer, world.clock(), title="Uddybet idé", description="Nyt budget\nher",
                    requested_dkk=80_000, departments=("Skoler", "Ældre"))
    return idea


def test_each_revision_keeps_the_text_it_replaced_with_its_round(engine, services, world, shown, revised):
    idea = revised
    assert stored(engine) == [(idea, 1, "Idé nummer 1", "En god idé.", 100_000, [], world.proposer, 2)]

    services.revise(idea, world.proposer, world.clock(), requested_dkk=None)  # again in round 2: its own text
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())  # (the review of round 2 is loaded anew)
    services.decide(idea, Decision.RECYCLE, world.coordinator, world.clock(), reason="Stadig uklart")
    services.revise(idea, world.proposer, world.clock(), title="Tredje udgave")  # round 3, read from the database
    assert stored(engine)[1:] == [
        (idea, 2, "Uddybet idé", "Nyt budget\nher", 80_000, ["Skoler", "Ældre"], world.proposer, 2),
        (idea, 2, "Uddybet idé", "Nyt budget\nher", None, ["Skoler", "Ældre"], world.proposer, 3),
    ]

    view = shown(idea)
    assert view["title"] == "Tredje udgave"
    earlier = view["earlier_versions"]
    assert [(v["round"], v["title"], v["description"], v["requested_dkk"], v["departments"], v["replaced_by"],
             v["replaced_in_round"]) for v in earlier] == [
        (1, "Idé nummer 1", "En god idé.", 100_000, [], world.proposer, 2),
        (2, "Uddybet idé", "Nyt budget\nher", 80_000, ["Skoler", "Ældre"], world.proposer, 2),
        (2, "Uddybet idé", "Nyt budget\nher", None, ["Skoler", "Ældre"], world.proposer, 3),
    ]
    revisions = [h["at"] for h in view["history"] if h["action"] == "revise"]
    assert [v["replaced_at"] for v in earlier] == revisions  # written with the revision's own history line


def test_an_idea_never_revised_has_no_earlier_versions(world, shown):
    assert shown(world.idea())["earlier_versions"] == []


def test_a_refused_revision_keeps_no_version(engine, services, world, revised):
    with pytest.raises(BadInput):
        services.revise(revised, world.proposer, world.clock(), title="Gyldig", description="")
    assert len(stored(engine)) == 1


def test_show_prints_the_earlier_versions(cli, world, revised, expect):
    output = expect.ok(cli("show", revised))
    assert "earlier version (round 1)" in output and "Idé nummer 1" in output and "En god idé." in output


@pytest.mark.parametrize("statement", [
    "UPDATE idea_versions SET title = 'omskrevet'",
    "UPDATE idea_versions SET description = 'omskrevet' WHERE id = (SELECT MIN(id) FROM idea_versions)",
    "DELETE FROM idea_versions",
    "DELETE FROM idea_versions WHERE id = (SELECT MAX(id) FROM idea_versions)",
    "TRUNCATE idea_versions",
])
def test_the_database_itself_refuses_to_change_or_delete_an_earlier_version(engine, revised, statement):
    if statement.startswith("TRUNCATE") and engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no TRUNCATE (its DELETE FROM idea_versions is refused above)")
    before = stored(engine)
    assert len(before) == 1
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    assert stored(engine) == before


def test_forgetting_the_proposer_keeps_their_earlier_text_as_it_keeps_the_idea(
        engine, services, world, shown, snapshot, revised):
    """`person forget` pseudonymises the person, not the idea: its title and description stay as written
    (README: it cannot reach text typed into a title), and so do the earlier versions; who replaced them
    is the pseudonym, by the people row's id."""
    before = stored(engine)
    pseudonym = services.forget_person(world.proposer, world.clock())
    assert stored(engine) == [row[:6] + (pseudonym,) + row[7:] for row in before]
    view = shown(revised)
    assert (view["title"], view["earlier_versions"][0]["title"], view["earlier_versions"][0]["replaced_by"]) == (
        "Uddybet idé", "Idé nummer 1", pseudonym)
    haystack = repr(snapshot())
    assert world.proposer not in haystack and "Birgit" not in haystack and "Borger" not in haystack


def test_the_migration_adds_the_table_and_its_triggers_and_takes_them_away(engine, services, world, revised):
    migrate(engine, BEFORE, down=True)  # a version stored: the downgrade drops it with its table
    with engine.connect() as connection:
        assert "idea_versions" not in inspect(connection).get_table_names()
    upgrade(engine)
    assert stored(engine) == []
    services.review(revised, world.reviewer, ALL_SCORES, world.clock())
    services.decide(revised, Decision.RECYCLE, world.coordinator, world.clock(), reason="Igen")
    services.revise(revised, world.proposer, world.clock() + timedelta(seconds=1), title="Efter opgraderingen")
    # revised before the upgrade (in round 2), so nothing says this round has a text of its own yet: the
    # replaced text is the one round 2 judged
    assert [row[1:3] + row[-1:] for row in stored(engine)] == [(2, "Uddybet idé", 3)]
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM idea_versions"))

