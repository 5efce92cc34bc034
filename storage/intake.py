"""SQL of the public intake: pool windows, pending submissions, attachments, rate counts, and the
proposer's own record.

Bound to the session of a unit of work, so whatever it writes commits or rolls back with the rest
of the command (a confirmation claims its submission and registers the idea in one transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from states.errors import NotFound
from states.intake import CheckedFile, PoolIntake, Submission
from states.model import Pool
from storage.db import DANISH
from storage.tables import (
    AttachmentRow,
    DecisionRow,
    IdeaRow,
    OutboxRow,
    PersonRow,
    PoolIntakeRow,
    PoolRow,
    RateCountRow,
    SubmissionRow,
)


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    id: int
    pool_id: int
    title: str | None
    description: str | None
    department: str | None
    requested_dkk: int | None
    name: str | None
    email: str | None
    proposer_kind: str
    lang: str
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    idea_id: int | None


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    submission_id: int
    idea_id: int | None
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DecisionLine:
    idea_id: int
    gate: str | None
    decision: str
    amount_dkk: int | None
    reason: str
    at: datetime


_SUBMISSION_COLUMNS = [getattr(SubmissionRow, f) for f in StoredSubmission.__slots__]
_ATTACHMENT_COLUMNS = [getattr(AttachmentRow, f) for f in AttachmentInfo.__slots__]


#: `count_hits`' upsert of two keys in one window; the window's start goes through the column's type (UTC on
#: both databases).
_COUNT_HITS = text(
    f"INSERT INTO {RateCountRow.__tablename__} (key, window_start, count) "
    f"VALUES (:first, :window_start, 1), (:second, :window_start, 1) "
    f"ON CONFLICT (key, window_start) DO UPDATE SET count = {RateCountRow.__tablename__}.count + 1 "
    f"RETURNING key, count"
).bindparams(bindparam("window_start", type_=RateCountRow.__table__.c.window_start.type))

#: A pool's name and its intake's columns, in `PoolIntake`'s order (NULL `pool_id`: the pool has no intake row):
#: Core rows, not ORM entities, from a statement built once.
_POOL_WITH_INTAKE = (
    select(PoolRow.__table__.c.name, PoolIntakeRow.__table__.c.pool_id,
           *(PoolIntakeRow.__table__.c[name] for name in PoolIntake.__slots__))
    .select_from(PoolRow.__table__.outerjoin(PoolIntakeRow.__table__))
    .where(PoolRow.__table__.c.id == bindparam("pool_id"))
)
#: The statements of submitting and confirming, built once (SQLAlchemy then finds their compiled form by the
#: statement's cached key); Core, not ORM: nothing in the session to synchronise.
_SUBMISSIONS, _ATTACHMENTS = SubmissionRow.__table__, AttachmentRow.__table__
_ADD_SUBMISSION = insert(_SUBMISSIONS).returning(_SUBMISSIONS.c.id)
_CLAIM = (update(_SUBMISSIONS)
          .where(_SUBMISSIONS.c.token_hash == bindparam("token"), _SUBMISSIONS.c.confirmed_at.is_(None),
                 _SUBMISSIONS.c.expires_at > bindparam("now"))
          .values(confirmed_at=bindparam("now"))
          .returning(*(_SUBMISSIONS.c[name] for name in StoredSubmission.__slots__)))
_REGISTERED = (update(_SUBMISSIONS).where(_SUBMISSIONS.c.id == bindparam("submission"))
               .values(idea_id=bindparam("idea"), title=None, description=None, department=None,
                       requested_dkk=None, name=None, email=None))
_ATTACHMENTS_REGISTERED = (update(_ATTACHMENTS).where(_ATTACHMENTS.c.submission_id == bindparam("submission"))
                           .values(idea_id=bindparam("idea")))


class IntakeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- pools ---------------------------------------------------------------------------------------

    def pool_by_id(self, pool_id: int) -> tuple[int, str]:
        if not 0 < pool_id < 2**31:  # an INTEGER column cannot hold it (PostgreSQL would fail on the query)
            raise NotFound("pool.unknown", field="pool", pool=pool_id)
        name = self.session.scalar(select(PoolRow.name).where(PoolRow.id == pool_id))
        if name is None:
            raise NotFound("pool.unknown", field="pool", pool=pool_id)
        return pool_id, name

    def intake(self, pool_id: int) -> PoolIntake:
        row = self.session.get(PoolIntakeRow, pool_id)
        return _intake(row) if row else PoolIntake()

    def pool_with_intake(self, pool_id: int) -> tuple[str, PoolIntake]:
        """A pool's name and its intake, in one query (the form's POST asks for both)."""
        if not 0 < pool_id < 2**31:
            raise NotFound("pool.unknown", field="pool", pool=pool_id)
        found = self.session.execute(_POOL_WITH_INTAKE, {"pool_id": pool_id}).first()
        if found is None:
            raise NotFound("pool.unknown", field="pool", pool=pool_id)
        name, has_intake, *intake = found
        return name, PoolIntake(*intake) if has_intake is not None else PoolIntake()

    def set_intake(self, pool: Pool, intake: PoolIntake, now: datetime) -> None:
        values = dict(opens_at=intake.opens_at, closes_at=intake.closes_at, description=intake.description,
                      criteria_text=intake.criteria_text, grant_min_dkk=intake.grant_min_dkk,
                      grant_max_dkk=intake.grant_max_dkk, updated_at=now)
        if self.session.get(PoolIntakeRow, pool.id) is None:
            self.session.add(PoolIntakeRow(pool_id=pool.id, **values))
        else:
            self.session.execute(update(PoolIntakeRow).where(PoolIntakeRow.pool_id == pool.id).values(**values))
        self.session.flush()

    def pools_with_intake(self) -> list[tuple[int, str, int, PoolIntake]]:
        """Every pool (id, name, year) with its intake, by name: the caller picks the open ones."""
        rows = self.session.execute(
            select(PoolRow.id, PoolRow.name, PoolRow.year, PoolIntakeRow)
            .outerjoin(PoolIntakeRow, PoolIntakeRow.pool_id == PoolRow.id)
            .order_by(PoolRow.name.collate(DANISH))
        )
        return [(pool_id, name, year, _intake(row) if row else PoolIntake()) for pool_id, name, year, row in rows]

    # -- rate limits ---------------------------------------------------------------------------------

    def count_hits(self, first: str, second: str, window_start: datetime) -> tuple[int, int]:
        """Count one more submission for each of two different keys in this window and return their new
        counts, atomically, in one statement.

        An upsert, so concurrent processes each get their own number (the row's lock orders them; every
        caller names its keys in the same order of kinds, so two never wait for each other's second).
        Plain SQL that SQLite and PostgreSQL both speak: SQLAlchemy does not cache the compiled form of
        its dialect upserts, and compiling one cost ~2.4 ms a call.
        """
        counts = dict(self.session.execute(_COUNT_HITS, {"first": first, "second": second,
                                                         "window_start": window_start}).all())
        return counts[first], counts[second]

    def forget_rate_counts(self, before: datetime) -> int:
        return self.session.execute(delete(RateCountRow).where(RateCountRow.window_start < before)).rowcount

    # -- submissions ---------------------------------------------------------------------------------

    def add_submission(self, pool_id: int, form: Submission, files: list[CheckedFile], token_hash: str,
                       lang: str, now: datetime, expires_at: datetime, checksum: Callable[[bytes], str]) -> int:
        # Core INSERTs: the ORM's unit of work would only copy these values into objects nobody reads.
        submission_id = self.session.execute(_ADD_SUBMISSION, dict(
            token_hash=token_hash, pool_id=pool_id, title=form.title, description=form.description,
            department=form.department or None, requested_dkk=form.requested_dkk, name=form.name, email=form.email,
            proposer_kind=form.proposer_kind, lang=lang, created_at=now, expires_at=expires_at,
            form_key=form.form_key,
        )).scalar_one()
        if files:
            self.session.execute(insert(AttachmentRow.__table__), [
                dict(submission_id=submission_id, filename=f.filename, media_type=f.media_type,
                     size_bytes=len(f.content), sha256=checksum(f.content), content=f.content, created_at=now)
                for f in files])
        return submission_id

    def submission_sent_from(self, form_key: str) -> tuple[int, int, datetime, int | None] | None:
        """The submission already stored from the form page with this key: id, pool, expiry, and the idea
        it became once confirmed."""
        return self.session.execute(select(SubmissionRow.id, SubmissionRow.pool_id, SubmissionRow.expires_at,
                                           SubmissionRow.idea_id).where(SubmissionRow.form_key == form_key)).first()

    def submission(self, token_hash: str) -> StoredSubmission | None:
        return self._submission_where(SubmissionRow.token_hash == token_hash)

    def submission_by_id(self, submission_id: int) -> StoredSubmission | None:
        return self._submission_where(SubmissionRow.id == submission_id)

    def _submission_where(self, condition: ColumnElement[bool]) -> StoredSubmission | None:
        row = self.session.execute(select(*_SUBMISSION_COLUMNS).where(condition)).first()
        return StoredSubmission(*row) if row else None

    def claim(self, token_hash: str, now: datetime) -> StoredSubmission | None:
        """Mark the unexpired, unconfirmed submission with this token confirmed; None if there is none.

        The UPDATE re-checks `confirmed_at IS NULL` under the row's write lock, so of concurrent
        confirmations exactly one claims it (on PostgreSQL the others wait for it, then find it taken;
        SQLite runs them one after the other).
        """
        claimed = self.session.execute(_CLAIM, {"token": token_hash, "now": now}).first()
        return StoredSubmission(*claimed) if claimed else None

    def registered(self, submission_id: int, idea_id: int) -> None:
        """The submission became `idea_id`: link them, and drop the form's copy of what the idea now holds."""
        values = {"submission": submission_id, "idea": idea_id}
        self.session.execute(_REGISTERED, values)
        self.session.execute(_ATTACHMENTS_REGISTERED, values)

    def delete_expired(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` unconfirmed submissions whose time ran out, with their attachments."""
        expired = list(self.session.scalars(
            select(SubmissionRow.id).where(SubmissionRow.confirmed_at.is_(None), SubmissionRow.expires_at <= now)
            .order_by(SubmissionRow.id).limit(limit)
        ))
        if expired:
            self.session.execute(delete(AttachmentRow).where(AttachmentRow.submission_id.in_(expired)))
            self.session.execute(delete(SubmissionRow).where(SubmissionRow.id.in_(expired)))
        return len(expired)

    def pending_for(self, email: str) -> list[StoredSubmission]:
        rows = self.session.execute(
            select(*_SUBMISSION_COLUMNS).where(_addressed_to(SubmissionRow.email, email),
                                               SubmissionRow.confirmed_at.is_(None))
            .order_by(SubmissionRow.id))
        return [StoredSubmission(*row) for row in rows]

    def forget_email(self, email: str, pseudonym: str, pseudonym_name: str) -> None:
        """Forget an address: delete its unconfirmed submissions, cancel and pseudonymise mail sent to it."""
        ids = list(self.session.scalars(select(SubmissionRow.id).where(_addressed_to(SubmissionRow.email, email))))
        if ids:
            self.session.execute(delete(AttachmentRow).where(AttachmentRow.submission_id.in_(ids)))
            self.session.execute(delete(SubmissionRow).where(SubmissionRow.id.in_(ids)))
        outbox = OutboxRow.__table__
        self.session.execute(update(outbox).where(_addressed_to(outbox.c.to_email, email), outbox.c.status == "pending")
                             .values(status="failed", last_error="recipient forgotten", secret=None))
        self.session.execute(update(outbox).where(_addressed_to(outbox.c.to_email, email))
                             .values(to_email=pseudonym, to_name=pseudonym_name))

    def proposer_kinds(self, idea_ids: Iterable[int]) -> dict[int, str]:
        ids = list(idea_ids)
        if not ids:
            return {}
        return dict(self.session.execute(
            select(SubmissionRow.idea_id, SubmissionRow.proposer_kind).where(SubmissionRow.idea_id.in_(ids))).all())

    # -- attachments ---------------------------------------------------------------------------------

    def attachments(self, idea_ids: Iterable[int] = (), submission_ids: Iterable[int] = ()) -> list[AttachmentInfo]:
        ideas, submissions = list(idea_ids), list(submission_ids)
        if not ideas and not submissions:
            return []
        rows = self.session.execute(
            select(*_ATTACHMENT_COLUMNS)
            .where(or_(AttachmentRow.idea_id.in_(ideas), AttachmentRow.submission_id.in_(submissions)))
            .order_by(AttachmentRow.id))
        return [AttachmentInfo(*row) for row in rows]

    def attachment(self, attachment_id: int) -> tuple[AttachmentInfo, bytes]:
        row = None
        if 0 < attachment_id < 2**31:
            row = self.session.execute(
                select(*_ATTACHMENT_COLUMNS, AttachmentRow.content).where(AttachmentRow.id == attachment_id)).first()
        if row is None or row.idea_id is None:  # a pending submission's files are nobody's to download yet
            raise NotFound("attachment.unknown", attachment=attachment_id)
        return AttachmentInfo(*row[:-1]), row[-1]

    # -- the proposer's record -------------------------------------------------------------------------

    def ideas_of(self, person_id: int) -> list[int]:
        return list(self.session.scalars(select(IdeaRow.id).where(IdeaRow.proposer_id == person_id)
                                         .order_by(IdeaRow.id)))

    def decisions(self, idea_ids: Iterable[int]) -> list[DecisionLine]:
        ids = list(idea_ids)
        if not ids:
            return []
        rows = self.session.execute(
            select(DecisionRow.idea_id, DecisionRow.gate, DecisionRow.decision, DecisionRow.amount_dkk,
                   DecisionRow.reason, DecisionRow.at)
            .where(DecisionRow.idea_id.in_(ids)).order_by(DecisionRow.id))
        return [DecisionLine(*row) for row in rows]

    def mail_to(self, email: str, person_id: int | None) -> list[tuple[str, datetime, str, datetime | None, dict]]:
        """(kind, created, status, sent, payload) of every message addressed to this person or address."""
        addressed = _addressed_to(OutboxRow.to_email, email)
        if person_id is not None:
            addressed = or_(addressed, OutboxRow.recipient_id == person_id)
        return [tuple(row) for row in self.session.execute(
            select(OutboxRow.kind, OutboxRow.created_at, OutboxRow.status, OutboxRow.sent_at, OutboxRow.payload)
            .where(addressed).order_by(OutboxRow.id))]

    def person_record(self, email: str) -> tuple[int, str, str, datetime] | None:
        row = self.session.execute(select(PersonRow.id, PersonRow.name, PersonRow.lang, PersonRow.created_at)
                                   .where(PersonRow.email == email)).first()
        return tuple(row) if row else None


def _intake(row: PoolIntakeRow) -> PoolIntake:
    return PoolIntake(row.opens_at, row.closes_at, row.description, row.criteria_text, row.grant_min_dkk,
                      row.grant_max_dkk)


def _addressed_to(column: ColumnElement[str], email: str) -> ColumnElement[bool]:
    """Rows of this address in whatever letter case it was typed: one address is one proposer ("Aase@Example.dk"
    is aase@example.dk, as `PersonRepository.find_address` has it), so their data export and their
    forgetting find every submission and mail of theirs."""
    return func.lower(column) == email.lower()
