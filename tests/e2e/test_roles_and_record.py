"""Roles per pool, conflicts of interest, `show --as` and the complete record, through the `ideaflow` command."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from states.vocabulary import OPERATOR_EMAIL, Decision, Role

pytestmark = pytest.mark.slow

SCORES = [arg for name in ("effektivitet", "kvalitet", "resultat", "arbejdsmiljø", "begejstring", "omtale")
          for arg in ("--score", f"{name}=4")]
BOTH = "lille@kommune.dk"  # coordinates pool A, reviews pool B


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def test_one_person_coordinates_one_pool_and_reviews_another(cli, expect, engine, unchanged, world):
    world.services.create_pool("Pulje B", 1_000_000, world.now.year, world.now)
    world.services.add_person(BOTH, "Lis Lille", None, world.now)
    expect.ok(cli("person", "grant", BOTH, "--role", "coordinator", "--pool", world.pool))
    expect.ok(cli("person", "grant", BOTH, "--role", "reviewer", "--pool", "Pulje B"))
    in_a, in_b = world.submit(), world.submit(pool="Pulje B")
    with unchanged(in_a, audited=True):
        expect.failed(cli("review", in_a, "--by", BOTH, *SCORES), 1, "may not review", "only a reviewer of pool")
    expect.ok(cli("review", in_b, "--by", BOTH, *SCORES))
    with unchanged(in_b, audited=True):
        expect.failed(cli("decide", in_b, "hold", "--by", BOTH), 1, "only a coordinator of pool 'Pulje B'")
    expect.ok(cli("decide", in_a, "hold", "--by", BOTH))
    as_both = json.loads(expect.ok(cli("show", in_b, "--json", "--as", BOTH)))
    assert as_both["actions"] == ["review", "declare_conflict"]
    # Grants and revocations are audited with who made them.
    expect.ok(cli("person", "revoke", BOTH, "--role", "reviewer", "--pool", "Pulje B"))
    with unchanged():
        expect.failed(cli("person", "revoke", BOTH, "--role", "reviewer", "--pool", "Pulje B"), 1, "holds no reviewer")
    audit = rows(engine, "SELECT a.action, a.role, b.email FROM audit a JOIN people b ON b.id = a.by_id "
                         "JOIN people p ON p.id = a.person_id WHERE p.email = 'lille@kommune.dk' ORDER BY a.id")
    assert audit == [("add", None, OPERATOR_EMAIL), ("grant", "coordinator", OPERATOR_EMAIL),
                     ("grant", "reviewer", OPERATOR_EMAIL), ("revoke", "reviewer", OPERATOR_EMAIL)]


def test_granting_needs_an_administrator_and_a_grantable_role(cli, expect, unchanged, world):
    world.services.add_person("it@kommune.dk", "Ida IT", Role.ADMINISTRATOR, world.now)
    with unchanged(audited=True):
        expect.failed(cli("person", "grant", world.reviewer, "--role", "coordinator", "--by", world.coordinator),
                      1, "only an administrator")
    with unchanged():
        # only the roles a grant gives are offered (--help lists them) and taken
        expect.failed(cli("person", "grant", world.reviewer, "--role", "follower"), 2,
                      "Invalid value for '--role': 'follower' is not one of 'administrator', 'coordinator', 'reviewer'")
        expect.failed(cli("person", "grant", world.reviewer, "--role", "reviewer", "--pool", "Ingen"), 2,
                      "unknown pool")
    expect.ok(cli("person", "grant", world.reviewer, "--role", "coordinator", "--by", "it@kommune.dk"))
    # `person add --role` keeps working: a grant on every pool; a second add points to grant.
    with unchanged():
        expect.failed(cli("person", "add", world.reviewer, "--name", "B", "--role", "coordinator"), 1,
                      "person grant")


def test_a_conflict_of_interest_and_the_proposer_are_refused_at_review_and_decision(cli, expect, unchanged, world):
    idea = world.submit()
    expect.ok(cli("conflict", idea, "--by", world.reviewer, "--reason", "Min nabo har indsendt idéen"))
    expect.ok(cli("conflict", idea, "--by", world.coordinator, "--reason", "Tidligere samarbejde"))
    with unchanged(idea, audited=True):
        expect.failed(cli("review", idea, "--by", world.reviewer, *SCORES), 1, "conflict of interest")
    with unchanged(idea, audited=True):
        expect.failed(cli("decide", idea, "kill", "--by", world.coordinator), 1, "conflict of interest")
    with unchanged(idea):
        expect.failed(cli("conflict", idea, "--by", world.reviewer, "--reason", "igen"), 1, "already declared")
        expect.failed(cli("conflict", idea, "--by", world.reviewer, "--reason", ""), 2, "must not be empty")
    # A coordinator and reviewer who proposes an idea of their own is barred from judging it.
    world.services.grant_role(world.proposer, Role.COORDINATOR, world.now)
    world.services.grant_role(world.proposer, Role.REVIEWER, world.now)
    own = world.submit()
    with unchanged(own, audited=True):
        expect.failed(cli("review", own, "--by", world.proposer, *SCORES), 1, "proposed")
    with unchanged(own, audited=True):
        expect.failed(cli("decide", own, "kill", "--by", world.proposer), 1, "proposed")
    shown = json.loads(expect.ok(cli("show", idea, "--json", "--as", world.reviewer)))
    assert shown["actions"] == [] and shown["conflicts"] == sorted([world.coordinator, world.reviewer])
    assert [(h["action"], h["by"]) for h in shown["history"]][-2:] == [("conflict", world.reviewer),
                                                                       ("conflict", world.coordinator)]


def test_every_change_that_matters_is_in_the_history(cli, expect, world):
    idea = world.idea("screened")
    expect.ok(cli("decide", idea, "go", "--by", world.coordinator, "--amount-dkk", "1250000"))
    start, end = date.today() + timedelta(days=10), date.today() + timedelta(days=70)
    expect.ok(cli("pilot", idea, "--start", start, "--end", end, "--site", "Viby", "--measure", "ventetid",
                  "--follower", world.follower))
    expect.ok(cli("pilot", idea, "--start", start + timedelta(days=7), "--end", end, "--site", "Viby",
                  "--site", "Gundsømagle", "--measure", "ventetid", "--no-followers", "--by", world.coordinator))
    asked = world.submit()
    expect.ok(cli("assign", asked, "--by", world.coordinator, "--reviewer", world.reviewer))
    expect.ok(cli("person", "forget", world.proposer))
    history = json.loads(expect.ok(cli("show", idea, "--json")))["history"]
    go, planned, replanned, forgotten = history[-4:]
    assert go["reason"] == "go at the funding gate, 1.250.000 kr. allocated" and go["by"] == world.coordinator
    assert planned["action"] == "plan_pilot" and planned["by"] == OPERATOR_EMAIL  # the record names the actor
    assert "sites: Viby" in planned["reason"] and "follow-up group of 1" in planned["reason"]
    assert replanned["action"] == "replan_pilot" and replanned["by"] == world.coordinator
    assert "sites +Gundsømagle" in replanned["reason"] and "follow-up group 0 added, 1 removed" in replanned["reason"]
    assert forgotten["action"] == "forget" and forgotten["by"] == OPERATOR_EMAIL
    assert "Birgit" not in json.dumps(history) and world.proposer not in json.dumps(history)
    assign = json.loads(expect.ok(cli("show", asked, "--json")))["history"][-2]
    assert (assign["action"], assign["by"], assign["subject"]) == ("assign", world.coordinator, world.reviewer)
    assert all(h["by"] for h in history if h["action"] != "start_pilot")  # every command has an actor
    assert Decision.GO.value == go["action"]


def test_show_as_a_follower_or_the_proposer_is_refused_with_where_they_see_the_idea(cli, expect, world):
    """`show --as` prints the idea whole (reviews, every history reason, the proposer's address): a
    follower or the proposer is told where they see it instead, with exit 1, and an outsider is refused."""
    idea = world.idea("piloting")  # the world's pilot has world.follower in its follow-up group
    expect.failed(cli("show", idea, "--as", world.follower), 1,
                  f"follows the pilot of idea {idea}: they see its pilot's page (/pilots/{idea})")
    expect.failed(cli("show", idea, "--json", "--as", world.proposer), 1,
                  f"proposed idea {idea}: they see it among their own ideas (/my-ideas)")
    world.services.add_person("udenfor@kommune.dk", "Ude Forbi", Role.PROPOSER, world.now)
    expect.failed(cli("show", idea, "--as", "udenfor@kommune.dk"), 1, f"may not see idea {idea}")
    assert json.loads(expect.ok(cli("show", idea, "--json", "--as", world.coordinator)))["id"] == idea
