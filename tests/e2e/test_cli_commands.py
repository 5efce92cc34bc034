"""The command-line contract, command by command, against a real SQLite file.

Each command: its success path, at least one refusal (exit 1) and at least one bad input (exit 2).
Failures must print exactly one line on stderr and change nothing in the database (every row of
every table, and the idea as `show --json` prints it, compared before and after). The scene is set
through the service layer in-process; only the command under test runs as a process.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Decision, Role, Stage
from storage.migrate import head
from storage.tables import AllocationRow, HistoryRow, OutboxRow, PersonRow, PoolRow, TimerRow

pytestmark = pytest.mark.slow

ALL = [f"{name}=4" for name in ("effektivitet", "kvalitet", "resultat", "arbejdsmiljø", "begejstring", "omtale")]
SCORES = [arg for pair in ALL for arg in ("--score", pair)]
HISTORY_KEYS = {"from", "to", "at", "by", "reason"}
ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


def scalar(engine, statement):
    with engine.connect() as connection:
        return connection.execute(statement).scalar()


# -- no database yet, and init --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["list"],
    ["show", "1", "--json"],
    ["pool", "show", "Innovationspuljen"],
    ["person", "add", "a@kommune.dk", "--name", "A", "--role", "coordinator"],
    ["submit", "--title", "T", "--description", "D", "--proposer", "p@example.dk", "--pool", "P"],
    ["decide", "1", "go", "--by", "k@kommune.dk"],
    ["sweep"],
])
def test_a_database_never_initialised_is_refused_with_a_pointer_to_init(cli, expect, db_path, args):
    expect.failed(cli(*args), 1, "ideaflow init")
    if db_path.exists():  # SQLite may leave an empty file behind, but never a schema
        import sqlite3

        with sqlite3.connect(db_path) as connection:
            assert connection.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone() == (0,)


def test_init_creates_the_schema_and_is_safe_to_repeat(cli_process, expect, db_url, tmp_path):
    """Through the installed console script itself: its exit codes 0, 1 and 2 and its streams."""
    cli = cli_process
    first = expect.ok(cli("init"))
    assert head() in first
    second = expect.ok(cli("init"))
    assert head() in second
    assert json.loads(expect.ok(cli("list", "--json"))) == []

    # bad setting: the database's folder does not exist (SQLite would only say "unable to open database
    # file"); nothing is created
    missing = tmp_path / "no" / "such" / "folder" / "x.db"
    expect.failed(cli("init", database_url=f"sqlite:///{missing}"), 2,
                  f"bad setting: IDEAFLOW_DATABASE_URL names a SQLite file in the folder '{missing.parent}', "
                  "which does not exist")
    assert not missing.parent.exists()

    # bad input: an option init does not have
    expect.failed(cli("init", "--force"), 2, "--force")


# -- pools ------------------------------------------------------------------------------------------------


def test_pool_create_with_default_yaml_and_json_criteria(cli, expect, engine, tmp_path):
    expect.ok(cli("pool", "create", "Tårnby", "--budget-dkk", "5000000", "--year", "2020"))
    yaml_file = tmp_path / "roskilde.yaml"
    yaml_file.write_text(
        "criteria:\n"
        "  - name: borgernytte\n    weight: 3\n    must_meet: true\n    description: Gør det hverdagen lettere?\n"
        "  - name: økonomi\n    weight: 2\n",
        encoding="utf-8",
    )
    expect.ok(cli("pool", "create", "Roskilde", "--budget-dkk", "750000", "--criteria", yaml_file))
    json_file = tmp_path / "gentofte.json"
    json_file.write_text(json.dumps([{"name": "radikal", "weight": 1.5}, {"name": "gevinst"}]), encoding="utf-8")
    expect.ok(cli("pool", "create", "Gentofte", "--budget-dkk", "1", "--criteria", json_file))

    taarnby = json.loads(expect.ok(cli("pool", "show", "Tårnby", "--json")))
    assert (taarnby["name"], taarnby["year"], taarnby["budget_dkk"], taarnby["allocated_dkk"]) == \
        ("Tårnby", 2020, 5_000_000, 0)
    assert [c["name"] for c in taarnby["criteria"]][:3] == ["effektivitet", "kvalitet", "resultat"]
    roskilde = json.loads(expect.ok(cli("pool", "show", "Roskilde", "--json")))
    assert [(c["name"], c["weight"], c["must_meet"]) for c in roskilde["criteria"]] == \
        [("borgernytte", 3.0, True), ("økonomi", 2.0, False)]
    gentofte = json.loads(expect.ok(cli("pool", "show", "Gentofte", "--json")))
    assert [(c["name"], c["weight"]) for c in gentofte["criteria"]] == [("radikal", 1.5), ("gevinst", 1.0)]
    assert gentofte["budget_dkk"] == 1
    # An operator finds the pools' exact names (and their money) without the web console.
    listed = json.loads(expect.ok(cli("pool", "list", "--json")))
    assert [(p["name"], p["year"], p["budget_dkk"], p["remaining_dkk"]) for p in listed] == [
        ("Gentofte", gentofte["year"], 1, 1), ("Roskilde", roskilde["year"], 750_000, 750_000),
        ("Tårnby", 2020, 5_000_000, 5_000_000)]
    table = expect.ok(cli("pool", "list"))
    assert "Tårnby" in table and "5.000.000 kr." in table and "750.000 kr." in table


def test_pool_create_refused_and_bad_input_change_nothing(cli, expect, engine, unchanged, tmp_path, world):
    with unchanged():
        expect.failed(cli("pool", "create", world.pool, "--budget-dkk", "10"), 1, "already exists")

    broken = tmp_path / "broken.yaml"
    broken.write_text("criteria: [name: x\n", encoding="utf-8")
    unknown_key = tmp_path / "unknown.json"
    unknown_key.write_text(json.dumps([{"name": "x", "vægt": 2}]), encoding="utf-8")
    same_name = tmp_path / "same.json"
    same_name.write_text(json.dumps([{"name": "Effekt"}, {"name": "effekt"}]), encoding="utf-8")
    for args, needle in [
        (["--budget-dkk", "0"], "--budget-dkk must be at least DKK 1: a pool without a budget cannot fund any idea"),
        (["--budget-dkk", "-5"], "--budget-dkk must be at least DKK 1"),
        (["--budget-dkk", "5", "--criteria", same_name], "'Effekt' and 'effekt' are the same name"),
        (["--budget-dkk", "fem"], "--budget-dkk"),
        (["--budget-dkk", "5", "--criteria", tmp_path / "missing.yaml"], "missing.yaml"),
        (["--budget-dkk", "5", "--criteria", broken], "not valid YAML"),
        (["--budget-dkk", "5", "--criteria", unknown_key], "unknown keys"),
        (["--budget-dkk", "5", "--year", "1900"], "--year"),
    ]:
        with unchanged():
            expect.failed(cli("pool", "create", "Ny pulje", *args), 2, needle)


def test_pool_show_text_and_json(cli, expect, world, services):
    funded = world.idea(Stage.FUNDED, requested_dkk=250_000)
    assert funded
    shown = json.loads(expect.ok(cli("pool", "show", world.pool, "--json")))
    assert shown["allocated_dkk"] == 250_000
    assert shown["remaining_dkk"] == 5_000_000 - 250_000
    assert shown["ideas_by_stage"]["funded"] == 1
    plain = expect.ok(cli("pool", "show", world.pool))
    assert world.pool in plain and "effektivitet" in plain

    expect.failed(cli("pool", "show", "Ingen pulje", "--json"), 2, "unknown pool")


# -- people -----------------------------------------------------------------------------------------------


def test_person_add(cli, expect, engine, unchanged, world):
    assert "Ida" in expect.ok(cli("person", "add", "ida@kommune.dk", "--name", "Ida", "--role", "reviewer",
                                  "--lang", "en"))
    with engine.connect() as connection:
        row = connection.execute(text("SELECT p.name, g.role, g.pool_id, p.lang FROM people p "
                                      "JOIN role_grants g ON g.person_id = p.id WHERE email='ida@kommune.dk'")).one()
    assert tuple(row) == ("Ida", "reviewer", None, "en")  # a grant on every pool

    with unchanged():
        expect.failed(cli("person", "add", "ida@kommune.dk", "--name", "Ida 2", "--role", "proposer"), 1,
                      "already exists; give them another role under People and roles, or with 'ideaflow person grant'")
    with unchanged():  # the same address in other letters is the same person, named as registered
        expect.failed(cli("person", "add", "Ida@Kommune.DK", "--name", "Ida 3", "--role", "proposer"), 1,
                      "person 'ida@kommune.dk' already exists")
    with unchanged():
        expect.failed(cli("person", "add", "ikke-en-adresse", "--name", "X", "--role", "proposer"), 2,
                      "not an email address")
    with unchanged():
        expect.failed(cli("person", "add", "x@kommune.dk", "--name", "X", "--role", "borgmester"), 2, "--role")


# -- submit -----------------------------------------------------------------------------------------------


def test_submit_prints_the_id_and_show_json_has_the_contract_keys(cli, expect, engine, world):
    before = datetime.now(UTC)
    out = expect.ok(cli("submit", "--title", "Robotplæneklippere", "--description", "Klip græsset selv",
                        "--proposer", world.proposer, "--pool", world.pool))
    idea_id = int(out.strip())

    document = json.loads(expect.ok(cli("submit", "--title", "Droner", "--description", "Tagrender",
                                        "--proposer", "ny.borger@example.dk", "--pool", world.pool,
                                        "--requested-dkk", "120000", "--department", "Teknik",
                                        "--department", "Miljø", "--json")))
    assert document["id"] == idea_id + 1
    assert (document["title"], document["stage"]) == ("Droner", "submitted")

    shown = json.loads(expect.ok(cli("show", document["id"], "--json")))
    assert {"id", "title", "stage", "pool", "proposer", "deadline", "history"} <= shown.keys()
    assert (shown["id"], shown["title"], shown["stage"], shown["pool"], shown["proposer"]) == \
        (idea_id + 1, "Droner", "submitted", world.pool, "ny.borger@example.dk")
    assert shown["requested_dkk"] == 120_000 and shown["departments"] == ["Teknik", "Miljø"]
    deadline = datetime.fromisoformat(shown["deadline"])
    assert before + timedelta(days=29) < deadline < datetime.now(UTC) + timedelta(days=31)
    assert len(shown["history"]) == 1
    assert HISTORY_KEYS <= shown["history"][0].keys()
    assert (shown["history"][0]["from"], shown["history"][0]["to"], shown["history"][0]["by"]) == \
        (None, "submitted", "ny.borger@example.dk")


def test_typed_text_that_looks_like_markup_prints_as_typed(cli, expect, world):
    """Rich read "[/b]" in a citizen's title as a closing tag and `list` and `show` stopped with a
    traceback; "[bold]" styled the text. Now what was typed is printed, and nothing else."""
    title, description = "Idé [/b] om [bold]fed[/bold] tekst", "Linje med [/] og [red]farve[/red]"
    idea = expect.ok(cli("submit", "--title", title, "--description", description, "--proposer", world.proposer,
                         "--pool", world.pool)).strip()
    assert title in expect.ok(cli("list"))
    shown = expect.ok(cli("show", idea))
    assert f"#{idea} {title}" in shown and description in shown


def test_submit_bad_input_changes_nothing(cli, expect, unchanged, world):
    common = ["--description", "D", "--proposer", world.proposer]
    for args, needle in [
        (["--title", " ", *common, "--pool", world.pool], "--title"),
        (["--title", "T", *common, "--pool", "Ingen pulje"], "unknown pool"),
        (["--title", "T", *common, "--pool", world.pool, "--requested-dkk", "0"], "--requested-dkk"),
        (["--title", "T", *common, "--pool", world.pool, "--requested-dkk", "1,5"], "--requested-dkk '1,5'"),
        (["--title", "T", "--description", "D", "--proposer", "ikke en adresse", "--pool", world.pool], "email"),
    ]:
        with unchanged():
            expect.failed(cli("submit", *args), 2, needle)


# -- review -----------------------------------------------------------------------------------------------


def test_review(cli, expect, shown, unchanged, world, tmp_path):
    idea = world.idea()
    out = expect.ok(cli("review", idea, "--by", world.reviewer, *SCORES, "--comment", "god"))
    assert "review submitted for idea" in out and "weighted score 4,00" in out
    reviews = shown(idea)["reviews"]
    assert [(r["reviewer"], r["gate"], r["round"], r["version"], r["submitted"], r["counts"]) for r in reviews] == \
        [(world.reviewer, "screening", 1, 1, True, True)]

    # a draft (unfinished, counts for nothing), then a second submission revises the review
    out = expect.ok(cli("review", idea, "--by", world.reviewer, "--score", "kvalitet=2", "--draft"))
    assert "draft review saved" in out and "version 2" in out
    assert "version 3" in expect.ok(cli("review", idea, "--by", world.reviewer, *SCORES[:-2], "--score", "omtale=1",
                                         "--comment", "ændret"))
    assert [(r["version"], r["submitted"], r["counts"], r["comment"]) for r in shown(idea)["reviews"]] == [
        (1, True, False, "god"), (2, False, False, ""), (3, True, True, "ændret")]
    plain = expect.ok(cli("show", idea))
    assert "3 (submitted, counts)" in plain and "2 (draft)" in plain and "std. dev." in plain

    # a must-meet criterion answered on a pool that has one
    criteria = tmp_path / "must.json"
    criteria.write_text(json.dumps([{"name": "lovlig", "must_meet": True}, {"name": "nytte"}]), encoding="utf-8")
    expect.ok(cli("pool", "create", "Med krav", "--budget-dkk", "1000", "--criteria", criteria))
    other = world.submit(pool="Med krav")
    with unchanged(other):
        expect.failed(cli("review", other, "--by", world.reviewer, "--score", "nytte=5", "--score", "lovlig=4"), 2,
                      "missing must-meet answers for lovlig")
    expect.ok(cli("review", other, "--by", world.reviewer, "--score", "nytte=5", "--score", "lovlig=4",
                  "--must", "lovlig=yes"))
    assert shown(other)["reviews"][0]["must_meet"] == {"lovlig": True}

    funded = world.idea(Stage.FUNDED)
    # refused: a coordinator reviewing (audited); no screening/funding gate open
    with unchanged(idea, audited=True):
        expect.failed(cli("review", idea, "--by", world.coordinator, *SCORES), 1, "may not review")
    with unchanged(funded):
        expect.failed(cli("review", funded, "--by", world.reviewer, *SCORES), 1, "funded")
    # bad input, drafts included
    fresh = world.idea()
    for args, needle in [
        (["--score", "effektivitet=3"], "missing scores for kvalitet, resultat, arbejdsmiljø, begejstring, omtale"),
        ([], "missing scores for effektivitet, kvalitet"),
        (["--draft"], "a draft review needs"),
        (["--score", "effektivitet=9", "--draft"], "from 1 to 5"),
        (["--score", "skønhed=3", "--draft"], "unknown criterion"),
        (["--score", "skøn=hed=3", "--draft"], "unknown criterion"),  # a name may hold "=": split at the last
        (["--score", "effektivitet", "--draft"], "CRITERION=VALUE"),
        (["--score", "effektivitet=3", "--must", "kvalitet=yes", "--draft"], "must-meet"),
    ]:
        with unchanged(fresh):
            expect.failed(cli("review", fresh, "--by", world.reviewer, *args), 2, needle)
    with unchanged(fresh):
        expect.failed(cli("review", 9999, "--by", world.reviewer, *SCORES), 2, "unknown idea")


def test_review_and_evaluate_name_criteria_in_any_case(cli, expect, shown, unchanged, world, tmp_path):
    """A coordinator types "effekt=4" for the criterion "Effekt", as they type a pool's name in any case;
    the record keeps the criterion's own name."""
    criteria = tmp_path / "cased.json"
    criteria.write_text(json.dumps([{"name": "Effekt", "weight": 2}, {"name": "Lovlig", "must_meet": True},
                                    {"name": "Ældre"}]), encoding="utf-8")
    expect.ok(cli("pool", "create", "Store bogstaver", "--budget-dkk", "1000000", "--criteria", criteria))
    idea = world.submit(pool="Store bogstaver")
    out = expect.ok(cli("review", idea, "--by", world.reviewer, "--score", "effekt=4", "--score", "LOVLIG=5",
                        "--score", "ældre=1", "--must", "lovlig=ja"))
    assert "weighted score 3,50" in out
    (review,) = shown(idea)["reviews"]
    assert (review["scores"], review["must_meet"]) == ({"Effekt": 4, "Lovlig": 5, "Ældre": 1}, {"Lovlig": True})
    with unchanged(idea):  # one criterion named twice, in two cases
        expect.failed(cli("review", idea, "--by", world.reviewer, "--score", "Effekt=4", "--score", "effekt=3",
                          "--draft"), 2, "--score names 'effekt' twice")
    with unchanged(idea):
        expect.failed(cli("review", idea, "--by", world.reviewer, "--score", "effekter=4", "--draft"), 2,
                      "unknown criterion 'effekter'")

    ready = world.idea(Stage.PILOTING, evaluation_open=True)
    shouted = [arg if arg == "--score" else arg.upper() for arg in SCORES]  # EFFEKTIVITET=4, …
    expect.ok(cli("evaluate", ready, "--by", world.coordinator, *shouted, "--outcome", "scale"))
    assert shown(ready)["evaluation"]["scores"] == ALL_SCORES


# -- decide -----------------------------------------------------------------------------------------------


def test_decide_go_at_both_gates_with_an_amount(cli, expect, engine, shown, world):
    idea = world.idea(requested_dkk=300_000)
    world.services.review(idea, world.reviewer, {c: 4 for c in world_criteria()}, world.clock())
    assert "screened" in expect.ok(cli("decide", idea, "go", "--by", world.coordinator, "--reason", "lovende"))
    # written the Danish way: 275.000 is 275000 (Typer's own int read it as 275)
    out = expect.ok(cli("decide", idea, "go", "--by", world.coordinator, "--amount-dkk", "275.000"))
    assert "funded" in out
    view = shown(idea)
    assert view["stage"] == "funded" and view["allocated_dkk"] == 275_000
    assert [(h["from"], h["to"]) for h in view["history"]] == \
        [(None, "submitted"), ("submitted", "submitted"), ("submitted", "screened"), ("screened", "funded")]
    assert view["history"][2]["reason"] == "lovende" and view["history"][2]["by"] == world.coordinator
    assert scalar(engine, select(PoolRow.allocated_dkk)) == 275_000
    assert scalar(engine, select(func.sum(AllocationRow.amount_dkk))) == 275_000


def world_criteria():
    return [pair.split("=")[0] for pair in ALL]


@pytest.mark.parametrize("decision, start, stage", [
    ("kill", Stage.SCREENED, "rejected"),
    ("hold", Stage.FUNDED, "on_hold"),
    ("recycle", Stage.SUBMITTED, "submitted"),
])
def test_decide_kill_hold_recycle(cli, expect, shown, world, decision, start, stage):
    idea = world.idea(start)
    before = shown(idea)
    expect.ok(cli("decide", idea, decision, "--by", world.coordinator, "--reason", f"{decision} it"))
    after = shown(idea)
    assert after["stage"] == stage
    assert after["history"][:-1] == before["history"]  # appended, never rewritten
    assert (after["history"][-1]["from"], after["history"][-1]["to"], after["history"][-1]["reason"]) == \
        (start.value, stage, f"{decision} it")
    if decision == "hold":
        assert after["held_from"] == "funded"
    if decision == "recycle":  # the gate reopens with a new deadline and a new round of reviews
        assert after["deadline"] >= before["deadline"]
        assert after["open_gate"] == "screening"


def test_decide_refusals_change_nothing(cli, expect, unchanged, world):
    unreviewed = world.idea()
    screened = world.idea(Stage.SCREENED)
    rejected = world.idea(Stage.REJECTED)
    with unchanged(unreviewed):
        expect.failed(cli("decide", unreviewed, "go", "--by", world.coordinator), 1, "needs at least one review")
    with unchanged(screened):
        expect.failed(cli("decide", screened, "go", "--by", world.coordinator, "--amount-dkk", "6000000"), 1,
                      "refused: pool 'Innovationspuljen' cannot afford DKK 6,000,000: DKK 5,000,000 left")
    with unchanged(screened, audited=True):
        expect.failed(cli("decide", screened, "kill", "--by", world.reviewer), 1, "may not decide")
    with unchanged(rejected):
        expect.failed(cli("decide", rejected, "hold", "--by", world.coordinator), 1, "rejected")
    # a funding go that comes after the gate was decided is refused, not "bad input" (it was well-formed)
    funded = world.idea(Stage.FUNDED)
    with unchanged(funded):
        expect.failed(cli("decide", funded, "go", "--by", world.coordinator, "--amount-dkk", "1000"), 1,
                      "no gate is open")


def test_decide_at_a_named_gate_refuses_a_repeat_that_would_decide_the_next_gate(cli, expect, shown, unchanged,
                                                                                   world):
    idea = world.idea()
    world.services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    expect.ok(cli("decide", idea, "go", "--by", world.coordinator, "--gate", "screening"))
    with unchanged(idea):
        expect.failed(cli("decide", idea, "go", "--by", world.coordinator, "--gate", "screening"), 1,
                      "not at the screening gate: its funding gate is open")
    with unchanged(idea):
        expect.failed(cli("decide", idea, "go", "--by", world.coordinator, "--gate", "sideways"), 2, "--gate")
    assert shown(idea)["stage"] == "screened"


def test_review_gate_and_round_refuse_a_review_written_for_a_gate_since_decided(cli, expect, shown, unchanged,
                                                                               world):
    """`--gate` (as `decide --gate`) and `--round` name what the review was written for: a screening review
    is not counted at the funding gate, nor a round-1 review in the round a recycle began; without them the
    open gate is reviewed, as before."""
    idea = world.idea()
    expect.ok(cli("review", idea, "--by", world.reviewer, *SCORES, "--gate", "screening", "--round", "1"))
    world.services.decide(idea, Decision.RECYCLE, world.coordinator, world.clock(), reason="Uddyb budgettet")
    with unchanged(idea):
        expect.failed(cli("review", idea, "--by", world.reviewer, *SCORES, "--gate", "screening", "--round", "1"),
                      1, "sent back for revision", "round 2 now, not round 1")
    expect.ok(cli("review", idea, "--by", world.reviewer, *SCORES, "--gate", "screening", "--round", "2"))
    world.services.decide(idea, Decision.GO, world.coordinator, world.clock())
    with unchanged(idea):
        expect.failed(cli("review", idea, "--by", world.reviewer, *SCORES, "--comment", "til screeningen",
                          "--gate", "screening"), 1, "no longer at the screening gate", "not saved")
        expect.failed(cli("review", idea, "--by", world.reviewer, *SCORES, "--gate", "evaluation"), 1,
                      "not at the evaluation gate")
    expect.ok(cli("review", idea, "--by", world.reviewer, *SCORES))
    assert [(r["gate"], r["round"]) for r in shown(idea)["reviews"]][-1] == ("funding", 2)


def test_assign_asks_each_reviewer_once_and_reminders_go_to_the_asked(cli, expect, engine, shown, unchanged, world):
    second = "anden.bedoemmer@kommune.dk"
    world.services.add_person(second, "Anne Anden", Role.REVIEWER, world.clock())
    idea = world.idea()
    requests = lambda: outbox_rows(engine, "review_requested", idea)  # noqa: E731
    opened = requests()
    assert sorted(opened) == sorted([world.reviewer, second])  # the gate opened: every reviewer was asked
    assert f"asked {second}" in expect.ok(cli("assign", idea, "--by", world.coordinator, "--reviewer", second))
    with unchanged(idea):
        assert "already asked" in expect.ok(cli("assign", idea, "--by", world.coordinator, "--reviewer", second))
    assert requests() == opened  # named now, but the round asked them already: no second request
    assert shown(idea)["reviewers_asked"] == [second]
    with unchanged(idea, audited=True):
        expect.failed(cli("assign", idea, "--by", world.reviewer), 1, "may not ask reviewers")
    with unchanged(idea):
        expect.failed(cli("assign", idea, "--by", world.coordinator, "--reviewer", world.proposer), 2,
                      "not a reviewer of pool")
    with unchanged(idea):
        expect.failed(cli("assign", idea, "--by", world.coordinator, "--reviewer", "nobody@kommune.dk"), 2,
                      "unknown person")
    deadline = datetime.fromisoformat(shown(idea)["deadline"])
    world.services.sweep(deadline - timedelta(days=3))
    assert outbox_rows(engine, "deadline_reminder", idea) == [second]  # only the asked reviewer is reminded


def outbox_rows(engine, kind: str, idea_id: int) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(
            select(PersonRow.email).join(OutboxRow, OutboxRow.recipient_id == PersonRow.id)
            .where(OutboxRow.kind == kind, OutboxRow.idea_id == idea_id).order_by(OutboxRow.id)))


def test_errors_name_the_flags_in_english_or_danish(cli, expect, unchanged, world):
    """One line naming the flag the person typed, in English, or in Danish with IDEAFLOW_LANG=da;
    amounts the reader's way; exit codes as always."""
    idea, screened = world.idea(), world.idea(Stage.SCREENED)
    go_with_amount = ("decide", idea, "go", "--by", world.coordinator, "--amount-dkk", "1000")
    with unchanged(idea, screened):
        assert expect.failed(cli(*go_with_amount), 2) == \
            "ideaflow: bad input: --amount-dkk applies only to a go at the funding gate"
        assert expect.failed(cli(*go_with_amount, lang="da"), 2) == \
            "ideaflow: bad input: --amount-dkk gælder kun en godkendelse (go) ved bevillingsbeslutningen"
        expect.failed(cli("decide", screened, "go", "--by", world.coordinator, "--amount-dkk", "6000000", lang="da"),
                      1, "refused: puljen 'Innovationspuljen' har ikke råd til 6.000.000 kr.: 5.000.000 kr. tilbage")
        expect.failed(cli("submit", "--title", "", "--description", "D", "--proposer", world.proposer,
                          "--pool", world.pool, lang="da"), 2, "bad input: --title skal udfyldes")
        expect.failed(cli("pilot", idea, "--start", "2027-05-01", "--end", "2027-04-01", "--site", "Rådhuset"), 2,
                      "bad input: the pilot's last day, 1 April 2027, is before its first day, 1 May 2027")
        expect.failed(cli("review", idea, "--by", world.reviewer, "--score", "effektivitet=x", lang="da"), 2,
                      "--score effektivitet='x': scoren skal være et helt tal fra 1 til 5")


def test_decide_bad_input_changes_nothing(cli, expect, unchanged, world):
    idea = world.idea()
    screened = world.idea(Stage.SCREENED, requested_dkk=None)
    for target, args, needle in [
        (idea, ["maybe"], "decision"),
        (idea, ["go", "--amount-dkk", "1000"], "--amount-dkk"),
        (screened, ["go"], "--amount-dkk"),
        (screened, ["go", "--amount-dkk", "0"], "--amount-dkk"),
        (screened, ["go", "--amount-dkk", "tusind"], "--amount-dkk"),
        # a decimal is no whole number of kroner (Typer's int read 12.0 as 12, and 300.000 as 300)
        (screened, ["go", "--amount-dkk", "12.50"], "--amount-dkk '12.50' is not a whole number of kroner"),
        (screened, ["go", "--amount-dkk", "12.0"], "--amount-dkk '12.0' is not a whole number of kroner"),
    ]:
        with unchanged(idea, screened):
            expect.failed(cli("decide", target, *args, "--by", world.coordinator), 2, needle)
    with unchanged(idea):
        expect.failed(cli("decide", 9999, "kill", "--by", world.coordinator), 2, "unknown idea")
    with unchanged(idea):
        expect.failed(cli("decide", idea, "kill", "--by", "ukendt@kommune.dk"), 2, "unknown person")


# -- pilot, evaluate --------------------------------------------------------------------------------------


def test_pilot(cli, expect, engine, shown, unchanged, world):
    funded = world.idea(Stage.FUNDED)
    start, end = date.today() + timedelta(days=10), date.today() + timedelta(days=100)
    out = expect.ok(cli("pilot", funded, "--start", start, "--end", end, "--site", "Gundsømagle", "--site", "Viby",
                        "--follower", world.follower, "--measure", "ventetid", "--by", world.coordinator))
    assert out.startswith(f"idea {funded}: pilot ") and "Gundsømagle, Viby" in out
    pilot = shown(funded)["pilot"]
    assert pilot == {"start": str(start), "end": str(end), "sites": ["Gundsømagle", "Viby"],
                     "followers": [world.follower], "measures": ["ventetid"]}
    assert scalar(engine, text(f"SELECT count(*) FROM timers WHERE idea_id={funded} AND kind='pilot_start' "
                               "AND fired_at IS NULL AND cancelled_at IS NULL")) == 1
    assert out.rstrip().endswith("follow-up group of 1 person; measures: ventetid")

    # re-planned without --follower or --measure: the group and the measures stay, and the output says so
    out = expect.ok(cli("pilot", funded, "--start", start, "--end", end + timedelta(days=5), "--site", "Gundsømagle",
                        "--by", world.coordinator))
    assert out.rstrip().endswith("at Gundsømagle; follow-up group of 1 person; measures: ventetid"), out
    assert shown(funded)["pilot"] == {"start": str(start), "end": str(end + timedelta(days=5)),
                                      "sites": ["Gundsømagle"], "followers": [world.follower],
                                      "measures": ["ventetid"]}
    assert scalar(engine, select(func.count()).select_from(OutboxRow).where(
        OutboxRow.kind == "follow_up_left")) == 0
    # emptied on purpose
    out = expect.ok(cli("pilot", funded, "--start", start, "--end", end, "--site", "Gundsømagle", "--site", "Viby",
                        "--no-followers", "--no-measures", "--by", world.coordinator))
    assert out.rstrip().endswith("follow-up group of 0 people; no measures"), out
    pilot = shown(funded)["pilot"]
    assert (pilot["followers"], pilot["measures"]) == ([], [])
    out = expect.ok(cli("pilot", funded, "--start", start, "--end", end, "--site", "Gundsømagle", "--site", "Viby",
                        "--follower", world.follower, "--measure", "ventetid", "--by", world.coordinator))
    assert out.rstrip().endswith("follow-up group of 1 person; measures: ventetid"), out

    submitted = world.idea()
    with unchanged(submitted):
        expect.failed(cli("pilot", submitted, "--start", start, "--end", end, "--site", "Viby"), 1,
                      "the idea is submitted: a pilot is planned only for a funded idea")
    with unchanged(funded, audited=True):
        expect.failed(cli("pilot", funded, "--start", start, "--end", end, "--site", "Viby", "--by", world.reviewer),
                      1, "may not")
    for args, needle in [
        (["--start", end, "--end", start, "--site", "Viby"], "is before its first day"),
        (["--start", "1. marts", "--end", end, "--site", "Viby"], "--start"),
        (["--start", start, "--end", end, "--site", "Viby", "--follower", "ukendt@kommune.dk"], "unknown person"),
        (["--start", start, "--end", end, "--site", "Viby", "--follower", world.follower, "--no-followers"],
         "--follower and --no-followers: name some, or remove them all, not both"),
        (["--start", start, "--end", end, "--site", "Viby", "--measure", "x", "--no-measures"],
         "--measure and --no-measures"),
    ]:
        with unchanged(funded):
            expect.failed(cli("pilot", funded, *args), 2, needle)


def test_pilot_extended_once_its_evaluation_opened_and_refused_once_it_is_evaluated(cli, expect, engine, shown,
                                                                                     unchanged, world):
    """A pilot put on hold and resumed after its last day: the sweep opened its evaluation. Until it is
    evaluated, `pilot` with a later last day extends it and closes the evaluation; once evaluated, the
    refusal says so (not "only a pilot still running ... this one is piloting")."""
    ended = world.idea(Stage.PILOTING, evaluation_open=True)
    start, end = shown(ended)["pilot"]["start"], date.today() + timedelta(days=60)
    out = expect.ok(cli("pilot", ended, "--start", start, "--end", end, "--site", "Gundsømagle", "--site", "Viby",
                        "--follower", world.follower, "--measure", "ventetid", "--by", world.coordinator))
    view = shown(ended)
    assert "planned" not in out and "Gundsømagle" in out  # an extension is no new plan
    assert (view["stage"], view["deadline"], view["pilot"]["end"]) == ("piloting", None, str(end))
    assert [h["reason"] for h in view["history"][-2:]] == [
        f"pilot re-planned: end {(date.today() - timedelta(days=2)).isoformat()} → {end}",
        f"evaluation gate closed: the pilot runs on until {end}"]
    assert scalar(engine, text(f"SELECT count(*) FROM timers WHERE idea_id={ended} AND fired_at IS NULL "
                               "AND cancelled_at IS NULL")) == 1  # its end's, no evaluation deadline or reminder
    with unchanged(ended):
        expect.failed(cli("evaluate", ended, "--by", world.coordinator, *SCORES, "--outcome", "scale"), 1,
                      "evaluation gate opens when the pilot ends")

    evaluated = world.idea(Stage.EVALUATED)
    for lang, needle in (("en", "the pilot's evaluation has been recorded: its plan can no longer change"),
                         ("da", "pilotens evaluering er registreret: planen kan ikke længere ændres")):
        with unchanged(evaluated):
            expect.failed(cli("pilot", evaluated, "--start", start, "--end", end, "--site", "Viby", lang=lang), 1,
                          needle)


def test_evaluate(cli, expect, shown, unchanged, world):
    ready = world.idea(Stage.PILOTING, evaluation_open=True)
    running = world.idea(Stage.PILOTING)
    out = expect.ok(cli("evaluate", ready, "--by", world.coordinator, *SCORES, "--outcome", "scale",
                        "--comment", "udbredes"))
    assert "scale" in out
    view = shown(ready)
    assert view["stage"] == "evaluated" and view["evaluation"]["outcome"] == "scale"
    assert [h["to"] for h in view["history"]] == ["submitted", "submitted", "screened", "funded", "funded",
                                                   "piloting", "piloting", "evaluated"]

    with unchanged(running):
        expect.failed(cli("evaluate", running, "--by", world.coordinator, *SCORES, "--outcome", "stop"), 1,
                      "evaluation gate opens when the pilot ends")
    with unchanged(ready):
        expect.failed(cli("evaluate", ready, "--by", world.coordinator, *SCORES, "--outcome", "stop"), 1,
                      "evaluated")
    other = world.idea(Stage.PILOTING, evaluation_open=True)
    with unchanged(other):
        expect.failed(cli("evaluate", other, "--by", world.coordinator, "--score", "effektivitet=3",
                          "--outcome", "adjust"), 2, "missing")
    with unchanged(other):
        expect.failed(cli("evaluate", other, "--by", world.coordinator, *SCORES, "--outcome", "forever"), 2,
                      "--outcome")


# -- withdraw, resume -------------------------------------------------------------------------------------


def test_a_grant_goes_back_to_the_pool_when_its_idea_is_killed_or_withdrawn_before_its_pilot(cli, expect, shown,
                                                                                            unchanged, world):
    world.services.create_pool("Lille pulje", 50_000, world.now.year, world.now)
    first, second = (world.idea(Stage.SCREENED, pool="Lille pulje") for _ in range(2))
    go = ("go", "--by", world.coordinator, "--gate", "funding", "--amount-dkk", "50000")
    expect.ok(cli("decide", first, *go))
    with unchanged(second):
        expect.failed(cli("decide", second, *go, lang="da"), 1, "har ikke råd til 50.000 kr.: 0 kr. tilbage")
    expect.ok(cli("withdraw", first, "--by", world.proposer, "--reason", "flytter"))
    view = shown(first)
    assert view["allocated_dkk"] is None
    assert [(h["from"], h["to"], h["by"], h["reason"]) for h in view["history"][-2:]] == [
        ("funded", "withdrawn", world.proposer, "flytter"),
        ("withdrawn", "withdrawn", world.proposer, "grant of 50.000 kr. released to the pool")]
    assert json.loads(expect.ok(cli("pool", "show", "Lille pulje", "--json")))["remaining_dkk"] == 50_000
    expect.ok(cli("decide", second, *go))
    expect.ok(cli("decide", second, "kill", "--by", world.coordinator, "--reason", "Uden for formålet"))
    assert shown(second)["history"][-1]["reason"] == "grant of 50.000 kr. released to the pool"
    pool = json.loads(expect.ok(cli("pool", "show", "Lille pulje", "--json")))
    assert (pool["allocated_dkk"], pool["released_dkk"], pool["remaining_dkk"]) == (0, 100_000, 50_000)
    assert pool["allocations"] == []
    assert [(g["idea_id"], g["stage"], g["amount_dkk"]) for g in pool["released"]] == [
        (first, "withdrawn", 50_000), (second, "rejected", 50_000)]
    assert all(g["at"] and g["released_at"] for g in pool["released"])
    plain = expect.ok(cli("pool", "show", "Lille pulje"))
    assert "allocated 0 kr. · released 100.000 kr. · left 50.000 kr." in plain
    grants = plain[plain.index("grants"):]
    assert re.search(rf"{first} .*withdrawn .*50.000 kr\.", grants) and re.search(rf"{second} .*rejected", grants)


def test_pool_show_lists_the_grants_counted_and_those_released_as_the_pool_page_does(app, cli, expect, world):
    """A spent grant (its pilot began, then stopped) stays allocated; one given back is listed apart."""
    world.services.create_pool("Lille pulje", 100_000, world.now.year, world.now)
    spent, given_back = (world.idea(Stage.SCREENED, pool="Lille pulje") for _ in range(2))
    expect.ok(cli("decide", spent, "go", "--by", world.coordinator, "--gate", "funding", "--amount-dkk", "60000"))
    expect.ok(cli("decide", given_back, "go", "--by", world.coordinator, "--gate", "funding", "--amount-dkk", "40000"))
    expect.ok(cli("withdraw", given_back, "--by", world.proposer))
    pool = json.loads(expect.ok(cli("pool", "show", "Lille pulje", "--json")))
    assert (pool["allocated_dkk"], pool["released_dkk"], pool["remaining_dkk"]) == (60_000, 40_000, 40_000)
    assert [(g["idea_id"], g["amount_dkk"], g["released_at"]) for g in pool["allocations"]] == [(spent, 60_000, None)]
    assert [(g["idea_id"], g["amount_dkk"]) for g in pool["released"]] == [(given_back, 40_000)]
    page = app.administration.pool(pool["id"], world.coordinator, world.now)
    assert page.pool.model_dump(mode="json") == pool  # the console's pool page reads the same model


def test_withdraw(cli, expect, shown, unchanged, world):
    idea = world.idea(Stage.SCREENED)
    expect.ok(cli("withdraw", idea, "--by", world.proposer, "--reason", "flytter"))
    view = shown(idea)
    assert view["stage"] == "withdrawn"
    assert (view["history"][-1]["from"], view["history"][-1]["by"], view["history"][-1]["reason"]) == \
        ("screened", world.proposer, "flytter")

    other = world.idea()
    with unchanged(other, audited=True):
        expect.failed(cli("withdraw", other, "--by", world.coordinator), 1, "proposer")
    with unchanged(idea):
        expect.failed(cli("withdraw", idea, "--by", world.proposer), 1, "withdrawn")
    with unchanged(other):
        expect.failed(cli("withdraw", other, "--by", "ukendt@kommune.dk"), 2, "unknown person")


def test_revise(cli, expect, services, shown, unchanged, world):
    idea = world.idea()
    with unchanged(idea):  # not sent back (yet)
        expect.failed(cli("revise", idea, "--by", world.proposer, "--title", "Ny"), 1, "sent back for revision")
    services.decide(idea, Decision.RECYCLE, world.coordinator, world.clock(), reason="Uddyb budgettet")
    out = expect.ok(cli("revise", idea, "--by", world.proposer, "--title", "Uddybet idé", "--requested-dkk", "80000",
                        "--department", "Skoler", "--department", "Ældre"))
    assert out.strip() == f"idea {idea}: revised (title, requested amount, departments)"
    view = shown(idea)
    assert (view["title"], view["description"], view["requested_dkk"], view["departments"], view["stage"]) == (
        "Uddybet idé", "En god idé.", 80_000, ["Skoler", "Ældre"], "submitted")
    assert (view["history"][-1]["by"], view["history"][-1]["reason"]) == (
        world.proposer, "revised by the proposer: title, requested amount, departments")
    with unchanged(idea):  # the same again changes nothing, and says so
        assert expect.ok(cli("revise", idea, "--by", world.proposer, "--title", "Uddybet idé")).strip() == \
            f"idea {idea}: nothing changed"

    with unchanged(idea, audited=True):
        expect.failed(cli("revise", idea, "--by", world.coordinator, "--title", "Kapret"), 1, "only the idea's")
    with unchanged(idea):
        expect.failed(cli("revise", idea, "--by", world.proposer), 2, "say what to revise")
        expect.failed(cli("revise", idea, "--by", world.proposer, "--title", ""), 2, "--title must not be empty")
        expect.failed(cli("revise", idea, "--by", world.proposer, "--title", "x" * 201), 2, "--title")
        expect.failed(cli("revise", idea, "--by", world.proposer, "--description", "a\x1bb"), 2,
                      "--description contains a control character")
        expect.failed(cli("revise", idea, "--by", world.proposer, "--requested-dkk", "0"), 2, "--requested-dkk")
        expect.failed(cli("revise", idea, "--by", world.proposer, "--requested-dkk", "mange"), 2, "--requested-dkk")
        expect.failed(cli("revise", idea, "--by", world.proposer, "--department", "x" * 201), 2, "--department")
        expect.failed(cli("revise", "abc", "--by", world.proposer, "--title", "Ny"), 2, "'idea'")
        expect.failed(cli("revise", idea, "--by", "ukendt@kommune.dk", "--title", "Ny"), 2, "unknown person")
    services.review(idea, world.reviewer, ALL_SCORES, world.clock())
    services.decide(idea, Decision.GO, world.coordinator, world.clock())
    with unchanged(idea):  # the gate is decided
        line = expect.failed(cli("revise", idea, "--by", world.proposer, "--title", "For sent", lang="da"), 1)
        assert "kan kun revideres, mens den er sendt tilbage til revision" in line and "screenet" in line


def test_resume(cli, expect, shown, unchanged, world):
    held = world.idea(Stage.ON_HOLD, held_from=Stage.SCREENED)
    assert "screened" in expect.ok(cli("resume", held, "--by", world.coordinator))
    view = shown(held)
    assert view["stage"] == "screened" and view["held_from"] is None and view["open_gate"] == "funding"
    assert [(h["from"], h["to"]) for h in view["history"][-2:]] == [("screened", "on_hold"), ("on_hold", "screened")]

    with unchanged(held):
        expect.failed(cli("resume", held, "--by", world.coordinator), 1, "cannot resume")
    other = world.idea(Stage.ON_HOLD)
    with unchanged(other, audited=True):
        expect.failed(cli("resume", other, "--by", world.reviewer), 1, "may not resume")
    with unchanged(other):
        expect.failed(cli("resume", "abc", "--by", world.coordinator), 2, "'idea'")


# -- list, show -------------------------------------------------------------------------------------------


def test_list(cli, expect, services, world):
    submitted = world.idea(title="Første")
    funded = world.idea(Stage.FUNDED, title="Anden")
    world.services.create_pool("Anden pulje", 1000, world.now.year, world.now)
    elsewhere = world.idea(title="Tredje", pool="Anden pulje")

    everything = json.loads(expect.ok(cli("list", "--json")))
    assert [(i["id"], i["title"], i["stage"]) for i in everything] == \
        [(submitted, "Første", "submitted"), (funded, "Anden", "funded"), (elsewhere, "Tredje", "submitted")]
    assert all({"id", "title", "stage"} <= i.keys() for i in everything)
    by_stage = json.loads(expect.ok(cli("list", "--stage", "submitted", "--json")))
    assert [i["id"] for i in by_stage] == [submitted, elsewhere]
    both = json.loads(expect.ok(cli("list", "--stage", "submitted", "--pool", world.pool, "--json")))
    assert [i["id"] for i in both] == [submitted]
    plain = expect.ok(cli("list", "--pool", "Anden pulje"))
    assert "Tredje" in plain and "Første" not in plain

    expect.failed(cli("list", "--stage", "approved"), 2, "--stage")
    expect.failed(cli("list", "--pool", "Ingen pulje", "--json"), 2, "unknown pool")


def test_show(cli, expect, world):
    idea = world.idea(Stage.ON_HOLD, held_from=Stage.FUNDED, title="Samskabelse")
    world.services.resume(idea, world.coordinator, world.clock())
    view = json.loads(expect.ok(cli("show", idea, "--json")))
    assert {"id", "title", "stage", "pool", "proposer", "deadline", "history"} <= view.keys()
    assert (view["id"], view["title"], view["stage"], view["pool"], view["proposer"]) == \
        (idea, "Samskabelse", "funded", world.pool, world.proposer)
    assert view["deadline"] is None  # no gate is open for a funded idea
    history = view["history"]
    assert all(HISTORY_KEYS <= h.keys() for h in history)
    assert [(h["from"], h["to"]) for h in history] == [
        (None, "submitted"), ("submitted", "submitted"), ("submitted", "screened"), ("screened", "funded"),
        ("funded", "on_hold"), ("on_hold", "funded")]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert [h["by"] for h in history] == [world.proposer, world.reviewer] + [world.coordinator] * 4

    plain = expect.ok(cli("show", idea))
    assert "Samskabelse" in plain and "on_hold" in plain

    expect.failed(cli("show", 9999, "--json"), 2, "unknown idea")
    expect.failed(cli("show", "første"), 2, "'idea'")


# -- sweep ------------------------------------------------------------------------------------------------


def test_sweep(cli, expect, engine, shown, unchanged, world):
    """The scene is set 31 days ago (the screening deadlines, 30 days on, have passed since): a sweep runs
    for now or for a moment that has passed, never ahead of the clock."""
    then = datetime.now(UTC) - timedelta(days=31)
    world.clock = lambda: then
    ideas = [world.idea() for _ in range(3)]
    funded = world.idea(Stage.FUNDED)
    world.services.plan_pilot(funded, start=then.date() + timedelta(days=3), end=then.date() + timedelta(days=60),
                              sites=("Viby",), now=then, by=world.coordinator)
    assert expect.ok(cli("sweep", "--now", (then + timedelta(days=1)).isoformat())).strip() == "nothing was due"

    out = expect.ok(cli("sweep"))
    for idea in ideas:
        assert f"idea {idea}: gate_deadline: screening deadline passed; escalated" in out
    assert f"idea {funded}: pilot_start: pilot started" in out
    assert "fired" in out.splitlines()[-1]
    assert shown(funded)["stage"] == "piloting"
    for idea in ideas:
        assert [h["to"] for h in shown(idea)["history"]] == ["submitted", "submitted"]

    with unchanged(*ideas, funded):
        assert expect.ok(cli("sweep", "--now", datetime.now(UTC).isoformat())).strip() == "nothing was due"
    with unchanged(*ideas, funded):
        expect.failed(cli("sweep", "--now", "i morgen"), 2, "ISO-8601")
    fired = scalar(engine, select(func.count()).select_from(TimerRow).where(TimerRow.fired_at.is_not(None)))
    escalations = scalar(engine, select(func.count()).select_from(HistoryRow).where(HistoryRow.action == "escalate"))
    assert escalations == 3 and fired >= 3 + 3 + 1  # deadlines, reminders (skipped), pilot start


@pytest.mark.parametrize("command", [["sweep"], ["digest"], ["outbox", "--flush"], ["outbox"]])
def test_a_moment_later_than_now_is_refused_by_sweep_digest_and_outbox(cli, expect, shown, unchanged, world,
                                                                        command):
    """--now replays a moment that has passed: one ahead of the clock would fire deadlines and send
    reminders and digests before they are due, and date the record in the future."""
    idea = world.idea()  # its deadline and reminder are due in 25 and 30 days
    ahead = datetime.now(UTC) + timedelta(days=31)
    for moment, said in ((ahead.isoformat(), ahead.isoformat()), ("2099-01-01", "2099-01-01"),
                         ((datetime.now(UTC) + timedelta(minutes=2)).isoformat(), None)):
        with unchanged(idea):
            line = expect.failed(cli(*command, "--now", moment), 2, "--now", "is later than now")
            assert said is None or f"'{said}'" in line
    with unchanged(idea):
        line = expect.failed(cli(*command, "--now", "2099-01-01", lang="da"), 2)
        assert line == ("ideaflow: bad input: --now '2099-01-01' ligger efter nu: angiv et tidspunkt, der er passeret, "
                        "eller udelad --now for at bruge uret")
    # a moment typed to the minute, a few seconds ahead of this clock, is now
    expect.ok(cli(*command, "--now", (datetime.now(UTC) + timedelta(seconds=20)).isoformat()))
    assert [h["action"] for h in shown(idea)["history"]] == ["submit"]  # nothing fired ahead of time
