"""Weekly digests: what each recipient needs to know since their previous digest.

Each person has a watermark (the last history row their previous digest covered). A run takes the
history's current end as its high-water mark, and every due recipient's digest covers exactly the
rows between their watermark and it; the watermark then moves to it in the same transaction as the
queued mail. So a run a few minutes early or late, or a second run, neither skips nor repeats
anything, and a digest with nothing to say is not queued (its watermark still moves).

The portfolio-wide figures (counts per stage, overdue gates, deadlines ahead, budgets, stuck ideas)
are computed once per run with SQL aggregates and shared by all coordinators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, case, exists, func, select, text, true, update
from sqlalchemy.orm import Session

from ideaflow import follower_words
from ideaflow.pilots import FOLLOWER_HISTORY, halts
from ideaflow.proposer_words import PROPOSER_HISTORY, plain_history, plain_stage
from states.errors import Conflict
from states.model import COPENHAGEN, GATE_OF_STAGE, Person
from states.vocabulary import OPEN_STAGES, Language, Role, Stage
from storage.db import DANISH
from storage.tables import (
    DigestWatermarkRow,
    HistoryRow,
    IdeaRow,
    PersonRow,
    PilotFollowerRow,
    PilotRow,
    PoolRow,
    ReviewRow,
)
from storage.unit_of_work import UnitOfWork

LIST_LIMIT = 30
#: The stages whose gate asks reviewers.
GATE_STAGES = tuple(GATE_OF_STAGE)


@dataclass(frozen=True, slots=True)
class Cadence:
    weekday: int = 0
    at: time = time(7, 0)
    horizon_days: int = 14
    stuck_days: int = 60

    def latest_slot(self, now: datetime) -> datetime:
        """The most recent scheduled digest moment at or before `now` (Copenhagen wall time, DST-safe)."""
        local = now.astimezone(COPENHAGEN)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        slot = datetime.combine(day, self.at, tzinfo=COPENHAGEN)
        if slot > local:
            slot = datetime.combine(day - timedelta(days=7), self.at, tzinfo=COPENHAGEN)
        return slot.astimezone(UTC)


@dataclass(slots=True)
class DigestReport:
    queued: dict[str, int] = field(default_factory=dict)
    silent: int = 0
    #: Recipients whose watermark moved (each got one digest per role with news, or none: silent).
    covered: int = 0
    opted_out: int = 0

    def summary(self) -> str:
        if not self.queued and not self.silent and not self.opted_out:
            return "no digests were due"
        parts = [f"{n} {role} digest(s)" for role, n in sorted(self.queued.items())]
        return ("queued " + (", ".join(parts) or "nothing") + f"; {self.silent} recipient(s) had nothing new"
                + (f"; {self.opted_out} stopped their digest" if self.opted_out else ""))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


#: Which pools a role is held on: None for every pool, else the pool ids.
Scope = frozenset[int] | None


def scope_of(person: Person, role: Role) -> Scope | bool:
    """The pools `person` holds `role` on (None: every pool), or False if on none."""
    pools = {g.pool_id for g in person.grants if g.role == role}
    if not pools:
        return False
    return None if None in pools else frozenset(pools)


class Portfolio:
    """The figures the coordinators of the same pools share, read once per run and scope."""

    def __init__(self, session: Session, now: datetime, cadence: Cadence, scope: Scope) -> None:
        in_scope = IdeaRow.pool_id.in_(scope) if scope is not None else true()
        self.in_scope = in_scope
        self.stage_counts = {
            stage: count
            for stage, count in session.execute(
                select(IdeaRow.stage, func.count()).where(in_scope).group_by(IdeaRow.stage))
        }
        gate_open = and_(in_scope, IdeaRow.deadline.is_not(None))
        idea_line = (IdeaRow.id, IdeaRow.title, IdeaRow.stage, IdeaRow.deadline)
        self.overdue_count = session.scalar(select(func.count()).where(gate_open, IdeaRow.deadline < now))
        self.overdue = _lines(session.execute(
            select(*idea_line).where(gate_open, IdeaRow.deadline < now).order_by(IdeaRow.deadline).limit(LIST_LIMIT)
        ))
        horizon = now + timedelta(days=cadence.horizon_days)
        self.upcoming = _lines(session.execute(
            select(*idea_line).where(in_scope, IdeaRow.deadline >= now, IdeaRow.deadline < horizon)
            .order_by(IdeaRow.deadline).limit(LIST_LIMIT)
        ))
        stuck = and_(in_scope, IdeaRow.stage.in_(OPEN_STAGES),
                     IdeaRow.updated_at < now - timedelta(days=cadence.stuck_days))
        self.stuck_count = session.scalar(select(func.count()).where(stuck))
        self.stuck = _lines(session.execute(
            select(IdeaRow.id, IdeaRow.title, IdeaRow.stage, IdeaRow.updated_at).where(stuck)
            .order_by(IdeaRow.updated_at).limit(LIST_LIMIT)
        ))
        self.budgets = [
            {"pool": name, "budget_dkk": budget, "allocated_dkk": allocated, "left_dkk": budget - allocated}
            for name, budget, allocated in session.execute(
                select(PoolRow.name, PoolRow.budget_dkk, PoolRow.allocated_dkk)
                .where(PoolRow.id.in_(scope) if scope is not None else true()).order_by(PoolRow.name.collate(DANISH))
            )
        ]
        self.awaiting_review = session.scalar(select(func.count()).where(in_scope, IdeaRow.stage.in_(GATE_STAGES)))


def _lines(rows) -> list[dict]:
    return [{"idea_id": i, "title": t, "stage": s, "at": _iso(at)} for i, t, s, at in rows]


class DigestBuilder:
    """Builds one recipient's digest payload, or None when there is nothing to say."""

    def __init__(self, session: Session, portfolio: Callable[[Scope], Portfolio], high: int, now: datetime) -> None:
        self.session = session
        self.portfolio = portfolio
        self.high = high
        self.now = now
        self._moves_since: dict[tuple[int, Scope], dict] = {}

    def build(self, person: Person, since: int) -> list[dict]:
        """One payload per role the person has news for: coordinator and reviewer on the pools they
        hold the role on, proposer of their own ideas, follower of their own pilots."""
        payloads = []
        for role, builder in ((Role.COORDINATOR, self._coordinator), (Role.REVIEWER, self._reviewer)):
            scope = scope_of(person, role)
            if scope is not False and (body := builder(person, since, scope)) is not None:
                payloads.append({"role": role.value, **body})
        for role, builder in ((Role.PROPOSER, self._proposer), (Role.FOLLOWER, self._follower)):
            if (body := builder(person, since)) is not None:
                payloads.append({"role": role.value, **body})
        return payloads

    def _window(self, since: int):
        return and_(HistoryRow.id > since, HistoryRow.id <= self.high)

    def _moves(self, since: int, *extra, latest: int | None = None) -> list[dict]:
        """History rows in the window, oldest first; only the `latest` ones if given."""
        query = (select(HistoryRow.id, HistoryRow.idea_id, IdeaRow.title, HistoryRow.action, HistoryRow.from_stage,
                        HistoryRow.to_stage, HistoryRow.at)
                 .join(IdeaRow, HistoryRow.idea_id == IdeaRow.id).where(self._window(since), *extra))
        if latest is not None:
            query = query.order_by(HistoryRow.id.desc()).limit(latest)
        rows = sorted(self.session.execute(query))
        return [{"idea_id": i, "title": t, "action": a, "from": f, "to": to, "at": _iso(at)}
                for _, i, t, a, f, to, at in rows]

    def _count_moves(self, since: int, *extra) -> int:
        return self.session.scalar(select(func.count()).select_from(HistoryRow)
                                   .join(IdeaRow, HistoryRow.idea_id == IdeaRow.id).where(self._window(since), *extra))

    def _coordinator(self, person: Person, since: int, scope: Scope) -> dict | None:
        p = self.portfolio(scope)
        if (since, scope) not in self._moves_since:
            counts = self.session.execute(
                select(HistoryRow.action, func.count()).join(IdeaRow, HistoryRow.idea_id == IdeaRow.id)
                .where(self._window(since), p.in_scope).group_by(HistoryRow.action)
            ).all()
            moved_total = sum(n for _, n in counts)
            latest = self._moves(since, p.in_scope, latest=LIST_LIMIT)
            self._moves_since[(since, scope)] = {
                "moved_total": moved_total,
                "moved_by_action": dict(counts),
                "moved": latest,
                "new_ideas": dict(counts).get("submit", 0),
            }
        moves = self._moves_since[(since, scope)]
        if not (moves["moved_total"] or p.overdue_count or p.upcoming or p.stuck_count):
            return None
        return {
            **moves,
            "stage_counts": {s.value: p.stage_counts.get(s.value, 0) for s in Stage},
            "overdue_count": p.overdue_count, "overdue": p.overdue,
            "upcoming": p.upcoming, "stuck_count": p.stuck_count, "stuck": p.stuck,
            "budgets": p.budgets,
        }

    def _reviewer(self, person: Person, since: int, scope: Scope) -> dict | None:
        """What awaits this reviewer: a count (all waiting ideas less those they submitted a review of
        this round; a draft still awaits) and the first few by deadline, so the cost does not grow with
        the size of the portfolio."""
        gate_of = case(*((IdeaRow.stage == stage.value, gate.value) for stage, gate in GATE_OF_STAGE.items()))
        reviewed_this_round = and_(ReviewRow.idea_id == IdeaRow.id, ReviewRow.reviewer_id == person.id,
                                   ReviewRow.round == IdeaRow.gate_round, ReviewRow.gate == gate_of,
                                   ReviewRow.submitted.is_(True))
        portfolio = self.portfolio(scope)
        reviewed = self.session.scalar(select(func.count(ReviewRow.idea_id.distinct())).select_from(ReviewRow)
                                       .join(IdeaRow, reviewed_this_round)
                                       .where(portfolio.in_scope, IdeaRow.stage.in_(GATE_STAGES)))
        count = portfolio.awaiting_review - reviewed
        if not count:
            return None
        pending = _lines(self.session.execute(
            select(IdeaRow.id, IdeaRow.title, IdeaRow.stage, IdeaRow.deadline)
            .where(portfolio.in_scope, IdeaRow.stage.in_(GATE_STAGES), ~exists().where(reviewed_this_round))
            .order_by(IdeaRow.deadline, IdeaRow.id).limit(LIST_LIMIT)
        ))
        return {"pending_count": count, "pending": pending}

    def _proposer(self, person: Person, since: int) -> dict | None:
        """What their "my ideas" page shows of their ideas' history (`ideaflow.intake`: no escalations,
        reviews or reviewers asked), in its words. The words are the catalogue's, in each language, since
        the mail is written in the reader's language when it is sent."""
        mine = IdeaRow.proposer_id == person.id
        shown = (mine, HistoryRow.action.in_(PROPOSER_HISTORY))
        moved_total = self._count_moves(since, *shown)
        if not moved_total:
            return None
        ideas = _lines(self.session.execute(
            select(IdeaRow.id, IdeaRow.title, IdeaRow.stage, IdeaRow.deadline).where(mine)
            .order_by(IdeaRow.id.desc()).limit(LIST_LIMIT)
        ))
        moved = [{"idea_id": m["idea_id"], "title": m["title"], "action": m["action"], "at": m["at"],
                  "text": _in_each_language(plain_history, m["action"], m["to"])}
                 for m in self._moves(since, *shown, latest=LIST_LIMIT)]
        for idea in ideas:
            idea["stage_text"] = _in_each_language(plain_stage, idea["stage"])
        return {"moved": moved, "moved_total": moved_total,
                "ideas": ideas[::-1], "ideas_total": self.session.scalar(select(func.count()).where(mine))}

    def _follower(self, person: Person, since: int) -> dict | None:
        """What their pilots' pages show of their history (`ideaflow.pilots`: no reviews, reasons or who), in
        those pages' words, and where each pilot is now."""
        followed = (
            select(PilotRow.idea_id).join(PilotFollowerRow, PilotFollowerRow.pilot_id == PilotRow.id)
            .where(PilotFollowerRow.person_id == person.id)
        )
        mine = and_(HistoryRow.idea_id.in_(followed), HistoryRow.action.in_(FOLLOWER_HISTORY))  # as their page
        moved_total = self._count_moves(since, mine)
        if not moved_total:
            return None
        rows = self.session.execute(
            select(IdeaRow.id, IdeaRow.title, IdeaRow.stage, IdeaRow.evaluation_open, PilotRow.start_date,
                   PilotRow.end_date)
            .join(PilotRow, PilotRow.idea_id == IdeaRow.id).where(IdeaRow.id.in_(followed)).order_by(IdeaRow.id)
        ).all()
        halted = halts(self.session, [row[0] for row in rows])  # stopped or on hold: not said by its dates
        pilots = [
            {"idea_id": i, "title": t, "stage": s, "start": start.isoformat(), "end": end.isoformat(),
             "stage_text": _in_each_language(follower_words.plain_status, s, evaluating),
             "dates_text": _in_each_language(follower_words.plain_dates, start, end, halted.get(i))}
            for i, t, s, evaluating, start, end in rows
        ]
        # in the words of their pilot's page (`ideaflow.follower_words`), not the staff's
        moved = [{**m, "text": _in_each_language(follower_words.plain_history, m["action"], m["to"])}
                 for m in self._moves(since, mine, latest=LIST_LIMIT)]
        return {"moved": moved, "moved_total": moved_total, "pilots": pilots}


def _in_each_language(words: Callable[..., str | None], *code: object) -> dict[str, str | None]:
    return {lang.value: words(*code, lang) for lang in Language}


def queue_digests(uow_factory, now: datetime, cadence: Cadence, batch_size: int = 200) -> DigestReport:
    """Queue the digests due at `now`, a batch of recipients per transaction."""
    report = DigestReport()
    slot = cadence.latest_slot(now)
    portfolios: dict[Scope, Portfolio] = {}
    with uow_factory() as uow:
        high = _history_high_water_mark(uow)
    due = and_(DigestWatermarkRow.person_id == PersonRow.id,
               (DigestWatermarkRow.digested_at.is_(None)) | (DigestWatermarkRow.digested_at < slot))
    while True:
        with uow_factory() as uow:
            batch = uow.session.execute(
                select(PersonRow, DigestWatermarkRow.history_id, DigestWatermarkRow.digested_at)
                .join(DigestWatermarkRow, due).order_by(PersonRow.id).limit(batch_size)
            ).all()
            if not batch:
                return report
            def portfolio(scope: Scope, session=uow.session) -> Portfolio:
                if scope not in portfolios:
                    portfolios[scope] = Portfolio(session, now, cadence, scope)
                return portfolios[scope]

            builder = DigestBuilder(uow.session, portfolio, high, now)
            uow.people.load(row.id for row, _, _ in batch)
            for row, since, digested_at in batch:
                person = uow.people.by_id(row.id)
                payloads = [] if row.digest_stopped_at else builder.build(person, since)
                for payload in payloads:
                    payload.update(period_from=_iso(digested_at), period_to=now.isoformat())
                    uow.outbox.add("digest", person, None, payload, now)
                    report.queued[payload["role"]] = report.queued.get(payload["role"], 0) + 1
                if row.digest_stopped_at:
                    report.opted_out += 1  # the watermark still moves: resumed, it starts then, not at the stop
                elif not payloads:
                    report.silent += 1
                report.covered += 1
                _advance(uow, row.id, since, digested_at, max(high, since), now)
            uow.commit(now)


def _history_high_water_mark(uow: UnitOfWork) -> int:
    """The last history row a digest may cover. On PostgreSQL, a SHARE lock first waits for every
    transaction still inserting history, so no row with a lower id can commit after we looked."""
    if uow.session.bind.dialect.name == "postgresql":
        uow.session.execute(text("LOCK TABLE history IN SHARE MODE"))
    return uow.session.scalar(select(func.coalesce(func.max(HistoryRow.id), 0)))


def _advance(uow: UnitOfWork, person_id: int, since: int, digested_at: datetime | None, high: int,
             now: datetime) -> None:
    """Move the watermark only if nobody else did: a concurrent run makes this batch roll back."""
    table = DigestWatermarkRow.__table__
    unchanged = table.c.digested_at.is_(None) if digested_at is None else table.c.digested_at == digested_at
    moved = uow.session.execute(
        update(table).where(table.c.person_id == person_id, table.c.history_id == since, unchanged)
        .values(history_id=high, digested_at=now)
    )
    if moved.rowcount != 1:
        raise Conflict("digest.running")
