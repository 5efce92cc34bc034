"""The record itself: the history cannot be rewritten, refusals are audited, a person can be forgotten."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ideaflow.digests import Cadence
from states.vocabulary import Role, Stage
from storage.tables import RefusalRow

from mailtest import ALL_SCORES

SCORES = [arg for name, score in ALL_SCORES.items() for arg in ("--score", f"{name}={score}")]


# -- the history is append-only, enforced by the database ---------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE history SET reason = 'rewritten'",
    "UPDATE history SET to_stage = 'evaluated' WHERE id = (SELECT MIN(id) FROM history)",
    "DELETE FROM history",
    "DELETE FROM history WHERE id = (SELECT MAX(id) FROM history)",
    "TRUNCATE history",
])
def test_the_database_itself_refuses_to_change_or_delete_history(engine, world, snapshot, statement):
    if statement.startswith("TRUNCATE") and engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no TRUNCATE (its DELETE FROM history is refused above)")
    world.idea(Stage.FUNDED)
    before = snapshot()["history"]
    assert len(before) == 4  # submitted, reviewed, screened, funded
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    assert snapshot()["history"] == before
    with engine.begin() as connection:  # appending is what the history is for
        connection.execute(text("INSERT INTO history (idea_id, action, from_stage, to_stage, at, reason) "
                                "SELECT idea_id, 'note', to_stage, to_stage, at, 'appended' FROM history "
                                "WHERE id = (SELECT MAX(id) FROM history)"))
    assert snapshot()["history"][:4] == before


# -- who may do what: every other role is refused, and the attempt is recorded -----------------------------


def command_for(world, action: str) -> tuple[int, list[str], set[str]]:
    """An idea where `action` is possible, the command line (without --by) and who may run it."""
    if action == "review":
        idea = world.idea()
        return idea, ["review", idea, *SCORES], {world.reviewer}
    if action == "decide":
        idea = world.idea()
        return idea, ["decide", idea, "kill", "--reason", "Uden for formålet"], {world.coordinator}
    if action == "assign":
        idea = world.idea()
        return idea, ["assign", idea], {world.coordinator}
    if action == "pilot":
        idea = world.idea(Stage.FUNDED)
        start = date.today() + timedelta(days=10)
        return idea, ["pilot", idea, "--start", start, "--end", start + timedelta(days=30), "--site", "Viby"], \
            {world.coordinator}
    if action == "evaluate":
        idea = world.idea(Stage.PILOTING, evaluation_open=True)
        return idea, ["evaluate", idea, *SCORES, "--outcome", "scale"], {world.coordinator}
    if action == "withdraw":
        idea = world.idea()
        return idea, ["withdraw", idea], {world.proposer}
    if action == "resume":
        idea = world.idea(Stage.ON_HOLD)
        return idea, ["resume", idea], {world.coordinator}
    raise AssertionError(action)


@pytest.mark.parametrize("action", ["review", "decide", "assign", "pilot", "evaluate", "withdraw", "resume"])
def test_every_role_that_may_not_is_refused_and_the_attempt_is_recorded(
        engine, world, ideaflow_here, unchanged, action):
    other_proposer = "nabo@example.dk"
    world.services.add_person(other_proposer, "Niels Nabo", Role.PROPOSER, world.clock())
    idea, argv, allowed = command_for(world, action)
    everyone = {world.coordinator, world.reviewer, world.proposer, world.follower, other_proposer}
    refused = sorted(everyone - allowed)
    assert refused
    started = datetime.now(UTC)
    for person in refused:
        with unchanged(idea, audited=True):
            code, stdout, stderr = ideaflow_here(*argv, "--by", person)
            assert code == 1, (person, stdout, stderr)
            assert stderr.count("\n") == 1 and "may not" in stderr and person in stderr, stderr
    with engine.connect() as connection:
        recorded = connection.execute(select(RefusalRow).order_by(RefusalRow.id)).all()
        emails = dict(connection.execute(text("SELECT id, email FROM people")).all())
    assert [(emails[r.person_id], r.command, r.idea_id) for r in recorded] == [(p, action, idea) for p in refused]
    assert all(started <= r.at <= datetime.now(UTC) and "may not" in r.reason for r in recorded)  # and when
    # and the one who may, can
    code, stdout, stderr = ideaflow_here(*argv, "--by", sorted(allowed)[0])
    assert code == 0, stderr


# -- forgetting a person -------------------------------------------------------------------------------


def assert_no_trace(tables: dict[str, list[tuple]], *people: str) -> None:
    """No column of any row of any table holds any of these addresses or names, or a part of a name."""
    for escaped in (False, True):  # raw JSON on SQLite may hold "\u00c5se": look for both spellings
        haystack = json.dumps(tables, default=str, ensure_ascii=escaped)
        for needle in {part for person in people for part in (person, *person.split())}:
            for spelling in {needle, json.dumps(needle, ensure_ascii=escaped)[1:-1]}:
                assert spelling not in haystack, f"{spelling!r} is still stored after forget"


def test_forgetting_a_person_leaves_no_trace_of_their_name_or_address_anywhere(
        engine, world, services, cli, snapshot, expect):
    email, name = "aase.aerlig@example.dk", "Åse Ærlig-Østergård"
    services.add_person(email, name, Role.PROPOSER, world.clock())
    world.proposer = email
    kept = world.idea(Stage.FUNDED)  # reviewed, decided, funded: history, decisions, allocation, mail
    held = world.idea(Stage.ON_HOLD)
    waiting = world.idea()
    services.queue_digests(world.clock() + timedelta(days=8), Cadence())  # digests quote their name
    expect.failed(cli("decide", waiting, "kill", "--by", email), 1, "may not")  # a recorded refusal
    expect.ok(cli("outbox", "--flush"))  # some of their mail is sent, the rest of it is still queued later
    services.withdraw(waiting, email, world.clock(), "trukket tilbage")
    history_before = {t: len(rows) for t, rows in snapshot().items() if t in ("history", "decisions", "allocations")}
    haystack_before = json.dumps(snapshot(), default=str, ensure_ascii=False)
    assert email in haystack_before and name in haystack_before  # the test would see a trace

    output = expect.ok(cli("person", "forget", email))
    pseudonym = output.split()[-1]

    after = snapshot()
    assert_no_trace(after, email, name)
    # The record is intact, and says (without the name) that each of their three ideas' proposer was erased.
    assert {t: len(after[t]) for t in history_before} == {**history_before, "history": history_before["history"] + 3}
    for idea in (kept, held, waiting):
        shown = json.loads(expect.ok(cli("show", idea, "--json")))
        assert shown["proposer"] == pseudonym and shown["history"]
    expect.failed(cli("person", "forget", email), 2, "unknown person")


def test_forgetting_staff_who_reviewed_decided_asked_and_followed_leaves_no_trace(
        engine, world, services, cli, snapshot, expect):
    """A coordinator, a reviewer and a follower who acted on ideas (and were refused) are forgotten."""
    staff = {"aage.oeberg@kommune.dk": ("Åge Øberg-Ærø", Role.COORDINATOR),
             "unal.gunes@kommune.dk": ("Ünal Güneş", Role.REVIEWER),
             "zoe.nunez@kommune.dk": ("Zoë Núñez", Role.FOLLOWER)}
    for email, (name, role) in staff.items():
        services.add_person(email, name, role, world.clock())
    coordinator, reviewer, follower = staff
    world.coordinator, world.reviewer, world.follower = coordinator, reviewer, follower
    piloting = world.idea(Stage.PILOTING)  # reviewed, decided twice, planned and followed: mail to all three
    asked = world.idea()
    expect.ok(cli("assign", asked, "--by", coordinator, "--reviewer", reviewer))  # "asked by" their name
    expect.failed(cli("decide", asked, "kill", "--by", reviewer), 1, "may not")  # recorded refusals
    expect.failed(cli("review", asked, *SCORES, "--by", follower), 1, "may not")
    services.queue_digests(world.clock() + timedelta(days=8), Cadence())
    before = snapshot()
    kept = {t: len(before[t]) for t in ("history", "decisions", "reviews", "pilot_followers", "refusals")}
    haystack = json.dumps(before, default=str, ensure_ascii=False)
    assert all(email in haystack and name in haystack for email, (name, _) in staff.items())

    pseudonyms = {email: expect.ok(cli("person", "forget", email)).split()[-1] for email in staff}

    after = snapshot()
    assert_no_trace(after, *staff, *(name for name, _ in staff.values()))
    assert {t: len(after[t]) for t in kept} == kept  # the record is intact, now pointing at pseudonyms
    with engine.connect() as connection:
        waiting = connection.execute(text(
            "SELECT COUNT(*) FROM outbox JOIN people ON people.id = outbox.recipient_id "
            "WHERE outbox.status = 'pending' AND people.email LIKE 'glemt-%'")).scalar_one()
    assert waiting == 0  # mail still waiting for a forgotten person is not sent
    shown = json.loads(expect.ok(cli("show", piloting, "--json")))
    assert shown["pilot"]["followers"] == [pseudonyms[follower]]
    assert pseudonyms[coordinator] in {row["by"] for row in shown["history"]}
