"""Pools open for ideas: the intake window, the pools listed as open, refusals outside the window, and
the command line that sets it (`pool create` options and `pool intake`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from states.criteria import TAARNBY_CRITERIA
from states.errors import BadInput, NotFound
from states.intake import IntakeClosed, IntakeStatus, PoolIntake
from states.messages import sentence
from states.model import local_midnight
from states.vocabulary import COPENHAGEN, Decision

from intake_helpers import COORDINATOR, POOL, REVIEWER, T0, later, submit

OPENS, CLOSES = T0 + timedelta(days=1), T0 + timedelta(days=31)


def test_the_window_is_half_open_and_either_end_may_be_missing():
    window = PoolIntake(OPENS, CLOSES)
    assert [window.status(t) for t in (OPENS - timedelta(seconds=1), OPENS, CLOSES - timedelta(seconds=1), CLOSES)] \
        == [IntakeStatus.NOT_YET_OPEN, IntakeStatus.OPEN, IntakeStatus.OPEN, IntakeStatus.CLOSED]
    assert PoolIntake().status(T0) == IntakeStatus.OPEN
    assert PoolIntake(opens_at=OPENS).status(CLOSES + timedelta(days=999)) == IntakeStatus.OPEN
    assert PoolIntake(closes_at=CLOSES).status(datetime(2000, 1, 1, tzinfo=UTC)) == IntakeStatus.OPEN
    with pytest.raises(BadInput, match="must open for ideas .* before it closes"):
        PoolIntake(CLOSES, OPENS)
    with pytest.raises(BadInput, match="smallest grant"):
        PoolIntake(grant_min_dkk=10, grant_max_dkk=9)


def test_a_window_of_whole_days_in_the_wrong_order_is_said_by_the_days_as_typed():
    """The intake form's last day closes the window at the next midnight; the refusal says the day typed."""
    with pytest.raises(BadInput) as reversed_days:
        PoolIntake(local_midnight(date(2027, 5, 1)), local_midnight(date(2027, 3, 1) + timedelta(days=1)))
    error = reversed_days.value
    assert (error.code, error.field) == ("intake.days_order", "closes")
    assert sentence(error, "da") == "Sidste dag (1. marts 2027) ligger før første dag (1. maj 2027)."
    assert sentence(error, "en") == "The last day (1 March 2027) comes before the first day (1 May 2027)."
    assert PoolIntake(local_midnight(date(2027, 3, 1)), local_midnight(date(2027, 3, 2)))  # one day: fine


def test_no_amount_given_exceeds_the_pools_budget(intake, services, pool_id, snapshot):
    before = snapshot()
    for setting in ({"grant_max_dkk": 999_999_999}, {"grant_min_dkk": 2_000_001},
                    {"grant_min_dkk": 10_000, "grant_max_dkk": 2_000_001}):
        with pytest.raises(BadInput) as refused:
            intake.set_intake(POOL, T0, **setting)
        field = "grant_max_dkk" if "grant_max_dkk" in setting else "grant_min_dkk"
        assert (refused.value.code, refused.value.field) == ("intake.grant_above_budget", field)
    assert sentence(refused.value, "da", {"grant_max_dkk": "Største beløb der gives"}.get) == \
        "Største beløb der gives (2.000.001 kr.) er mere end puljens samlede budget (2.000.000 kr.)."
    with pytest.raises(BadInput, match="smallest grant"):
        intake.set_intake(POOL, T0, grant_min_dkk=20_000, grant_max_dkk=10_000)
    assert snapshot() == before
    assert intake.set_intake(POOL, T0, grant_min_dkk=2_000_000, grant_max_dkk=2_000_000).grant_max_dkk == 2_000_000


def test_a_funding_go_allocates_within_the_grants_the_pool_publishes(intake, services, pool_id, snapshot):
    """The public page says what an idea can get from the pool; a funding go keeps to it (a coordinator who
    means to give more changes the range first)."""
    intake.set_intake(POOL, T0, grant_min_dkk=10_000, grant_max_dkk=200_000)
    idea = services.submit(title="Grønne skolegårde", description="Træer.", proposer="aase@example.dk", pool=POOL,
                           now=T0, requested_dkk=150_000)
    scores = {c.name: 4 for c in TAARNBY_CRITERIA}
    services.review(idea, REVIEWER, scores, T0)
    services.decide(idea, Decision.GO, COORDINATOR, T0)
    services.review(idea, REVIEWER, scores, T0)
    before = snapshot()
    for amount, code in ((250_000, "intake.above_grant_max"), (5_000, "intake.below_grant_min")):
        with pytest.raises(BadInput) as refused:
            services.decide(idea, Decision.GO, COORDINATOR, T0, amount_dkk=amount)
        assert (refused.value.code, refused.value.field) == (code, "amount_dkk")
        assert snapshot() == before
    assert services.decide(idea, Decision.GO, COORDINATOR, T0, amount_dkk=200_000).allocated_dkk == 200_000


def test_a_last_day_that_has_passed_is_refused_when_it_is_set(intake, pool_id, snapshot):
    yesterday = local_midnight(T0.astimezone(COPENHAGEN).date())  # the last day: the day before T0's
    before = snapshot()
    with pytest.raises(BadInput) as refused:
        intake.set_intake(POOL, T0, opens_at=local_midnight(date(2027, 1, 1)), closes_at=yesterday)
    assert (refused.value.code, refused.value.field) == ("intake.last_day_passed", "closes")
    assert sentence(refused.value, "da") == "Sidste dag for idéer (31. januar 2027) er allerede passeret."
    assert snapshot() == before
    # Today is still a day for ideas; a pool whose last day passed keeps it while other settings change.
    assert intake.set_intake(POOL, T0, closes_at=yesterday + timedelta(days=1)).closes_at > T0
    intake.set_intake(POOL, T0 - timedelta(days=2), closes_at=yesterday)
    assert intake.set_intake(POOL, T0, description="Lukket").closes_at == yesterday
    # A closing moment within a day (the command line's ISO time) that has passed closes the pool at once.
    assert intake.set_intake(POOL, T0, closes_at=T0 - timedelta(minutes=1)).status(T0) == IntakeStatus.CLOSED


def test_only_the_pools_open_now_are_listed(intake, services, pool_id):
    services.create_pool("Medarbejderpuljen", 500_000, 2027, T0)
    services.create_pool("Næste års pulje", 500_000, 2028, T0)
    intake.set_intake("Medarbejderpuljen", T0, closes_at=CLOSES, description="Idéer fra medarbejderne",
                      grant_min_dkk=5_000, grant_max_dkk=50_000)
    intake.set_intake("Næste års pulje", T0, opens_at=OPENS)
    assert [p.name for p in intake.pools(T0)] == [POOL, "Medarbejderpuljen"]
    assert [p.name for p in intake.pools(OPENS)] == [POOL, "Medarbejderpuljen", "Næste års pulje"]
    assert [p.name for p in intake.pools(CLOSES)] == [POOL, "Næste års pulje"]
    staff = intake.pools(T0)[1]
    assert (staff.description, staff.grant_min_dkk, staff.grant_max_dkk, staff.closes_at) == (
        "Idéer fra medarbejderne", 5_000, 50_000, CLOSES)
    everything = intake.pools(T0, open_only=False)
    assert {p.name: p.status for p in everything}["Næste års pulje"] == IntakeStatus.NOT_YET_OPEN
    assert intake.pool(pool_id, T0).status == IntakeStatus.OPEN
    with pytest.raises(NotFound):
        intake.pool(10**12, T0)


def test_outside_its_window_a_pool_refuses_submissions_and_says_when(intake, pool_id, smtp, snapshot):
    intake.set_intake(POOL, T0, opens_at=OPENS, closes_at=CLOSES)
    before = snapshot()
    with pytest.raises(IntakeClosed, match="takes ideas from 2 February 2027 at 10:00") as early:
        submit(intake, pool_id, now=T0)
    assert (early.value.code, early.value.values["opens_at"]) == ("intake.not_yet_open", OPENS)
    with pytest.raises(IntakeClosed, match="closed for ideas 4 March 2027 at 10:00") as late:
        submit(intake, pool_id, now=CLOSES)
    assert (late.value.code, late.value.values["closes_at"]) == ("intake.closed", CLOSES)
    assert snapshot() == before and smtp.handler.take() == []
    assert submit(intake, pool_id, now=OPENS).mail_sent


def test_a_submission_made_in_time_can_be_confirmed_after_the_pool_closed(intake, pool_id, smtp):
    """The proposer met the deadline when they submitted; the mail's round trip may take them past it."""
    intake.set_intake(POOL, T0, closes_at=later(1))
    submit(intake, pool_id)
    from intake_helpers import token_from

    assert intake.confirm(token_from(smtp.handler.take()[0].message), later(2)).newly_registered


def test_changing_some_intake_settings_keeps_the_others(intake, pool_id):
    intake.set_intake(POOL, T0, opens_at=OPENS, description="Hvad puljen støtter")
    changed = intake.set_intake(POOL, T0, closes_at=CLOSES)
    assert (changed.opens_at, changed.closes_at, changed.description) == (OPENS, CLOSES, "Hvad puljen støtter")
    with pytest.raises(BadInput, match="control character"):
        intake.set_intake(POOL, T0, description="a\x00b")
    with pytest.raises(NotFound):
        intake.set_intake("Ingen pulje", T0, opens_at=OPENS)


def test_only_an_administrator_or_the_pools_coordinator_sets_its_intake(intake, services, pool_id, snapshot):
    from states.errors import NotAllowed
    from states.vocabulary import Role

    from intake_helpers import COORDINATOR, REVIEWER

    services.create_pool("Anden pulje", 1000, 2027, T0)
    services.add_person("anden@kommune.dk", "Anne Anden", Role.PROPOSER, T0)
    services.grant_role("anden@kommune.dk", Role.COORDINATOR, T0, pool="Anden pulje")
    assert intake.set_intake(POOL, T0, by=COORDINATOR, closes_at=CLOSES).closes_at == CLOSES
    before = snapshot()
    for who in (REVIEWER, "anden@kommune.dk"):  # a reviewer; the coordinator of another pool
        with pytest.raises(NotAllowed, match=f"may not change when pool '{POOL}' takes ideas"):
            intake.set_intake(POOL, T0, by=who, closes_at=None)
    after = snapshot()
    assert [row[3] for row in after["refusals"][len(before["refusals"]):]] == ["pool intake", "pool intake"]
    assert {t: rows for t, rows in after.items() if t != "refusals"} == \
        {t: rows for t, rows in before.items() if t != "refusals"}


def test_the_command_line_sets_and_shows_the_intake(engine, cli):
    """`pool create` takes the intake options; `pool intake` changes them; dates are Copenhagen days."""
    created = cli("pool", "create", POOL, "--budget-dkk", "1000000", "--opens", "2027-02-01", "--closes",
                  "2027-03-31", "--description", "Idéer fra borgerne", "--grant-max-dkk", "200000")
    assert created.returncode == 0, created
    shown = json.loads(cli("pool", "show", POOL, "--json").stdout)["intake"]
    # the window opens at the start of 1 February and closes at the end of 31 March, Copenhagen time
    assert (shown["opens_at"], shown["closes_at"]) == ("2027-01-31T23:00:00Z", "2027-03-31T22:00:00Z")
    assert (shown["description"], shown["grant_max_dkk"]) == ("Idéer fra borgerne", 200_000)
    changed = cli("pool", "intake", POOL, "--opens", "none", "--closes", "2027-04-30T12:00", "--criteria-text",
                  "Den skal gavne borgerne", "--grant-min-dkk", "10000")
    assert changed.returncode == 0, changed
    assert "closes 30. april 2027 kl. 12:00" in changed.stdout and "grants 10.000 kr. – 200.000 kr." in changed.stdout
    shown = json.loads(cli("pool", "show", POOL, "--json").stdout)["intake"]
    assert (shown["opens_at"], shown["closes_at"], shown["criteria_text"], shown["grant_min_dkk"]) == (
        None, "2027-04-30T10:00:00Z", "Den skal gavne borgerne", 10_000)


def test_ideaflow_submit_also_keeps_to_the_window(engine, cli):
    assert cli("pool", "create", POOL, "--budget-dkk", "1000", "--closes", "2020-01-01T12:00").returncode == 0
    result = cli("submit", "--title", "T", "--description", "D", "--proposer", "a@example.dk", "--pool", POOL)
    assert (result.returncode, result.stderr) == (
        1, f"ideaflow: refused: pool {POOL!r} closed for ideas 1 January 2020 at 12:00\n")
    assert cli("pool", "intake", POOL, "--closes", "none").returncode == 0
    assert cli("submit", "--title", "T", "--description", "D", "--proposer", "a@example.dk", "--pool", POOL) \
        .stdout == "1\n"


def test_ideaflow_submit_also_keeps_to_the_pools_amounts(engine, cli):
    """What the public form refuses on its amount field, the command refuses too: nothing is stored."""
    assert cli("pool", "create", POOL, "--budget-dkk", "500000", "--grant-min-dkk", "10000",
               "--grant-max-dkk", "200000").returncode == 0
    submit = ("submit", "--title", "T", "--description", "D", "--proposer", "a@example.dk", "--pool", POOL)
    for amount, says in (("5000", f"--requested-dkk DKK 5,000 is below the smallest amount pool {POOL!r} gives "
                                  "(DKK 10,000)"),
                         ("200001", f"--requested-dkk DKK 200,001 is above the largest amount pool {POOL!r} gives "
                                    "(DKK 200,000)")):
        result = cli(*submit, "--requested-dkk", amount)
        assert (result.returncode, result.stderr) == (2, f"ideaflow: bad input: {says}\n")
    assert cli(*submit, "--requested-dkk", "10.000").stdout == "1\n"  # the first idea: nothing was stored before


@pytest.mark.parametrize("args, needle", [
    (["--opens", "2027-13-01"], "--opens '2027-13-01' is not a date"),
    (["--closes", "soon"], "--closes 'soon' is not a date"),
    (["--grant-max-dkk", "-5"], "--grant-max-dkk must be a whole number of kroner from DKK 1 to"),  # its range
    (["--opens", "2030-03-01", "--closes", "2030-02-01"], "the last day (1 February 2030) comes before the first"),
    (["--closes", "2020-01-01"], "the last day for ideas (1 January 2020) has already passed"),
    (["--grant-max-dkk", "1001"], "--grant-max-dkk (DKK 1,001) is more than the pool's whole budget (DKK 1,000)"),
])
def test_a_bad_intake_option_is_refused_and_creates_no_pool(engine, cli, args, needle):
    result = cli("pool", "create", "Ny pulje", "--budget-dkk", "1000", *args)
    assert result.returncode == 2 and needle in result.stderr, result
    assert cli("pool", "show", "Ny pulje").returncode == 2
