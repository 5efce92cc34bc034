"""The coordinator's portfolio: the ideas of the pools a person coordinates (every pool for an
administrator), filtered, counted per stage, sorted and paged in SQL, exported, and walked through
one idea at a time (previous and next within the filtered list).

A filter is a plain value (`PortfolioFilter`) that round-trips through a URL's query, so the web
keeps it in the address bar, the idea page gets it back from the portfolio's links (`?from=…`), and
an export or a neighbour lookup sees exactly the list the coordinator saw. A link to an idea also
carries its place in that list (`place`: its sort value as the list showed it), so previous and next
are the ideas it stood between, also once a decision has moved its deadline or taken it out of the
filter. Who sees which pools is `states.rules`' answer (`coordinates`, `may_administer`), asked here
once per call; the pools then become one `pool_id IN (…)` condition, so a coordinator of pool A never
sees a pool B idea, whatever the URL says.

Everything is one read-only unit of work per call and a bounded number of queries: the page's
counts per stage (a few rows of the counts the database keeps per pool and stage, or with a filter one
GROUP BY over the matching ideas; either also gives the total), its
rows (ORDER BY … LIMIT/OFFSET), and the page's ideas at an open review gate loaded in one batch, so
the domain counts their reviewers asked and answered as the idea page does.
That keeps the first page of 100,000 ideas a few milliseconds of database work (benchmarks/).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from ideaflow import audit
from states import alphabet
from states.errors import NotAllowed
from states.model import GATE_OF_STAGE, STAGE_OF_GATE, Person, open_gate
from states.reviews import asked, done
from states.rules import coordinates, may_administer
from states.text import whole_number
from states.vocabulary import COPENHAGEN, Gate, Role, Stage
from storage.db import CASEFOLD, DANISH
from storage.tables import (
    ConflictRow,
    IdeaRow,
    IdeaStageCountRow,
    PersonRow,
    ReviewAssignmentRow,
    RoleGrantRow,
)
from storage.unit_of_work import UnitOfWork

PER_PAGE = 25
MAX_TEXT = 200
#: What the list may be sorted by (a leading "-" in the query sorts descending); missing values last.
SORTS = ("deadline", "submitted", "title", "requested", "id")
#: The review gate open in each stage, in SQL (the evaluation gate is `evaluation_open`'s).
_REVIEW_GATE = case(*((IdeaRow.stage == stage.value, gate.value) for stage, gate in GATE_OF_STAGE.items()),
                    else_=None)


@dataclass(frozen=True, slots=True)
class PortfolioFilter:
    """What the coordinator asked to see: filters, sort order and page, as kept in the URL's query.

    Parsing is lenient: an unknown or malformed value is dropped (the list shows more, never an
    error page for a hand-edited address); the pools a person may see are enforced apart from it.
    """

    pool: int | None = None
    stage: Stage | None = None
    gate: Gate | None = None
    overdue: bool = False
    reviewer: int | None = None
    department: str = ""
    text: str = ""
    sort: str = "deadline"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> PortfolioFilter:
        sort = query.get("sort", "")
        return cls(
            pool=_whole(query.get("pool")),
            stage=Stage(query["stage"]) if query.get("stage") in Stage._value2member_map_ else None,
            gate=Gate(query["gate"]) if query.get("gate") in Gate._value2member_map_ else None,
            overdue=query.get("overdue") in ("1", "yes", "on", "true"),
            reviewer=_whole(query.get("reviewer")),
            department=_clean(query.get("department", "")),
            text=_clean(query.get("text", "")),
            sort=sort.removeprefix("-") if sort.removeprefix("-") in SORTS else "deadline",
            descending=sort.startswith("-") and sort.removeprefix("-") in SORTS,
            page=max(_whole(query.get("page")) or 1, 1),
        )

    def query(self, *, page: bool = True) -> list[tuple[str, str]]:
        """The filter as query pairs, only what differs from the defaults (short, readable URLs)."""
        pairs = [("pool", self.pool), ("stage", self.stage), ("gate", self.gate),
                 ("overdue", "1" if self.overdue else None),
                 ("reviewer", self.reviewer), ("department", self.department or None), ("text", self.text or None),
                 ("sort", self.sort_key if self.sort_key != "deadline" else None),
                 ("page", self.page if page and self.page > 1 else None)]
        return [(name, str(value)) for name, value in pairs if value is not None]

    @property
    def sort_key(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def but(self, **changes: Any) -> PortfolioFilter:
        """This filter with some values changed (and back on the first page unless `page` is given)."""
        return replace(self, **{"page": 1, **changes})


def _whole(value: str | None) -> int | None:
    return whole_number(value, max_digits=11) if value else None


def _clean(value: str) -> str:
    """Typed text as a search term: printable, trimmed, at most MAX_TEXT characters."""
    return "".join(c for c in value if c.isprintable()).strip()[:MAX_TEXT]


@dataclass(frozen=True, slots=True)
class PortfolioLine:
    """One idea as the portfolio lists and exports it. `asked`/`answered`: reviewers asked at the
    open review gate's current round, and how many of them have submitted a review there; None when
    no screening or funding gate is open (the page shows "–", an export an empty cell)."""

    id: int
    title: str
    pool: str
    stage: Stage
    open_gate: Gate | None
    deadline: datetime | None
    overdue: bool
    requested_dkk: int | None
    allocated_dkk: int | None
    departments: tuple[str, ...]
    submitted_at: datetime
    asked: int | None = None
    answered: int | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """An option of a filter: its value in the query and what it is called."""

    value: int
    name: str


@dataclass(frozen=True, slots=True)
class Reviewer:
    """A person who reviews one of the portfolio's pools (to filter by, or to ask)."""

    id: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class PortfolioPage:
    filter: PortfolioFilter
    lines: list[PortfolioLine]
    total: int
    #: Ideas per stage for the filter without its stage (every stage, zeros included, in lifecycle order).
    counts: dict[Stage, int]
    pages: int
    pools: list[Choice]
    reviewers: list[Reviewer]
    #: Whether the viewer coordinates any of these pools, so may ask reviewers (an administrator alone may not).
    may_ask_reviewers: bool = False


@dataclass(frozen=True, slots=True)
class Neighbour:
    id: int
    title: str
    #: Its place in the list (`place`), for the link to it.
    at: str | None


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The ideas before and after one idea in a filtered, sorted portfolio (None at either end)."""

    filter: PortfolioFilter
    previous: Neighbour | None
    next: Neighbour | None


@dataclass
class _Scope:
    """The pools a person sees in their portfolio, and the conditions a filter adds."""

    person: Person
    pools: list[Choice]
    every_pool: bool
    coordinates_any: bool = False
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    #: SQLite, with a filter that reads every idea's text anyway: order and group without an index
    #: (a table scan and a sort took 0.1 s at 100,000 ideas; walking an index with a row lookup per
    #: idea, which SQLite's planner picks when nothing else narrows the search, took 1 s).
    scan: bool = False


class Portfolio:
    """The portfolio read model, bound to one engine (the container's `portfolio`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(self, viewer: str, wanted: PortfolioFilter, now: datetime, *, per_page: int = PER_PAGE) -> PortfolioPage:
        """One page of `viewer`'s portfolio. Refused (and recorded) for a person who coordinates no pool."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            scope = self._scope(uow, viewer, wanted, now)
            counted = dict(uow.session.execute(_counts(scope, wanted)).all())
            counts = {stage: int(counted.get(stage.value, 0)) for stage in Stage}
            total = counts[wanted.stage] if wanted.stage else sum(counts.values())
            pages = max((total + per_page - 1) // per_page, 1)
            shown = replace(wanted, page=min(wanted.page, pages))
            conditions = [*scope.conditions, *([IdeaRow.stage == shown.stage.value] if shown.stage else [])]
            # The page's ids first (an index walk, also deep into the list), then their rows.
            ids = uow.session.scalars(select(IdeaRow.id).where(*conditions).order_by(*_order(shown, scan=scope.scan))
                                      .limit(per_page).offset((shown.page - 1) * per_page)).all()
            found = {row.id: row for row in uow.session.execute(_lines().where(IdeaRow.id.in_(ids)))}
            lines = _with_reviewers(uow, [found[i] for i in ids], scope, now)
            return PortfolioPage(shown, lines, total, counts, pages, scope.pools, _reviewers(uow, scope),
                                 may_ask_reviewers=scope.coordinates_any)

    def lines(self, viewer: str, wanted: PortfolioFilter, now: datetime, *,
              ids: Sequence[int] = ()) -> list[PortfolioLine]:
        """Every idea of the filter in its order (an export), or only those of `ids` among them."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            scope = self._scope(uow, viewer, wanted, now)
            conditions = [*scope.conditions, *([IdeaRow.stage == wanted.stage.value] if wanted.stage else [])]
            if ids:
                conditions.append(IdeaRow.id.in_(list(ids)))
            rows = uow.session.execute(_lines().where(*conditions).order_by(*_order(wanted, scan=scope.scan))).all()
            return _with_reviewers(uow, rows, scope, now)

    def neighbours(self, viewer: str, wanted: PortfolioFilter, idea_id: int, now: datetime, *,
                   at: str | None = None) -> Neighbours | None:
        """The ideas just before and after `idea_id` in the filtered list (the idea itself left out).

        Sought from `at`, the idea's place in the list as the coordinator was shown it (`place`, carried
        by the link): a decision moves the idea's deadline or clears it, and takes it out of a stage's
        list, and its neighbours are still those it stood between. Without `at` (or with one that is not
        a value of the sort), from the idea's sort value now. None when the idea is not in the viewer's
        portfolio at all."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            scope = self._scope(uow, viewer, wanted, now, record_refusal=False)
            if scope is None:
                return None
            expression = _SORT_EXPRESSIONS[wanted.sort]
            pool_only = [] if scope.every_pool else [IdeaRow.pool_id.in_([p.value for p in scope.pools])]
            found = uow.session.execute(select(expression).where(IdeaRow.id == idea_id, *pool_only)).first()
            if found is None:
                return None
            value = _place_value(wanted.sort, at)
            key = (found[0] if value is _NO_PLACE else value, idea_id)
            conditions = [*scope.conditions, *([IdeaRow.stage == wanted.stage.value] if wanted.stage else []),
                          IdeaRow.id != idea_id]  # from its place as shown, it may be found where it is now

            def nearest(after: bool) -> Neighbour | None:
                for beyond, order in _steps(wanted, key, after=after):
                    row = uow.session.execute(select(IdeaRow.id, IdeaRow.title, expression)
                                              .where(*conditions, beyond).order_by(*order).limit(1)).first()
                    if row is not None:
                        return Neighbour(row[0], row[1], _place_text(wanted.sort, row[2]))
                return None

            return Neighbours(wanted, nearest(after=False), nearest(after=True))

    def _scope(self, uow: UnitOfWork, viewer: str, wanted: PortfolioFilter, now: datetime, *,
               record_refusal: bool = True) -> _Scope | None:
        person = uow.people.get(viewer)
        pools = uow.pools.all()
        administers = may_administer(person)
        theirs = [p for p in pools if administers or coordinates(person, p)]
        if not theirs and not administers:  # an administrator's portfolio is every pool's, none at first
            if not record_refusal:
                return None
            refusal = NotAllowed("not_allowed.portfolio", person=person.email)
            audit.record_refusal(self.engine, viewer, "portfolio", None, refusal, now)
            raise refusal
        scope = _Scope(person, [Choice(p.id, p.name) for p in theirs], len(theirs) == len(pools),
                       coordinates_any=any(coordinates(person, p) for p in theirs))
        scope.conditions.extend(_conditions(scope, wanted, now, self.engine.dialect.name))
        scope.scan = self.engine.dialect.name == "sqlite" and bool(wanted.text or wanted.department)
        return scope


# -- the query's parts ----------------------------------------------------------------------------------------


def _conditions(scope: _Scope, wanted: PortfolioFilter, now: datetime, dialect: str) -> list[ColumnElement[bool]]:
    """The filter's conditions except the stage (the counts per stage are taken without it)."""

    def contains(column, term: str) -> ColumnElement[bool]:
        # Case-insensitive: ILIKE; on SQLite, LIKE, which ignores the case of ASCII letters only, so a term
        # with other letters (æ, ø, å) is compared with both sides case-folded (a Python function per row).
        if dialect != "sqlite":
            return column.icontains(term, autoescape=True)
        if term.isascii():
            return column.contains(term, autoescape=True)
        return getattr(func, CASEFOLD)(column).contains(term.casefold(), autoescape=True)

    conditions = _pools(IdeaRow.pool_id, scope, wanted)
    if wanted.gate is not None:
        conditions.append(_gate_open(wanted.gate))
    if wanted.overdue:
        conditions.append(and_(_gate_open(*Gate), IdeaRow.deadline < now))
    if wanted.reviewer is not None:
        conditions.append(_asked(wanted.reviewer))
    if wanted.department:
        # Departments are a JSON list: each of its texts is compared, as the text filter compares a title
        # (the list's own JSON text escapes æ, ø and å, so "u00c6" matched "Ældre" and "ældre" did not).
        each = (func.json_each if dialect == "sqlite" else func.json_array_elements_text)(
            IdeaRow.departments).table_valued("value")
        conditions.append(exists(select(each.c.value).where(contains(each.c.value, wanted.department))))
    if wanted.text:
        term = wanted.text
        matches = [contains(IdeaRow.title, term), contains(IdeaRow.description, term)]
        if (idea_id := whole_number(term, max_digits=11)) is not None:
            matches.append(IdeaRow.id == idea_id)
        conditions.append(or_(*matches))
    return conditions


def _pools(column: ColumnElement[int], scope: _Scope, wanted: PortfolioFilter) -> list[ColumnElement[bool]]:
    """The pool filter, within the pools the person may see."""
    seen = [p.value for p in scope.pools]
    if wanted.pool is not None:
        return [column == wanted.pool if wanted.pool in seen else false()]
    return [] if scope.every_pool else [column.in_(seen)]


def _counts(scope: _Scope, wanted: PortfolioFilter) -> Select:
    """(stage, ideas) for the filter, stage aside. Filtered by pool at most (the first page, and most
    pages), they are read from the counts the database keeps per pool and stage (`idea_stage_counts`):
    a few rows instead of a walk through an index entry per idea; any other filter counts its ideas."""
    if wanted.gate is None and not wanted.overdue and wanted.reviewer is None and not wanted.department \
            and not wanted.text:
        kept = IdeaStageCountRow
        return (select(kept.stage, func.sum(kept.ideas)).where(*_pools(kept.pool_id, scope, wanted))
                .group_by(kept.stage))
    return (select(IdeaRow.stage, func.count()).where(*scope.conditions)
            .group_by(_unindexed(IdeaRow.stage) if scope.scan else IdeaRow.stage))


def _asked(reviewer_id: int) -> ColumnElement[bool]:
    """Ideas whose open screening or funding gate asks this reviewer this round: the domain's rule
    (`states.reviews.asked` and `states.rules.why_not`) said again as a WHERE clause, since the filter pages
    in SQL. Asked by name, or while nobody is, as a reviewer of the idea's pool; never its proposer or
    somebody who declared a conflict. tests/integration/test_portfolio.py holds it to the domain's answer."""
    this_round = (ReviewAssignmentRow.idea_id == IdeaRow.id, ReviewAssignmentRow.round == IdeaRow.gate_round,
                  ReviewAssignmentRow.gate == _REVIEW_GATE)
    reviews_the_pool = exists().where(
        RoleGrantRow.person_id == reviewer_id, RoleGrantRow.role == Role.REVIEWER.value,
        or_(RoleGrantRow.pool_id == IdeaRow.pool_id, RoleGrantRow.pool_id.is_(None)))
    conflicted = exists().where(ConflictRow.idea_id == IdeaRow.id, ConflictRow.person_id == reviewer_id)
    return and_(_gate_open(Gate.SCREENING, Gate.FUNDING), reviews_the_pool, IdeaRow.proposer_id != reviewer_id,
                ~conflicted, or_(exists().where(*this_round, ReviewAssignmentRow.reviewer_id == reviewer_id),
                                 ~exists().where(*this_round)))


def _gate_open(*gates: Gate) -> ColumnElement[bool]:
    """Ideas where one of `gates` is open, written as `stage IN (…)` so the `(stage, deadline)` index
    finds them (an OR of stages made SQLite walk the whole table)."""
    stages = [STAGE_OF_GATE[gate].value for gate in gates]
    condition = IdeaRow.stage.in_(stages)
    if Gate.EVALUATION in gates:  # a pilot's evaluation gate opens once the pilot has ended
        condition = and_(condition, or_(IdeaRow.stage != Stage.PILOTING.value, IdeaRow.evaluation_open))
    return condition


def _lines():
    """The columns of a line (the pool's name comes from the scope: a join would keep SQLite from
    walking the sort order's index)."""
    return select(IdeaRow.id, IdeaRow.title, IdeaRow.pool_id, IdeaRow.stage, IdeaRow.evaluation_open,
                  IdeaRow.deadline, IdeaRow.requested_dkk, IdeaRow.allocated_dkk, IdeaRow.departments,
                  IdeaRow.created_at, IdeaRow.gate_round)


def _line(row, pools: dict[int, str], now: datetime) -> PortfolioLine:
    stage = Stage(row.stage)
    gate = open_gate(stage, row.evaluation_open)
    return PortfolioLine(
        id=row.id, title=row.title, pool=pools[row.pool_id], stage=stage, open_gate=gate, deadline=row.deadline,
        overdue=gate is not None and row.deadline is not None and row.deadline < now,
        requested_dkk=row.requested_dkk, allocated_dkk=row.allocated_dkk, departments=tuple(row.departments or ()),
        submitted_at=row.created_at,
    )


def _with_reviewers(uow: UnitOfWork, rows: Sequence[Any], scope: _Scope, now: datetime) -> list[PortfolioLine]:
    """The lines, with the reviewers asked at the open screening or funding gate's current round and how
    many of them answered, counted by the domain (`states.reviews.asked` and `done`) as the inbox and the
    idea page count them: while nobody is asked by name, every reviewer of the pool who may review it."""
    pools = {p.value: p.name for p in scope.pools}
    lines = [_line(row, pools, now) for row in rows]
    at_gate = [line.id for line in lines if line.open_gate in (Gate.SCREENING, Gate.FUNDING)]
    counts: dict[int, tuple[int, int]] = {}
    for chunk in _chunks(at_gate):
        for idea in uow.ideas.load(chunk).values():
            waiting = asked(idea, uow.people.holding(Role.REVIEWER, idea.pool))  # read once per pool and unit of work
            counts[idea.id] = (len(waiting), len(done(idea, waiting)))
    return [replace(line, asked=counts[line.id][0], answered=counts[line.id][1]) if line.id in counts else line
            for line in lines]


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    return [ids[n:n + size] for n in range(0, len(ids), size)]


def _reviewers(uow: UnitOfWork, scope: _Scope) -> list[Reviewer]:
    """The people who review any of the viewer's pools (there or on every pool), by name."""
    pool_ids = [p.value for p in scope.pools]
    rows = uow.session.execute(
        select(PersonRow.id, PersonRow.name, PersonRow.email).join(RoleGrantRow, RoleGrantRow.person_id == PersonRow.id)
        .where(RoleGrantRow.role == Role.REVIEWER.value,
               or_(RoleGrantRow.pool_id.is_(None), RoleGrantRow.pool_id.in_(pool_ids)))
        .distinct()).all()
    return [Reviewer(person_id, name, email) for person_id, name, email in sorted(
        rows, key=lambda row: (alphabet.order_key(row.name), row.id))]


# -- sorting and keyset neighbours ----------------------------------------------------------------------------

_SORT_EXPRESSIONS: dict[str, ColumnElement[Any]] = {
    "deadline": IdeaRow.deadline,
    "submitted": IdeaRow.created_at,
    "title": IdeaRow.title.collate(DANISH),  # Danish alphabetical order (states.alphabet)
    "requested": IdeaRow.requested_dkk,
    "id": IdeaRow.id,
}
_NULLABLE = {"deadline", "requested"}


def _order(wanted: PortfolioFilter, *, reverse: bool = False, scan: bool = False) -> list[ColumnElement[Any]]:
    """ORDER BY for the filter's sort, missing values last and the id breaking ties (a total order);
    `reverse` walks it backwards. `NULLS LAST` ascending is what a plain index on the column gives
    (SQLite ≥ 3.30 and PostgreSQL), so the first page of the default sort is an index walk; `scan`
    (see `_Scope.scan`) sorts without the index."""
    expression = _SORT_EXPRESSIONS[wanted.sort]
    if scan:
        expression = _unindexed(expression)
    descending = wanted.descending != reverse
    terms: list[ColumnElement[Any]] = []
    if wanted.sort != "id":
        term = expression.desc() if descending else expression.asc()
        if wanted.sort in _NULLABLE:
            term = term.nulls_first() if reverse else term.nulls_last()
        terms.append(term)
    terms.append(IdeaRow.id.desc() if descending else IdeaRow.id.asc())
    return terms


def _unindexed(expression: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQLite's `+expression`: the same value, which the planner cannot take from an index."""
    return UnaryExpression(expression, operator=operators.custom_op("+"), type_=expression.type)


def place(wanted: PortfolioFilter, line: PortfolioLine) -> str | None:
    """Where `line` stands in the filter's order, as text for a link to the idea (`neighbours`' `at`):
    its sort value ("" where it has none: no deadline, no amount). None in the order of ids, which is
    the idea's own."""
    values = {"deadline": line.deadline, "submitted": line.submitted_at, "title": line.title,
              "requested": line.requested_dkk}
    return _place_text(wanted.sort, values[wanted.sort]) if wanted.sort in values else None


def _place_text(sort: str, value: Any) -> str | None:
    if sort == "id":
        return None
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value)


#: `_place_value`'s answer for text that is no value of the sort.
_NO_PLACE = object()


def _place_value(sort: str, text: str | None) -> Any:
    """The sort value `_place_text` wrote, or `_NO_PLACE` (none given, another sort's, hand-edited)."""
    if text is None or sort == "id":
        return _NO_PLACE
    if text == "":
        return None if sort in _NULLABLE else _NO_PLACE
    if sort == "title":
        return text
    if sort == "requested":
        amount = whole_number(text, max_digits=18)
        return _NO_PLACE if amount is None else amount
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        return _NO_PLACE
    return moment.astimezone(UTC) if moment is not None and moment.tzinfo is not None else _NO_PLACE


def _steps(wanted: PortfolioFilter, key: tuple[Any, int], *, after: bool) -> list[tuple[ColumnElement[bool], list]]:
    """Where to look, in turn, for the idea just after (or before) `key` = (sort value, id) in the
    filter's order: each a condition and the order to take its first row in. A row-value comparison
    `(value, id) > (v, i)` is an index seek; missing values (last in either direction) are a
    separate step rather than an OR that would make the database walk the whole list."""
    value, idea_id = key
    expression = _SORT_EXPRESSIONS[wanted.sort]
    forward = after != wanted.descending
    order = _order(wanted, reverse=not after)

    def beyond(left, right):
        return left > right if forward else left < right

    if wanted.sort == "id":
        return [(beyond(IdeaRow.id, idea_id), order)]
    missing, present = expression.is_(None), expression.is_not(None)
    if wanted.sort not in _NULLABLE or value is not None:
        among_present = and_(present, beyond(tuple_(expression, IdeaRow.id),
                                             tuple_(literal(value, expression.type), literal(idea_id))))
        # After the last present value come the missing ones; before the first, nothing.
        return [(among_present, order), *([(missing, order)] if after and wanted.sort in _NULLABLE else [])]
    return [(and_(missing, beyond(IdeaRow.id, idea_id)), order), *([] if after else [(present, order)])]


# -- exports --------------------------------------------------------------------------------------------------

#: A cell starting with one of these is read as a formula (or DDE command) by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    """A cell value a spreadsheet will not run: text starting like a formula gets a leading apostrophe
    (OWASP's advice for CSV injection); numbers and times pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def local(moment: datetime | None) -> datetime | None:
    """A stored UTC time as a naive Copenhagen wall-clock time, as a spreadsheet shows it."""
    return moment.astimezone(COPENHAGEN).replace(tzinfo=None) if moment is not None else None


def csv_bytes(headings: Sequence[str], rows: Sequence[Sequence[object]], *, delimiter: str = ";") -> bytes:
    """A CSV file for spreadsheets: UTF-8 with a byte order mark (so Excel reads æ, ø, å), every cell
    neutralised, times as `YYYY-MM-DD HH:MM`. Danish Excel expects `;` between cells."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralised(h) for h in headings])
    for row in rows:
        writer.writerow(["" if v is None else v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime)
                         else neutralised(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(headings: Sequence[str], rows: Sequence[Sequence[object]], *, sheet: str = "Portfolio") -> bytes:
    """An XLSX workbook (openpyxl, write-only, so 100,000 rows stay in bounded memory): text cells are
    neutralised and stripped of characters XML cannot hold; numbers stay numbers, times are times."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def cell(value: object) -> object:
        if isinstance(value, str):
            return neutralised(ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
        return value

    book = Workbook(write_only=True)
    worksheet = book.create_sheet(sheet[:31])
    worksheet.append([cell(h) for h in headings])
    for row in rows:
        worksheet.append([cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
