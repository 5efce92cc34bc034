"""Reviews that can be finished and revised, blind until submitted: the service layer, the read model
and `show --json --as`, on a real database (SQLite and PostgreSQL).

A draft counts for nothing (no guard, no reminder's "has reviewed", no figures, no history row); a
submission scores every criterion and answers every must-meet one; a second review before the gate
is decided revises the first, and the record keeps both. A reviewer reads the other reviewers'
scores only once their own review of that gate and round is submitted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from ideaflow.digests import Cadence
from ideaflow.views import idea_view
from states.criteria import Criterion
from states.errors import BadInput, InvalidTransition, NotAllowed, NotFound
from states.vocabulary import Decision, Role
from storage.tables import OutboxRow, PersonRow

from mailtest import ALL_SCORES

pytestmark = pytest.mark.slow

SECOND = "anne.anden@kommune.dk"
THIRD = "tore.tredje@kommune.dk"


@pytest.fixture
def panel(world):
    """The world's reviewer and two more: three reviewers of the pool."""
    for email, name in [(SECOND, "Anne Anden"), (THIRD, "Tore Tredje")]:
        world.services.add_person(email, name, Role.REVIEWER, world.clock())
    return world


def seen_by(engine, idea: int, viewer: str | None) -> dict:
    return idea_view(engine, idea, viewer).model_dump(mode="json", by_alias=True)


def versions(view: dict) -> list[tuple]:
    return [(r["reviewer"], r["version"], r["submitted"], r["counts"]) for r in view["reviews"]]


def outbox(engine, kind: str, idea: int | None = None) -> list[tuple[str, dict]]:
    query = (select(PersonRow.email, OutboxRow.payload).join(OutboxRow, OutboxRow.recipient_id == PersonRow.id)
             .where(OutboxRow.kind == kind).order_by(OutboxRow.id))
    if idea is not None:
        query = query.where(OutboxRow.idea_id == idea)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def test_a_draft_counts_for_nothing(engine, services, panel, shown, unchanged):
    w = panel
    idea = w.idea()
    draft = services.review(idea, w.reviewer, ALL_SCORES, w.clock(), comment="næsten", draft=True)
    assert (draft.version, draft.submitted) == (1, False)
    view = shown(idea)
    assert versions(view) == [(w.reviewer, 1, False, False)]
    assert view["criteria_summary"] == []  # no figures from a draft
    assert [h["action"] for h in view["history"]] == ["submit"]  # and no history row
    with unchanged(idea):  # the screening guard does not weigh it, complete as it is
        with pytest.raises(InvalidTransition, match="at least one review submitted"):
            services.decide(idea, Decision.GO, w.coordinator, w.clock())

    # the reminder goes to everyone who has not submitted: the draft's author too, not the one who submitted
    services.review(idea, SECOND, ALL_SCORES, w.clock())
    services.sweep(datetime.fromisoformat(view["deadline"]) - timedelta(days=3))
    assert sorted(email for email, _ in outbox(engine, "deadline_reminder", idea)) == sorted([w.reviewer, THIRD])

    # the weekly digest still counts it as waiting for the draft's author
    services.review(idea, SECOND, ALL_SCORES, w.clock(), comment="revideret")  # two submitted versions: one idea
    services.queue_digests(w.clock() + timedelta(days=8), Cadence())
    pending = {email: payload["pending_count"] for email, payload in outbox(engine, "digest")
               if payload["role"] == "reviewer"}
    assert pending == {w.reviewer: 1, THIRD: 1}  # SECOND has nothing waiting: no digest about it

    services.review(idea, w.reviewer, ALL_SCORES, w.clock())  # submitted now: it counts
    assert services.decide(idea, Decision.GO, w.coordinator, w.clock()).stage == "screened"


def test_an_incomplete_submission_is_refused_with_the_missing_criteria_named(services, world, unchanged):
    criteria = (Criterion("nytte", 2.0), Criterion("pris", 1.0), Criterion("lovlig", 1.0, must_meet=True))
    services.create_pool("Med krav", 1_000_000, world.now.year, world.now, criteria)
    idea = world.submit(pool="Med krav")
    with unchanged(idea):
        with pytest.raises(BadInput, match="missing scores for pris, lovlig and must-meet answers for lovlig"):
            services.review(idea, world.reviewer, {"nytte": 4}, world.clock())
        with pytest.raises(BadInput, match="missing must-meet answers for lovlig"):
            services.review(idea, world.reviewer, {"nytte": 4, "pris": 3, "lovlig": 5}, world.clock())
    # the same review saved as a draft, finished later
    services.review(idea, world.reviewer, {"nytte": 4}, world.clock(), draft=True)
    done = services.review(idea, world.reviewer, {"nytte": 4, "pris": 3, "lovlig": 5}, world.clock(),
                           must_meet={"lovlig": True})
    assert (done.version, done.submitted, done.weighted_score) == (2, True, 4.0)


def test_a_revision_before_the_decision_replaces_the_first_and_both_are_kept(services, world, shown):
    criteria = (Criterion("nytte", 2.0), Criterion("lovlig", 1.0, must_meet=True))
    services.create_pool("Med krav", 1_000_000, world.now.year, world.now, criteria)
    idea = world.submit(pool="Med krav")
    services.review(idea, world.reviewer, {"nytte": 2, "lovlig": 1}, world.clock(), {"lovlig": False}, "ulovligt")
    with pytest.raises(InvalidTransition, match="answered no: lovlig"):
        services.decide(idea, Decision.GO, world.coordinator, world.clock())
    services.review(idea, world.reviewer, {"nytte": 5, "lovlig": 5}, world.clock(), {"lovlig": True},
                    "afklaret med jura")
    view = shown(idea)
    assert [(r["version"], r["counts"], r["scores"], r["must_meet"], r["comment"]) for r in view["reviews"]] == [
        (1, False, {"nytte": 2, "lovlig": 1}, {"lovlig": False}, "ulovligt"),
        (2, True, {"nytte": 5, "lovlig": 5}, {"lovlig": True}, "afklaret med jura"),
    ]
    assert [(h["action"], h["from"], h["to"], h["by"], h["reason"]) for h in view["history"][1:]] == [
        ("submit_review", "submitted", "submitted", world.reviewer, "review submitted at the screening gate, round 1"),
        ("revise_review", "submitted", "submitted", world.reviewer,
         "review revised at the screening gate, round 1 (version 2)"),
    ]  # who, not the scores
    services.decide(idea, Decision.GO, world.coordinator, world.clock())  # the revision counts, not the "no"
    # decided: the next review of this reviewer is the funding gate's first
    funding = services.review(idea, world.reviewer, {"nytte": 3, "lovlig": 3}, world.clock(), {"lovlig": True})
    assert (funding.gate, funding.round, funding.version) == ("funding", 1, 1)
    assert [(r["gate"], r["version"], r["counts"]) for r in shown(idea)["reviews"]] == [
        ("screening", 1, False), ("screening", 2, True), ("funding", 1, True)]


def test_the_mean_and_spread_per_criterion(services, panel, shown):
    w = panel
    idea = w.idea()
    services.review(idea, w.reviewer, {**ALL_SCORES, "effektivitet": 1}, w.clock())
    services.review(idea, w.reviewer, {**ALL_SCORES, "effektivitet": 2}, w.clock())  # revised: the 1 is gone
    services.review(idea, SECOND, {**ALL_SCORES, "effektivitet": 4}, w.clock())
    services.review(idea, THIRD, {**ALL_SCORES, "effektivitet": 5}, w.clock())
    services.review(idea, THIRD, {"effektivitet": 1}, w.clock(), draft=True)  # a draft is not counted
    summary = {c["criterion"]: c for c in shown(idea)["criteria_summary"]}
    assert list(summary) == list(ALL_SCORES)
    assert summary["effektivitet"] == {"gate": "screening", "round": 1, "criterion": "effektivitet", "weight": 2.0,
                                       "count": 3, "mean": 3.67, "min": 2, "max": 5, "stdev": 1.25}
    assert summary["omtale"] | {} == {"gate": "screening", "round": 1, "criterion": "omtale", "weight": 1.0,
                                      "count": 3, "mean": 4.0, "min": 4, "max": 4, "stdev": 0.0}


def test_a_reviewer_cannot_read_the_others_scores_before_submitting(engine, services, panel):
    """The read model applies the blind rule for the viewer it is given; the operator (no viewer) sees all."""
    w = panel
    idea = w.idea()
    services.review(idea, w.reviewer, {**ALL_SCORES, "kvalitet": 1}, w.clock(), comment="svag kvalitet")
    services.review(idea, SECOND, {"kvalitet": 5}, w.clock(), comment="min kladde", draft=True)

    blind = seen_by(engine, idea, SECOND)
    assert versions(blind) == [(SECOND, 1, False, False)]  # only their own draft
    assert blind["criteria_summary"] == []  # the figures would give the others' scores away
    assert "svag kvalitet" not in json.dumps(blind)
    assert versions(seen_by(engine, idea, THIRD)) == []  # nothing submitted, nothing read
    for outside in (w.proposer, w.follower):  # their own pages show no reviews; the whole idea is refused
        with pytest.raises(NotAllowed):
            seen_by(engine, idea, outside)
    coordinator = seen_by(engine, idea, w.coordinator)
    assert versions(coordinator) == [(w.reviewer, 1, True, True)]  # every submitted review, no draft
    assert [c["mean"] for c in coordinator["criteria_summary"]][:2] == [4.0, 1.0]
    assert versions(seen_by(engine, idea, w.reviewer)) == [(w.reviewer, 1, True, True)]  # not SECOND's draft
    assert versions(seen_by(engine, idea, None)) == [(w.reviewer, 1, True, True), (SECOND, 1, False, False)]

    services.review(idea, SECOND, {**ALL_SCORES, "kvalitet": 5}, w.clock(), comment="færdig")
    after = seen_by(engine, idea, SECOND)
    assert versions(after) == [(w.reviewer, 1, True, True), (SECOND, 1, False, False), (SECOND, 2, True, True)]
    assert [c["mean"] for c in after["criteria_summary"]][:2] == [4.0, 3.0]
    assert versions(seen_by(engine, idea, w.reviewer)) == [(w.reviewer, 1, True, True), (SECOND, 2, True, True)]
    with pytest.raises(NotFound, match="unknown person"):
        seen_by(engine, idea, "ukendt@kommune.dk")


def test_show_json_as_a_person_prints_what_they_may_see(cli, expect, services, panel):
    w = panel
    idea = w.idea()
    services.review(idea, w.reviewer, {**ALL_SCORES, "kvalitet": 1}, w.clock(), comment="svag kvalitet")
    services.review(idea, SECOND, {"kvalitet": 5}, w.clock(), draft=True)

    blind = json.loads(expect.ok(cli("show", idea, "--json", "--as", SECOND)))
    assert versions(blind) == [(SECOND, 1, False, False)] and blind["criteria_summary"] == []
    assert {"id", "title", "stage", "pool", "proposer", "deadline", "history"} <= blind.keys()
    assert "svag kvalitet" not in expect.ok(cli("show", idea, "--as", SECOND))  # the text view alike
    coordinator = json.loads(expect.ok(cli("show", idea, "--json", "--as", w.coordinator)))
    assert versions(coordinator) == [(w.reviewer, 1, True, True)]
    operator = json.loads(expect.ok(cli("show", idea, "--json")))
    assert versions(operator) == [(w.reviewer, 1, True, True), (SECOND, 1, False, False)]

    expect.ok(cli("review", idea, "--by", SECOND, *[f"--score={k}={v}" for k, v in ALL_SCORES.items()]))
    seen = json.loads(expect.ok(cli("show", idea, "--json", "--as", SECOND)))
    assert versions(seen) == [(w.reviewer, 1, True, True), (SECOND, 1, False, False), (SECOND, 2, True, True)]
    assert seen["reviews"][0]["comment"] == "svag kvalitet"

    expect.failed(cli("show", idea, "--json", "--as", "ukendt@kommune.dk"), 2, "unknown person")
