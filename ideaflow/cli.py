"""The `ideaflow` command line: parse, call one service, print.

Exit codes are a contract: 0 success, 1 refused (not allowed, invalid transition, budget, conflict),
2 bad input; failures print one line on stderr, naming the field by its flag (`--amount-dkk`), in
English or, with IDEAFLOW_LANG=da, in Danish. Prefect is imported only by commands that run flows.
"""

from __future__ import annotations

import json
import re
import sys
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from states import formatting as fmt
from states.errors import BadInput, IdeaflowError, Refused
from states.messages import render
from states.text import whole_number, written_number
from states.vocabulary import (
    GRANTABLE_ROLES,
    MAX_DEADLINE_DAYS,
    MAX_REMINDER_DAYS,
    OPERATOR_EMAIL,
    Decision,
    Gate,
    Language,
    Outcome,
    Role,
    Stage,
)

if TYPE_CHECKING:
    from ideaflow.bootstrap import Container

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False,
                  no_args_is_help=True, help="Workflow engine for municipal innovation pools.")
pool_app = typer.Typer(help="Innovation pools: budgets and criteria.", no_args_is_help=True)
person_app = typer.Typer(help="Coordinators, reviewers, proposers and followers.", no_args_is_help=True)
app.add_typer(pool_app, name="pool")
app.add_typer(person_app, name="person")

# Piped output is not squeezed into 80 columns: tables stay readable in logs and CI.
# No markup: what is printed holds what people typed (see ideaflow/render.py); emphasis is a Text style.
out = Console(markup=False, highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
By = Annotated[str, typer.Option("--by", help="Email of the person acting.")]
Operator = Annotated[str, typer.Option("--by", help="Email of the administrator acting (default: the command "
                                                    "line's operator, named as such in the record).")]
# The public intake of a pool (pool create, pool intake).
Opens = Annotated[str | None, typer.Option(
    "--opens", help="When the pool starts taking ideas: a date (from its start) or an ISO time; none: always.")]
Closes = Annotated[str | None, typer.Option(
    "--closes", help="When it stops: a date (taking ideas all that day) or an ISO time; none: never.")]
PublicDescription = Annotated[str | None, typer.Option(
    "--description", help="What the pool funds, in plain words, for the public form.")]
CriteriaText = Annotated[str | None, typer.Option("--criteria-text", help="Its criteria in plain words.")]
GrantMin = Annotated[str | None, typer.Option("--grant-min-dkk", help="Smallest amount it gives (kroner; none).")]
GrantMax = Annotated[str | None, typer.Option("--grant-max-dkk", help="Largest amount it gives (kroner; none).")]


def _kroner(field: str):
    """The parser of an amount option: whole kroner as people write them (250000, 250.000, 250,000).
    Typer's own int would read 250.000 as 250 (a float with no fraction) and 12.50 not at all."""
    def parse(value: str) -> int:
        number = written_number(value)
        if number is None:
            raise BadInput("input.not_kroner", field=field, value=value)
        return number
    return parse


def Kroner(name: str, help: str) -> typer.models.OptionInfo:  # noqa: N802, A002 (reads like the other Options)
    return typer.Option(name, help=help, parser=_kroner(name.removeprefix("--").replace("-", "_")), metavar="KRONER")


class _Invocation:
    """One run of `main`: its application (ideaflow.bootstrap), built on first use, so that a command
    builds only the parts it needs (`show` no mail machinery), and closed when the run ends."""

    def __init__(self) -> None:
        self.app: Container | None = None

    def close(self) -> None:
        if self.app is not None:
            self.app.close()


_invocation: ContextVar[_Invocation] = ContextVar("ideaflow_invocation")


def _app() -> Container:
    invocation = _invocation.get()  # set by main()
    if invocation.app is None:
        from ideaflow import config
        from ideaflow.bootstrap import bootstrap

        invocation.app = bootstrap()  # a setting it cannot use is one line in _run
        for warning in config.warnings(invocation.app.settings, config.environment_names()):
            sys.stderr.write(f"ideaflow: {warning}\n")
    return invocation.app


def _services():
    return _app().services


def _now(value: str | None = None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput("input.not_a_time", field="now", value=value) from None
    if parsed.tzinfo is None:
        from states.model import COPENHAGEN

        parsed = parsed.replace(tzinfo=COPENHAGEN)
    return parsed.astimezone(UTC)


#: How far ahead of this machine's clock a --now may be: a moment typed to the minute, a clock a little behind.
NOW_TOLERANCE = timedelta(minutes=1)


def _replayed(value: str | None) -> datetime:
    """The moment of `--now` for a sweep, digest or flush: the clock's, or one that has passed (a replay).
    What they fire and send is recorded at that moment; a later one would date the record ahead of
    time, and fire deadlines, send reminders and mark digests sent before they are due."""
    moment = _now(value)
    if value is not None and moment > datetime.now(UTC) + NOW_TOLERANCE:
        raise BadInput("input.in_the_future", field="now", value=value)
    return moment


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput("input.not_a_date", field=field, value=value) from None


def _pairs(values: list[str], field: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, answer = value.rpartition("=")  # the answer has no "=", a criterion's name may ("a=b=4")
        if not sep or not name:
            raise BadInput("input.not_a_pair", field=field, value=value)
        if name.casefold() in (named.casefold() for named in pairs):  # criteria are named in any case
            raise BadInput("input.pair_twice", field=field, criterion=name)
        pairs[name] = answer
    return pairs


def _scores(values: list[str]) -> dict[str, int]:
    scores = {}
    for name, answer in _pairs(values, "scores").items():
        score = whole_number(answer.strip())
        if score is None:
            raise BadInput("input.not_a_score", field="scores", criterion=name, value=answer)
        scores[name] = score
    return scores


def _must(values: list[str]) -> dict[str, bool]:
    answers = {"yes": True, "ja": True, "no": False, "nej": False}
    must = {}
    for name, answer in _pairs(values, "must_meet").items():
        if answer.lower() not in answers:
            raise BadInput("input.not_yes_no", field="must_meet", criterion=name, value=answer)
        must[name] = answers[answer.lower()]
    return must


def _print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")


# -- setup -------------------------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create or upgrade the database; safe to repeat."""
    container = _app()
    revision = container.upgrade_database()
    out.print(f"database ready: {container.database_shown} (schema {revision})")


@pool_app.command("create")
def pool_create(
    name: str,
    budget_dkk: Annotated[int, Kroner("--budget-dkk", help="Budget in whole kroner.")],
    year: Annotated[int | None, typer.Option(help="Budget year (default: this year).")] = None,
    criteria: Annotated[Path | None, typer.Option(help="YAML or JSON file replacing the Tårnby criteria.")] = None,
    screening_days: Annotated[int, typer.Option(min=1, max=MAX_DEADLINE_DAYS)] = 30,
    funding_days: Annotated[int, typer.Option(min=1, max=MAX_DEADLINE_DAYS)] = 45,
    evaluation_days: Annotated[int, typer.Option(min=1, max=MAX_DEADLINE_DAYS)] = 30,
    reminder_days: Annotated[int, typer.Option(min=0, max=MAX_REMINDER_DAYS)] = 5,
    lapse_unscreened: Annotated[bool, typer.Option(help="Let ideas lapse when the screening deadline passes.")] = False,
    by: Operator = OPERATOR_EMAIL,
    opens: Opens = None,
    closes: Closes = None,
    description: PublicDescription = None,
    criteria_text: CriteriaText = None,
    grant_min_dkk: GrantMin = None,
    grant_max_dkk: GrantMax = None,
) -> None:
    """Create an innovation pool (open for ideas at once, unless --opens says from when)."""
    from states.criteria import TAARNBY_CRITERIA
    from states.intake import PoolIntake
    from states.model import GatePolicy
    from states.vocabulary import DeadlinePolicy

    now = _now()
    policy = GatePolicy(screening_days, funding_days, evaluation_days, reminder_days,
                        DeadlinePolicy.LAPSE if lapse_unscreened else DeadlinePolicy.ESCALATE)
    chosen = _read_criteria(criteria) if criteria else TAARNBY_CRITERIA
    changes = _intake_changes(opens, closes, description, criteria_text, grant_min_dkk, grant_max_dkk)
    # refused before the pool is created, so a bad option creates nothing
    PoolIntake(**changes).check_change(PoolIntake(), budget_dkk, now)
    pool = _services().create_pool(name, budget_dkk, year or now.year, now, chosen, policy, by=by)
    if changes:
        _intake().set_intake(name, now, by=by, **changes)
    out.print(f"pool {pool.name!r} created: budget {fmt.dkk(pool.budget_dkk)}, {len(pool.criteria)} criteria")


@pool_app.command("intake")
def pool_intake(
    name: str,
    opens: Opens = None,
    closes: Closes = None,
    description: PublicDescription = None,
    criteria_text: CriteriaText = None,
    grant_min_dkk: GrantMin = None,
    grant_max_dkk: GrantMax = None,
    by: Annotated[str, typer.Option("--by", help="Email of the administrator or the pool's coordinator acting "
                                                 "(default: the command line's operator).")] = OPERATOR_EMAIL,
) -> None:
    """Set when a pool takes ideas on the public form and what the form says about it.

    Options not given keep their value; `none` clears a date or amount.
    """
    _intake().set_intake(name, _now(), by=by, **_intake_changes(opens, closes, description, criteria_text,
                                                                 grant_min_dkk, grant_max_dkk))
    _print_intake(_app().views.pool(name))


def _intake():
    return _app().intake


def _intake_changes(opens: str | None, closes: str | None, description: str | None, criteria_text: str | None,
                    grant_min: str | None, grant_max: str | None) -> dict:
    """The intake settings given on the command line (dates, times, `none`), as PoolIntake fields."""
    from datetime import timedelta

    from states.model import local_midnight
    from states.vocabulary import COPENHAGEN

    def moment(value: str, field: str, day_ends: bool):
        if value.lower() == "none":
            return None
        if len(value) == 10:
            day = _day(value, field)
            return local_midnight(day + timedelta(days=1)) if day_ends else local_midnight(day)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BadInput("input.not_a_moment", field=field, value=value) from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=COPENHAGEN)).astimezone(UTC)

    def amount(value: str, field: str):
        if value.lower() == "none":
            return None
        number = written_number(value)  # the domain refuses an amount out of range
        if number is None:
            raise BadInput("input.not_an_amount", field=field, value=value)
        return number

    changes: dict = {}
    if opens is not None:
        changes["opens_at"] = moment(opens, "opens", day_ends=False)
    if closes is not None:
        changes["closes_at"] = moment(closes, "closes", day_ends=True)
    if description is not None:
        changes["description"] = description
    if criteria_text is not None:
        changes["criteria_text"] = criteria_text
    if grant_min is not None:
        changes["grant_min_dkk"] = amount(grant_min, "grant_min_dkk")
    if grant_max is not None:
        changes["grant_max_dkk"] = amount(grant_max, "grant_max_dkk")
    return changes


def _print_intake(view) -> None:
    intake = view.intake
    window = {"open": "open for ideas", "not_yet_open": "not open for ideas yet", "closed": "closed for ideas"}
    out.print(f"{view.name}: {window[intake.status]}"
              + (f"; opens {fmt.moment(intake.opens_at)}" if intake.opens_at else "")
              + (f"; closes {fmt.moment(intake.closes_at)}" if intake.closes_at else ""))
    low, high = intake.grant_min_dkk, intake.grant_max_dkk
    if low or high:
        out.print("grants " + (f"{fmt.dkk(low)} – {fmt.dkk(high)}" if low and high
                               else f"from {fmt.dkk(low)}" if low else f"up to {fmt.dkk(high)}"))
    if intake.description:
        out.print(intake.description)
    if intake.criteria_text:
        out.print(intake.criteria_text)


def _read_criteria(path: Path):
    import yaml

    from states.criteria import criteria_from_document

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadInput("criteria.unreadable", field="criteria", path=str(path), reason=error.strerror) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise BadInput("criteria.unparsable", field="criteria", path=str(path),
                       reason=str(error).splitlines()[0]) from None
    return criteria_from_document(document)


@pool_app.command("criteria")
def pool_criteria(
    name: str,
    criteria: Annotated[Path, typer.Option(help="YAML or JSON file with the pool's criteria (as for pool create).")],
    by: Operator = OPERATOR_EMAIL,
) -> None:
    """Replace a pool's criteria (an administrator's task); once ideas of the pool are reviewed or
    evaluated, only the descriptions may change."""
    chosen = _read_criteria(criteria)
    app = _app()
    changed = app.administration.set_criteria(app.views.pool(name).id, chosen, _now(), by=by)
    out.print(f"pool {name!r}: " + (f"{len(chosen)} criteria" if changed else "criteria unchanged"))


@pool_app.command("list")
def pool_list(as_json: Json = False) -> None:
    """List every pool with its year, budget, allocated and left; `pool show NAME` shows one whole."""
    lines = _app().administration.pools(OPERATOR_EMAIL, _now())
    if as_json:
        _print_json([line.model_dump(mode="json") for line in lines])
        return
    table = Table("pool", "year", "budget", "allocated", "left")
    for line in lines:
        table.add_row(line.name, str(line.year), fmt.dkk(line.budget_dkk), fmt.dkk(line.allocated_dkk),
                      fmt.dkk(line.remaining_dkk))
    out.print(table)


@pool_app.command("show")
def pool_show(name: str, as_json: Json = False) -> None:
    """Show a pool's budget, grants (allocated and released back to the pool), criteria and ideas per stage."""
    view = _app().views.pool(name)
    if as_json:
        _print_json(view.model_dump(mode="json"))
        return
    out.print(Text.assemble((view.name, "bold"), f" ({view.year})"))
    out.print(f"budget {fmt.dkk(view.budget_dkk)} · allocated {fmt.dkk(view.allocated_dkk)} · "
              f"released {fmt.dkk(view.released_dkk)} · left {fmt.dkk(view.remaining_dkk)}")
    if view.allocations or view.released:
        grants = Table("idea", "title", "stage", "decided", "released", "amount", title="grants")
        for grant in (*view.allocations, *view.released):
            grants.add_row(str(grant.idea_id), grant.title, grant.stage, fmt.moment(grant.at),
                           fmt.moment(grant.released_at) if grant.released_at else "", fmt.dkk(grant.amount_dkk))
        out.print(grants)
    table = Table("criterion", "weight", "must-meet", "description")
    for c in view.criteria:
        table.add_row(c.name, fmt.score(c.weight), "yes" if c.must_meet else "", c.description)
    out.print(table)
    out.print("ideas: " + ", ".join(f"{stage} {n}" for stage, n in view.ideas_by_stage.items() if n) or "ideas: none")
    _print_intake(view)


@person_app.command("add")
def person_add(
    email: str,
    name: Annotated[str, typer.Option("--name")],
    role: Annotated[Role, typer.Option("--role")],
    lang: Annotated[Language, typer.Option("--lang")] = Language.DA,
    by: Operator = OPERATOR_EMAIL,
) -> None:
    """Register a person; a coordinator, reviewer or administrator role is granted on every pool."""
    person = _services().add_person(email, name, role, _now(), lang, by=by)
    scope = " on every pool" if role in GRANTABLE_ROLES else ""
    out.print(f"added {person.name} <{person.email}> as {role}{scope}")


PoolOption = Annotated[str | None, typer.Option("--pool", help="The pool (default: every pool).")]
#: The roles a grant gives (proposers and followers are what they do, the operator is the command line).
GrantedRole = StrEnum("GrantedRole", {role.name: role.value for role in GRANTABLE_ROLES})
GrantedRoleOption = Annotated[GrantedRole, typer.Option("--role")]


@person_app.command("grant")
def person_grant(email: str, role: GrantedRoleOption, pool: PoolOption = None,
                 by: Operator = OPERATOR_EMAIL) -> None:
    """Grant a role (administrator, coordinator, reviewer) on one pool or on every pool."""
    changed = _services().grant_role(email, Role(role), _now(), pool=pool, by=by)
    where = f"pool {pool!r}" if pool else "every pool"
    out.print(f"{email}: {role} on {where}" + ("" if changed else " (already held)"))


@person_app.command("revoke")
def person_revoke(email: str, role: GrantedRoleOption, pool: PoolOption = None,
                  by: Operator = OPERATOR_EMAIL) -> None:
    """Revoke a role on one pool, or the grant on every pool."""
    where = f"pool {pool!r}" if pool else "every pool"
    if not _services().revoke_role(email, Role(role), _now(), pool=pool, by=by):
        if pool:
            raise Refused("role.not_held", field="role", email=email, role=role, pool=pool)
        raise Refused("role.not_held_everywhere", field="role", email=email, role=role)
    out.print(f"{email}: {role} on {where} revoked")


@person_app.command("forget")
def person_forget(email: str, by: Operator = OPERATOR_EMAIL) -> None:
    """Replace a person's name and address everywhere by a pseudonym; history and decisions stay."""
    pseudonym = _services().forget_person(email, _now(), by=by)
    out.print(f"{email} is now {pseudonym}")


class Switch(StrEnum):
    ON = "on"
    OFF = "off"


@person_app.command("digest")
def person_digest(email: str, state: Annotated[Switch, typer.Argument(help="on: send it; off: stop it.")]) -> None:
    """Send (on) or stop (off) a person's weekly digest; other mail is not affected."""
    _services().set_digest_opt_out(email, state == Switch.OFF, _now())
    out.print(f"weekly digest for {email}: {state.value}")


# -- the lifecycle -----------------------------------------------------------------------------------


@app.command()
def submit(
    title: Annotated[str, typer.Option("--title")],
    description: Annotated[str, typer.Option("--description")],
    proposer: Annotated[str, typer.Option("--proposer", help="Email of the citizen or employee.")],
    pool: Annotated[str, typer.Option("--pool")],
    requested_dkk: Annotated[int | None, Kroner("--requested-dkk", help="The amount asked for (kroner).")] = None,
    department: Annotated[list[str] | None, typer.Option("--department")] = None,
    as_json: Json = False,
) -> None:
    """Submit an idea; prints its id."""
    idea_id = _services().submit(title=title, description=description, proposer=proposer, pool=pool, now=_now(),
                                 requested_dkk=requested_dkk, departments=tuple(department or ()))
    if as_json:
        _print_json({"id": idea_id, "title": title, "stage": Stage.SUBMITTED.value, "pool": pool})
    else:
        sys.stdout.write(f"{idea_id}\n")


@app.command()
def review(
    idea: int,
    by: By,
    score: Annotated[list[str] | None, typer.Option("--score", help="CRITERION=1..5, repeatable.")] = None,
    must: Annotated[list[str] | None, typer.Option("--must", help="CRITERION=yes|no for must-meet criteria.")] = None,
    comment: Annotated[str, typer.Option("--comment")] = "",
    draft: Annotated[bool, typer.Option("--draft", help="Save it unfinished; it counts once submitted.")] = False,
    gate: Annotated[Gate | None, typer.Option(
        "--gate", help="Refuse unless this gate is the one open (the review was written for it).")] = None,
    round_: Annotated[int | None, typer.Option(
        "--round", min=1, help="Refuse unless the gate is in this round (a recycle starts a new one).")] = None,
) -> None:
    """Review an idea at its open screening or funding gate; a second review before the decision revises it."""
    done = _services().review(idea, by, _scores(score or []), _now(), _must(must or []), comment, draft=draft,
                              at_gate=gate, at_round=round_)
    if draft:
        out.print(f"draft review saved for idea {idea} (version {done.version}); it counts once submitted")
    else:
        out.print(f"review submitted for idea {idea} (version {done.version}): "
                  f"weighted score {fmt.score(done.weighted_score)}")


@app.command()
def decide(
    idea: int,
    decision: Decision,
    by: By,
    amount_dkk: Annotated[int | None, Kroner(
        "--amount-dkk", help="Allocation for a funding go, in whole kroner (default: the amount asked for).")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    gate: Annotated[Gate | None, typer.Option("--gate", help="Refuse unless this gate is the one open.")] = None,
) -> None:
    """Decide the idea's open gate: go, kill, hold or recycle."""
    result = _services().decide(idea, decision, by, _now(), amount_dkk, reason, at_gate=gate)
    extra = f", {fmt.dkk(result.allocated_dkk)} allocated" if amount_dkk or result.stage == Stage.FUNDED else ""
    out.print(f"idea {idea}: {decision} → {result.stage}{extra}")


@app.command()
def assign(
    idea: int,
    by: By,
    reviewer: Annotated[list[str] | None, typer.Option("--reviewer", help="Reviewer's email, repeatable.")] = None,
) -> None:
    """Ask reviewers (default: every reviewer) to review the idea at its open gate; nobody is asked twice."""
    asked = _services().assign_reviewers(idea, by, _now(), tuple(reviewer or ()))
    out.print(f"idea {idea}: asked {', '.join(p.email for p in asked)}" if asked
              else f"idea {idea}: every one of them was already asked")


@app.command()
def pilot(
    idea: int,
    start: Annotated[str, typer.Option("--start", help="YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--end", help="YYYY-MM-DD")],
    site: Annotated[list[str], typer.Option("--site", help="Test site, repeatable.")],
    follower: Annotated[list[str] | None, typer.Option(
        "--follower", help="Follow-up group member's email, repeatable. Without it a re-plan keeps the group "
                           "as it is; --no-followers empties it.")] = None,
    measure: Annotated[list[str] | None, typer.Option(
        "--measure", help="What the pilot is evaluated on, repeatable. Without it a re-plan keeps the measures; "
                          "--no-measures removes them.")] = None,
    no_followers: Annotated[bool, typer.Option("--no-followers", help="Empty the follow-up group.")] = False,
    no_measures: Annotated[bool, typer.Option("--no-measures", help="Remove every measure.")] = False,
    by: Annotated[str, typer.Option("--by", help="Coordinator planning the pilot (default: the command line's "
                                                 "operator, named as such in the record).")] = OPERATOR_EMAIL,
) -> None:
    """Plan a funded idea's pilot, or change a running one; it starts piloting when the start date arrives (sweep).

    A re-plan keeps the follow-up group and the measures unless --follower/--measure (or --no-followers,
    --no-measures) name new ones; the first plan has none unless named."""
    for named, emptied, field, option in ((follower, no_followers, "followers", "follower"),
                                          (measure, no_measures, "measures", "measure")):
        if named and emptied:
            raise BadInput("input.both_ways", field=field, option=f"--{option}", flag=f"--no-{field}")
    followers = () if no_followers else tuple(follower) if follower else None
    measures = () if no_measures else tuple(measure) if measure else None
    result = _services().plan_pilot(idea, start=_day(start, "start"), end=_day(end, "end"), sites=tuple(site),
                                    now=_now(), followers=followers, measures=measures, by=by)
    # The plan as it stands now, whether first made or changed.
    plan = result.pilot
    group = len(plan.followers)
    out.print(f"idea {idea}: pilot {fmt.day(plan.start)} – {fmt.day(plan.end)} at {', '.join(plan.sites)}; "
              f"follow-up group of {group} {'person' if group == 1 else 'people'}; "
              + (f"measures: {'; '.join(plan.measures)}" if plan.measures else "no measures"))


@app.command()
def evaluate(
    idea: int,
    by: By,
    score: Annotated[list[str], typer.Option("--score", help="CRITERION=1..5 for every criterion.")],
    outcome: Annotated[Outcome, typer.Option("--outcome")],
    comment: Annotated[str, typer.Option("--comment")] = "",
) -> None:
    """Record a pilot's evaluation and its outcome."""
    result = _services().evaluate(idea, by, _scores(score), outcome, _now(), comment)
    score = fmt.score(result.evaluation.weighted_score)
    out.print(f"idea {idea}: evaluated, outcome {outcome}, weighted score {score}")


@app.command()
def conflict(idea: int, by: By, reason: Annotated[str, typer.Option("--reason")]) -> None:
    """Declare a conflict of interest: BY may then neither review nor decide the idea."""
    _services().declare_conflict(idea, by, reason, _now())
    out.print(f"idea {idea}: conflict of interest recorded for {by}")


@app.command()
def withdraw(idea: int, by: By, reason: Annotated[str, typer.Option("--reason")] = "") -> None:
    """Withdraw your own idea."""
    _services().withdraw(idea, by, _now(), reason)
    out.print(f"idea {idea}: withdrawn")


@app.command()
def revise(
    idea: int,
    by: By,
    title: Annotated[str | None, typer.Option("--title")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    requested_dkk: Annotated[int | None, typer.Option("--requested-dkk")] = None,
    department: Annotated[list[str] | None, typer.Option("--department", help="Replaces the departments; "
                                                                               "repeatable.")] = None,
) -> None:
    """Revise your own idea while it is sent back for revision (until its gate is decided); what is not
    given stays as it is."""
    if title is None and description is None and requested_dkk is None and not department:
        raise BadInput("revise.nothing_given", field="title")
    from states.model import REVISABLE

    changed = _services().revise(idea, by, _now(), title=title, description=description,
                                 **({"requested_dkk": requested_dkk} if requested_dkk is not None else {}),
                                 departments=tuple(department) if department else None)
    out.print(f"idea {idea}: revised ({', '.join(REVISABLE[name] for name in changed)})" if changed
              else f"idea {idea}: nothing changed")


@app.command()
def resume(idea: int, by: By) -> None:
    """Resume an idea on hold, back to the stage it left."""
    result = _services().resume(idea, by, _now())
    out.print(f"idea {idea}: resumed → {result.stage}")


# -- reading ------------------------------------------------------------------------------------------


@app.command("list")
def list_ideas(
    stage: Annotated[Stage | None, typer.Option("--stage")] = None,
    pool: Annotated[str | None, typer.Option("--pool")] = None,
    as_json: Json = False,
) -> None:
    """List ideas, optionally by stage and pool."""
    lines = _app().views.lines(stage=stage, pool=pool)
    if as_json:
        _print_json([line.model_dump(mode="json") for line in lines])
        return
    table = Table("id", "title", "stage", "pool", "deadline", "allocated")
    for line in lines:
        table.add_row(str(line.id), line.title, line.stage, line.pool, fmt.moment(line.deadline),
                      fmt.dkk(line.allocated_dkk) if line.allocated_dkk else "")
    out.print(table)


@app.command()
def show(
    idea: int,
    as_json: Json = False,
    viewer: Annotated[str | None, typer.Option("--as", help="Show what this person may see and do now.")] = None,
) -> None:
    """Show an idea, its reviews, pilot and whole history."""
    view = _app().views.idea(idea, viewer)
    if as_json:
        _print_json(view.model_dump(mode="json", by_alias=True))
        return
    from ideaflow.render import print_idea

    print_idea(out, view)


@app.command()
def sweep(
    now: Annotated[str | None, typer.Option("--now", help="ISO-8601 moment to sweep for (not a later one than "
                                                          "now).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="Timers per transaction.")] = 500,
) -> None:
    """Fire every due timer once, then delete unconfirmed submissions that expired; prints what it did."""
    moment = _replayed(now)
    report = _services().sweep(moment, batch_size)
    for fired in report.fired:
        out.print(f"idea {fired.idea_id}: {fired.kind}: {fired.outcome}")
    out.print(report.summary())
    expired = _intake().expire_submissions(moment, batch_size)
    if expired:
        out.print(f"{expired} unconfirmed submission(s) expired and deleted")


@app.command()
def digest(
    now: Annotated[str | None, typer.Option("--now", help="ISO-8601 moment to build digests for (not a later one "
                                                          "than now).")] = None,
) -> None:
    """Build and queue the weekly digests that are due."""
    out.print(_services().queue_digests(_replayed(now), _app().digest_cadence).summary())


@app.command()
def outbox(
    flush: Annotated[bool, typer.Option(
        "--flush", help="Deliver the pending mail now, also mail waiting to retry after a failure.")] = False,
    resend_failed: Annotated[bool, typer.Option(
        "--resend-failed", help="Put the mail that failed for good back to be sent, its attempts reset "
        "(an administrator's; not sign-in links or confirmations, whose one-time link is gone). "
        "With --flush it is sent at once.")] = False,
    now: Annotated[str | None, typer.Option("--now", help="ISO-8601 moment to flush for (not a later one than "
                                                          "now).")] = None,
) -> None:
    """Show pending and failed mail; --flush delivers it (SMTP if IDEAFLOW_SMTP_HOST is set, else .eml
    files), --resend-failed sends failed mail again."""
    moment = _replayed(now)
    if resend_failed:
        out.print(_services().resend_failed(moment).summary())
    if flush:
        report = _services().flush_outbox(moment, _app().mail_transport(), _app().letterhead,
                                          retry_deferred=True)
        for failure in report.failed:
            out.print(f"failed: {failure}")
        if not report.ok:
            raise Refused("delivery.failed", summary=report.summary())
        out.print(report.summary())
        return
    if resend_failed:
        return
    lines = _app().administration.outbox(OPERATOR_EMAIL, moment)
    table = Table("id", "kind", "recipient", "idea", "status", "attempts", "next attempt", "last error")
    for line in lines:
        next_attempt = fmt.moment(line.next_attempt_at) if line.status == "pending" else "–"  # none for failed mail
        table.add_row(str(line.id), line.kind, line.recipient, str(line.idea_id or ""), line.status,
                      str(line.attempts), next_attempt, line.last_error or "")
    out.print(table)
    out.print(f"{sum(line.status == 'pending' for line in lines)} pending, "
              f"{sum(line.status == 'failed' for line in lines)} failed")


HostOption = Annotated[str | None, typer.Option(
    "--host", help="Address the web console listens on (default IDEAFLOW_WEB_HOST, 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option(
    "--port", min=0, max=65535, help="Port of the web console (default IDEAFLOW_WEB_PORT, 8000; 0: any free port).")]


@app.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Run the web console and the scheduled flows (sweep, digest, outbox) until Ctrl-C or SIGTERM.

    Uses the Prefect server in PREFECT_API_URL, or starts one on 127.0.0.1 (IDEAFLOW_PREFECT_PORT).
    """
    from ideaflow.serve import serve_until_stopped
    from web.server import ConsoleDidNotStart
    from workflows.local_server import ServerDidNotStart

    container = _console(host, port)
    s = container.settings
    try:
        serve_until_stopped(container, s.web_host, s.web_port, out.print)
    except (ServerDidNotStart, ConsoleDidNotStart) as error:
        raise Refused("server.not_started", detail=str(error)) from None


@app.command()
def web(host: HostOption = None, port: PortOption = None) -> None:
    """Run the web console alone until stopped (Ctrl-C or SIGTERM)."""
    from web.app import create_app
    from web.server import run

    container = _console(host, port)
    s = container.settings
    run(create_app(container), s.web_host, s.web_port, lambda line: print(line, flush=True))


def _console(host: str | None, port: int | None) -> Container:
    """The application for a web console on --host/--port (else the settings'), checked before it starts."""
    container = _app()
    s = container.settings
    container.settings = s.for_console(host or s.web_host, s.web_port if port is None else port)
    container.check_mail()
    for warning in container.privacy_warnings():  # the public pages show a placeholder meanwhile
        sys.stderr.write(f"ideaflow: {warning}\n")
    sys.stderr.flush()
    return container


@app.command("signin-link")
def signin_link(
    email: Annotated[str, typer.Argument(help="The person's e-mail address.")],
    next_page: Annotated[str, typer.Option("--next", help="The console page to open after signing in.")] = "/home",
) -> None:
    """Mail EMAIL a link that signs them in to the web console (as /login does), and print it.

    The link works once, for IDEAFLOW_SIGNIN_LINK_MINUTES (15), and leads to IDEAFLOW_PUBLIC_URL.
    """
    from states.errors import NotFound

    container = _app()
    now = _now()
    request = container.signin.request_link(email, "command line", now, next_page, rate_limited=False)
    if request.link is None:
        raise NotFound("person.unknown", field="email", email=email)
    container.signin.deliver(request, now)
    minutes = container.settings.signin_link_minutes
    # One line, the link last and unwrapped, so a script takes the last word.
    print(f"sign-in link for {email} (works once, within {minutes} minutes): {request.link}", flush=True)


@app.command()
def demo() -> None:
    """Run a sample portfolio of real Danish cases through the whole lifecycle."""
    from ideaflow.demo import run_demo
    from workflows.local_server import ServerDidNotStart

    try:
        run_demo(out, _app())
    except ServerDidNotStart as error:
        raise Refused("server.not_started", detail=str(error)) from None


# -- entry point -------------------------------------------------------------------------------------


def _fail(code: int, message: str) -> NoReturn:
    sys.stderr.write(f"ideaflow: {message}\n")
    raise SystemExit(code)


#: The flag or argument of each field a service names in an error, where it is not `--field-name`.
FLAGS = {"pool_name": "NAME", "email": "EMAIL", "idea": "IDEA", "scores": "--score", "must_meet": "--must",
         "sites": "--site", "measures": "--measure", "followers": "--follower", "reviewers": "--reviewer",
         "departments": "--department", "request_id": "--request-id"}


def flag(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def _message(error: IdeaflowError) -> str:
    """The error in the command line's language (IDEAFLOW_LANG; English unless it says da)."""
    from pydantic import ValidationError

    from ideaflow.config import Settings

    app = _invocation.get().app
    try:
        lang = (app.settings if app is not None else Settings()).lang
    except ValidationError:  # said when the command builds its application; English meanwhile
        lang = Language.EN
    return render(error, lang, flag)


@cache
def _click_command() -> typer.core.TyperGroup:
    """Typer builds the click command from the signatures (~70 ms); once per process is enough."""
    return typer.main.get_command(app)


def _run(argv: list[str] | None) -> None:
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ideaflow.config import explain

    command = _click_command()
    try:
        code = command.main(args=argv, prog_name="ideaflow", standalone_mode=False)
    except BadInput as error:
        _fail(2, f"bad input: {_message(error)}")
    except Refused as error:
        _fail(1, f"refused: {_message(error)}")
    except IdeaflowError as error:
        _fail(1, _message(error))
    except ValidationError as error:
        if error.title != "Settings":  # not the IDEAFLOW_* settings: a defect, with its traceback
            raise
        _fail(2, f"bad setting: {explain(error)}")
    except typer.Exit as done:
        raise SystemExit(done.exit_code) from None
    except typer.Abort:
        _fail(1, "aborted")
    except typer.TyperException as error:
        message = error.format_message()
        if "\n" in message.strip():  # a bare command group answers with its help
            sys.stderr.write(message)
            raise SystemExit(2) from None
        # Typer validates choices with pydantic, whose "Value error, " adds nothing for a reader.
        _fail(2, f"bad input: {message.replace('Value error, ', '')}")
    except (OperationalError, ProgrammingError) as error:
        detail = str(error.orig).splitlines()[0]
        if missing := re.search(r'FATAL: +database "(.+)" does not exist', detail):  # the server has no such database
            _fail(1, f"the database {missing[1]!r} does not exist: create it (createdb {missing[1]}, or CREATE "
                     "DATABASE in psql), then run 'ideaflow init'")
        if "no such table" in detail or "does not exist" in detail:
            _fail(1, "the database has no ideaflow tables yet; run 'ideaflow init' first")
        _fail(1, f"database error: {detail}")
    if isinstance(code, int) and code:
        raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """The console script. Each call builds its own application from the IDEAFLOW_* settings of the
    moment, so calls in one process (tests, racing workers) share nothing but a database's engine."""
    invocation = _Invocation()
    token = _invocation.set(invocation)
    try:
        _run(argv)
    finally:
        _invocation.reset(token)
        invocation.close()
