"""Hostile input through the command line: stored exactly as given, or refused with a reason and no change.

Hypothesis generates submissions, reviews, decisions and pilot plans from huge and empty strings,
control characters, right-to-left text, HTML and SQL fragments, negative and enormous amounts,
malformed and out-of-order dates, unknown people and criteria, and unknown ids up to ones no
database column can hold. Every command either succeeds and `show --json` gives back exactly what
was given, or exits 1 (refused) or 2 (bad input) with one line on stderr, and then not one row of
any table has changed. Each test also checks that its examples included both outcomes, so neither
half of the property is vacuous.

The hypothesis examples run the real CLI entry point (`ideaflow.cli.main`, through `ideaflow_here`)
inside this process: 400 examples per database as processes would take minutes. The last test runs a
handful of the same kinds of input through the installed console script, one process each.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from states.vocabulary import Stage

from mailtest import ALL_SCORES

pytestmark = pytest.mark.slow

# Text a person may well write, and which must come back exactly as written.
STORABLE = ["<script>alert(1)</script>", "<b>fed</b> &amp;", "'; DROP TABLE ideas; --", "\" OR 1=1 --", "%s%n",
            "{{ 7*7 }}", "${jndi:ldap://x}", "ÆØÅ æøå", "\u202eעברית\u202c", "العربية", "🤖", "Robert'); --", "\\",
            "NULL", "\u200f", "  indrykket  "]
# Text that must be refused: control characters, lone surrogates, nothing at all.
REFUSED = ["\x00", "\x07", "\x1b[31m", "\ud800", "", "   "]

storable = st.one_of(
    st.lists(st.sampled_from(STORABLE), min_size=1, max_size=4).map("".join),
    st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=60)
      .filter(lambda s: s.strip()),
)
hostile = st.one_of(
    st.tuples(storable, st.sampled_from(REFUSED)).map("".join),
    st.sampled_from(REFUSED),
    st.integers(min_value=195, max_value=205).map(lambda n: "æ" * n),
    st.integers(min_value=4995, max_value=5005).map(lambda n: "x" * n),
    st.just("y" * 100_001),
)
texts = st.one_of(storable, hostile)
emails = st.one_of(st.sampled_from(["ny.borger@example.dk", "anne+idé@kommune.dk", "o'brien@example.ie"]), texts)
amounts = st.one_of(
    st.integers(min_value=1, max_value=4_000_000).map(str),
    st.integers(min_value=-10**15, max_value=10**15).map(str),
    st.sampled_from(["0", "-1", "999999999999", "1000000000000", "", "abc", "1e6", "1.5", " 7", "١٢٣", "0x10"]),
)
dates = st.one_of(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)).map(date.isoformat),
    st.sampled_from(["", "2026-02-30", "31-12-2026", "2026/01/01", "i morgen", "2026-1-1", "99999-01-01"]),
)
# Ideas that do not exist, up to ids no database column can hold (and negative ones, which look like options).
unknown_ids = st.one_of(st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 10**20, 10**100]),
                        st.integers(min_value=10**6, max_value=10**30))
criteria = st.one_of(st.sampled_from(sorted(ALL_SCORES)), texts)
score_values = st.one_of(st.integers(min_value=1, max_value=5).map(str), st.integers(-2, 8).map(str), texts)

EXAMPLES = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.fixture
def check(ideaflow_here, fingerprint):
    """`check(argv, stored)`: run the command; on success `stored(stdout, shown)` must hold, where
    `shown(idea)` is what `ideaflow show IDEA --json` prints; on failure nothing may have changed.
    Returns the exit code."""

    def shown(idea: int) -> dict:
        code, stdout, stderr = ideaflow_here("show", idea, "--json")
        assert code == 0, stderr
        return json.loads(stdout)

    def run(argv: list, stored) -> int:
        before = fingerprint()
        code, stdout, stderr = ideaflow_here(*argv)
        if code == 0:
            assert stderr == "", stderr
            stored(stdout, shown)
        else:
            assert code in (1, 2), (code, stdout, stderr)
            lines = stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("ideaflow: ") and len(lines[0]) > 20, stderr
            assert fingerprint() == before, f"a refused command changed the database: {lines[0]}"
        return code

    return run


def covered(codes: Counter) -> None:
    assert codes[0] and (codes[1] + codes[2]), f"the examples did not cover both success and refusal: {codes}"


def test_hostile_submissions(world, check):
    codes: Counter[int] = Counter()

    @given(title=storable, description=storable, departments=st.lists(storable, max_size=2),
           requested=st.none() | st.integers(1, 4_000_000).map(str), proposer=st.sampled_from(
               [world.proposer, "ny.borger@example.dk"]), spoil=st.sampled_from(
               [None, None, "title", "description", "departments", "requested", "proposer", "pool"]),
           bad_text=hostile, bad_amount=amounts, bad_email=emails)
    @EXAMPLES
    def example(title, description, departments, requested, proposer, spoil, bad_text, bad_amount, bad_email):
        pool = bad_text if spoil == "pool" else world.pool
        title = bad_text if spoil == "title" else title
        description = bad_text if spoil == "description" else description
        departments = [*departments, bad_text] if spoil == "departments" else departments
        requested = bad_amount if spoil == "requested" else requested
        proposer = bad_email if spoil == "proposer" else proposer
        argv = ["submit", f"--title={title}", f"--description={description}", f"--proposer={proposer}",
                f"--pool={pool}", "--json"]
        argv += [f"--requested-dkk={requested}"] if requested is not None else []
        argv += [f"--department={d}" for d in departments]

        def stored(stdout, shown):
            idea = shown(json.loads(stdout)["id"])
            assert (idea["title"], idea["description"], idea["departments"]) == (title, description, departments)
            assert idea["requested_dkk"] == (int(requested) if requested is not None else None)
            assert idea["proposer"] == proposer and idea["pool"] == pool

        codes[check(argv, stored)] += 1

    example()
    covered(codes)


def test_hostile_reviews(world, check):
    codes: Counter[int] = Counter()

    @given(scores=st.dictionaries(criteria, score_values, max_size=3), comment=texts, known=st.booleans(),
           full=st.booleans(), draft=st.booleans(), unknown=unknown_ids)
    @EXAMPLES
    def example(scores, comment, known, full, draft, unknown):
        idea = world.idea() if known or full else unknown
        given_scores = ({k: str(v) for k, v in ALL_SCORES.items()} | scores) if full else scores
        argv = ["review", idea, f"--by={world.reviewer}", f"--comment={comment}",
                *[f"--score={name}={value}" for name, value in given_scores.items()], *(["--draft"] if draft else [])]

        def stored(stdout, shown):
            review = shown(idea)["reviews"][-1]
            assert review["comment"] == comment
            assert review["scores"] == {k: int(v) for k, v in given_scores.items()}
            assert review["submitted"] is not draft
            if not draft:  # only a complete review is accepted as submitted
                assert set(review["scores"]) == set(ALL_SCORES)

        codes[check(argv, stored)] += 1

    example()
    covered(codes)


@pytest.mark.long
def test_hostile_decisions(world, check):
    codes: Counter[int] = Counter()

    @given(decision=st.sampled_from(["go", "kill", "hold", "recycle"]), reason=storable | st.just(""),
           stage=st.sampled_from([Stage.SUBMITTED, Stage.SCREENED]), good_amount=st.integers(1, 4_000_000),
           spoil=st.sampled_from([None, None, "decision", "amount", "reason", "by", "idea"]),
           bad_text=hostile, bad_amount=amounts, unknown=unknown_ids)
    @EXAMPLES
    def example(decision, reason, stage, good_amount, spoil, bad_text, bad_amount, unknown):
        decision = bad_text if spoil == "decision" else decision
        reason = bad_text if spoil == "reason" else reason
        amount = bad_amount if spoil == "amount" else (
            str(good_amount) if decision == "go" and stage == Stage.SCREENED else None)
        by_known = spoil != "by"
        idea = world.idea(stage)
        if stage == Stage.SUBMITTED:
            world.services.review(idea, world.reviewer, ALL_SCORES, world.clock())
        by = world.coordinator if by_known else "ukendt@kommune.dk"
        argv = ["decide", unknown if spoil == "idea" else idea, decision, f"--by={by}", f"--reason={reason}"]
        argv += [f"--amount-dkk={amount}"] if amount is not None else []

        def stored(stdout, shown):
            shown_idea = shown(idea)
            if reason:  # an empty reason is recorded as the default one, e.g. "go at the screening gate";
                recorded = shown_idea["history"][-1]["reason"]  # a funding go states its amount before it
                assert recorded == reason or recorded.endswith(f" allocated: {reason}")
            if amount is not None:
                assert shown_idea["allocated_dkk"] == int(amount)

        codes[check(argv, stored)] += 1

    example()
    covered(codes)


def test_hostile_pilot_plans(world, check):
    codes: Counter[int] = Counter()
    known_people = [world.follower, world.coordinator, world.proposer]
    world.services.create_pool("Pilotpuljen", 10**11, world.now.year, world.now)  # funds every example's idea

    @given(offsets=st.tuples(st.integers(-400, 400), st.integers(1, 400)), sites=st.lists(storable, min_size=1,
           max_size=3), measures=st.lists(storable, max_size=2), followers=st.lists(st.sampled_from(known_people),
           max_size=3, unique=True), spoil=st.sampled_from(
               [None, None, "dates", "order", "site", "no site", "measure", "follower", "idea"]),
           bad_dates=st.tuples(dates, dates), bad_text=hostile, bad_email=emails, unknown=unknown_ids)
    @EXAMPLES
    def example(offsets, sites, measures, followers, spoil, bad_dates, bad_text, bad_email, unknown):
        idea = world.idea(Stage.FUNDED, pool="Pilotpuljen")
        start_day = date.today() + timedelta(days=offsets[0])
        start, end = start_day.isoformat(), (start_day + timedelta(days=offsets[1])).isoformat()
        if spoil == "dates":
            start, end = bad_dates
        elif spoil == "order":  # the end before the start (refused), or on the same day (a one-day pilot)
            start, end = (end, start) if offsets[1] % 2 else (end, end)
        sites = [] if spoil == "no site" else [*sites, bad_text] if spoil == "site" else sites
        measures = [*measures, bad_text] if spoil == "measure" else measures
        followers = [*followers, bad_email] if spoil == "follower" and bad_email not in followers else followers
        argv = ["pilot", unknown if spoil == "idea" else idea, f"--start={start}", f"--end={end}",
                f"--by={world.coordinator}", *[f"--site={s}" for s in sites],
                *[f"--measure={m}" for m in measures], *[f"--follower={f}" for f in followers]]

        def stored(stdout, shown):
            pilot = shown(idea)["pilot"]
            assert (pilot["start"], pilot["end"], pilot["sites"], pilot["measures"], pilot["followers"]) == (
                start, end, sites, measures, followers)

        codes[check(argv, stored)] += 1

    example()
    covered(codes)


def test_hostile_commands_through_the_installed_console_script(world, cli_process, fingerprint, expect):
    """A handful of the same, each a real `ideaflow` process (whose argv cannot even carry a NUL)."""
    cli = cli_process
    screened, funded = world.idea(Stage.SCREENED), world.idea(Stage.FUNDED)
    title = "\u202eעברית\u202c <script>alert(1)</script> '; DROP TABLE ideas; --"
    description = "linje 1\n\tlinje 2\r\nالعربية 🤖 {{ 7*7 }} ${jndi:ldap://x} %s%n \\ NULL"
    submitted = cli("submit", f"--title={title}", f"--description={description}", "--proposer=o'brien@example.ie",
                    f"--pool={world.pool}", "--requested-dkk=1", "--department=ÆØÅ & <b>", "--json")
    idea = json.loads(expect.ok(submitted))["id"]
    shown = json.loads(expect.ok(cli("show", idea, "--json")))
    assert (shown["title"], shown["description"], shown["departments"], shown["requested_dkk"], shown["proposer"]) \
        == (title, description, ["ÆØÅ & <b>"], 1, "o'brien@example.ie")

    submit = ["submit", "--description=d", f"--proposer={world.proposer}", f"--pool={world.pool}"]
    scores = [f"--score={name}=4" for name in ALL_SCORES]
    later = date.today() + timedelta(days=30)
    refused = [
        (2, [*submit, "--title=\x1b[31mrød"], "control character"),
        (2, [*submit, "--title=t", "--requested-dkk=-1"], "--requested-dkk"),
        (2, ["review", idea, f"--by={world.reviewer}", *scores, "--score=ukendt=3"], "ukendt"),
        (2, ["decide", 2**31, "go", f"--by={world.coordinator}"], "unknown idea"),  # beyond PostgreSQL's integer
        (2, ["decide", 10**30, "go", f"--by={world.coordinator}"], "unknown idea"),  # beyond SQLite's integer
        (1, ["decide", screened, "go", f"--by={world.coordinator}", "--amount-dkk=999999999999"], "cannot afford"),
        (2, ["pilot", funded, f"--start={later}", f"--end={later - timedelta(days=1)}", "--site=Viby"], "before"),
        (2, ["pilot", funded, f"--start={later}", "--end=2099-01-01", "--site=Viby", "--follower=ukendt@kommune.dk"],
         "unknown person"),
        (2, ["sweep", "--batch-size", 10**20], "--batch-size"),
    ]
    for code, argv, reason in refused:
        before = fingerprint()
        expect.failed(cli(*argv), code, reason)
        assert fingerprint() == before, f"{argv} changed the database"
