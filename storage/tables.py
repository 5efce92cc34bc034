"""The schema, as SQLAlchemy 2 typed models. Alembic migrations are generated from these.

Times are stored as UTC (naive on SQLite, `timestamptz` on PostgreSQL) and always computed in
Python, never defaulted in SQL, so an injected clock is the only clock.
"""

import secrets
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_message_key() -> str:
    """128 random bits in hex: a Message-ID's left part, and the name of its `.eml` file."""
    return secrets.token_hex(16)


def new_token() -> str:
    """A random, unguessable token (32 bytes, URL-safe), as in unsubscribe links."""
    return secrets.token_urlsafe(32)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON(), list: JSON(), int: Integer()}


class PoolRow(Base):
    __tablename__ = "pools"
    __table_args__ = (
        CheckConstraint("allocated_dkk >= 0 AND allocated_dkk <= budget_dkk", name="within_budget"),
        CheckConstraint("budget_dkk >= 0", name="budget_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    year: Mapped[int]
    budget_dkk: Mapped[int] = mapped_column(BigInteger)
    allocated_dkk: Mapped[int] = mapped_column(BigInteger, default=0)
    screening_days: Mapped[int]
    funding_days: Mapped[int]
    evaluation_days: Mapped[int]
    reminder_days: Mapped[int]
    on_screening_deadline: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class CriterionRow(Base):
    __tablename__ = "criteria"
    __table_args__ = (UniqueConstraint("pool_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(60))
    weight: Mapped[float]
    must_meet: Mapped[bool]
    description: Mapped[str] = mapped_column(Text, default="")


class PoolChangeRow(Base):
    """Changes to a pool's settings (its criteria): who, when, what it was and what it became."""

    __tablename__ = "pool_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    what: Mapped[str] = mapped_column(String(20))
    before: Mapped[list]
    after: Mapped[list]


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime]
    # The weekly digest: stopped since when (None: it is sent), and the random token of the
    # unsubscribe link in every digest (random, so no one can stop another person's digest by guessing).
    # Drawn on every insert; NULL-able only because SQLite cannot add NOT NULL to a referenced table.
    digest_stopped_at: Mapped[datetime | None]
    digest_token: Mapped[str | None] = mapped_column(String(64), index=True, unique=True, default=new_token)


# People are found by address ignoring case (submitting, signing in): a seek, not a walk.
Index("ix_people_email_lower", func.lower(PersonRow.email))
# Pool names are unique ignoring case (the command line's `--pool NAME`); `Services.create_pool` refuses such a
# name first, Danish letters too: this is the database's guard against two created at once.
Index("ix_pools_name_lower", func.lower(PoolRow.name), unique=True)

EVERY_POOL = "pool_id IS NULL"


class RoleGrantRow(Base):
    """A role a person holds on one pool, or on every pool (`pool_id` NULL). Revoking deletes the
    row; the `audit` table keeps who granted and revoked what, and when."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("person_id", "role", "pool_id"),
        # NULLs are distinct in a UNIQUE constraint: a second index keeps "every pool" grants single.
        Index("uq_role_grants_every_pool", "person_id", "role", unique=True,
              sqlite_where=text(EVERY_POOL), postgresql_where=text(EVERY_POOL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    granted_at: Mapped[datetime]


class AuditRow(Base):
    """Changes to people and their roles: granted, revoked, added, forgotten; who did it and when."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(20))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))


class IdeaRow(Base):
    __tablename__ = "ideas"
    # (stage, deadline): the portfolio's stage and open-gate filters in deadline order, and its overdue
    # count, are index seeks rather than a walk through every idea (ideaflow/portfolio.py).
    __table_args__ = (Index(None, "pool_id", "stage"), Index(None, "deadline"), Index(None, "stage", "updated_at"),
                      Index(None, "stage", "deadline"))

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    requested_dkk: Mapped[int | None] = mapped_column(BigInteger)
    departments: Mapped[list]
    stage: Mapped[str] = mapped_column(String(20), index=True)
    held_from: Mapped[str | None] = mapped_column(String(20))
    gate_round: Mapped[int]
    deadline: Mapped[datetime | None]
    evaluation_open: Mapped[bool]
    allocated_dkk: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(nullable=False)

    __mapper_args__ = {"version_id_col": version}


class IdeaStageCountRow(Base):
    """How many ideas a pool has in a stage: kept by triggers on `ideas` (migration 9d2c4e6a1b57), in the
    writer's own transaction, so the portfolio's counts are a few rows instead of a walk through every idea."""

    __tablename__ = "idea_stage_counts"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(20), primary_key=True)
    ideas: Mapped[int]


class ReviewRow(Base):
    """One version of a reviewer's review of a gate round; revisions add versions, nothing is overwritten."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("idea_id", "gate", "round", "reviewer_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    gate: Mapped[str] = mapped_column(String(20))
    round: Mapped[int]
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    scores: Mapped[dict]
    must_meet: Mapped[dict]
    comment: Mapped[str] = mapped_column(Text)
    weighted_score: Mapped[float | None]
    created_at: Mapped[datetime]
    version: Mapped[int]
    submitted: Mapped[bool]


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    gate: Mapped[str | None] = mapped_column(String(20))
    round: Mapped[int]
    decision: Mapped[str] = mapped_column(String(20))
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    amount_dkk: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    # Set by requests that may be retried (a Prefect flow run's id): a retry finds it and does nothing.
    request_id: Mapped[str | None] = mapped_column(String(100), unique=True)


class ReviewAssignmentRow(Base):
    """A reviewer a coordinator asked for at one gate round; asking again is a no-op, not a new row."""

    __tablename__ = "review_assignments"
    __table_args__ = (UniqueConstraint("idea_id", "gate", "round", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    gate: Mapped[str] = mapped_column(String(20))
    round: Mapped[int]
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]


class AllocationRow(Base):
    """A grant from a pool to an idea at its funding gate. `pools.allocated_dkk` is the sum of the grants not
    released: a grant goes back to the pool (`released_at`) when its idea is killed or withdrawn before its
    pilot began (migration 1b7e4c9d2f60); once a pilot has begun, its grant is spent and stays."""

    __tablename__ = "allocations"
    __table_args__ = (CheckConstraint("amount_dkk > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), unique=True)
    amount_dkk: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    released_at: Mapped[datetime | None]


class PilotRow(Base):
    __tablename__ = "pilots"
    #: Both days are included: a pilot of one day starts and ends on the same date.
    __table_args__ = (CheckConstraint("start_date <= end_date", name="starts_by_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), unique=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    planned_at: Mapped[datetime]


class PilotSiteRow(Base):
    __tablename__ = "pilot_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))


class PilotFollowerRow(Base):
    __tablename__ = "pilot_followers"
    __table_args__ = (UniqueConstraint("pilot_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)


class PilotMeasureRow(Base):
    __tablename__ = "pilot_measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id"), index=True)
    description: Mapped[str] = mapped_column(Text)


class EvaluationRow(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), unique=True)
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    scores: Mapped[dict]
    weighted_score: Mapped[float | None]
    outcome: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class HistoryRow(Base):
    """Append-only: rows are inserted with their stage change and never updated or deleted."""

    __tablename__ = "history"
    __table_args__ = (Index(None, "idea_id", "id"), Index(None, "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text)
    # The person the row is about when that is not the actor (a reviewer asked by a coordinator).
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class IdeaVersionRow(Base):
    """Append-only, like the history: an idea's earlier text, kept when its proposer's revision replaced it
    (`states.model.IdeaVersion`). The database refuses UPDATE and DELETE (migration 6e1c9b4d2a57); the
    idea's own row holds only its newest text."""

    __tablename__ = "idea_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    #: The gate round it was the text of (the round it was submitted or revised in).
    round: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    requested_dkk: Mapped[int | None] = mapped_column(BigInteger)
    departments: Mapped[list]
    replaced_at: Mapped[datetime]
    replaced_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    #: The gate round of the revision that replaced it.
    replaced_in_round: Mapped[int]


class ConflictRow(Base):
    """A declared conflict of interest: the person neither reviews nor decides the idea."""

    __tablename__ = "conflicts"
    __table_args__ = (UniqueConstraint("idea_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


PENDING = "fired_at IS NULL AND cancelled_at IS NULL"


class TimerRow(Base):
    """A durable timer. Pending means neither fired nor cancelled; the partial index finds due ones."""

    __tablename__ = "timers"
    __table_args__ = (
        Index(
            "ix_timers_pending_due",
            "due_at",
            sqlite_where=text(PENDING),
            postgresql_where=text(PENDING),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)


class OutboxRow(Base):
    """Mail to send, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        CheckConstraint("recipient_id IS NOT NULL OR to_email IS NOT NULL", name="has_recipient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, drawn when the row is written: the Message-ID's left part, the same on every attempt and
    # unlike the row id unique across installations (archives de-duplicate mail by Message-ID).
    message_key: Mapped[str] = mapped_column(String(64), index=True, unique=True, default=new_message_key)
    kind: Mapped[str] = mapped_column(String(40))
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    # Mail to an address that is nobody's yet (a public submission's confirmation): who and in which language.
    to_email: Mapped[str | None] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(String(200))
    to_lang: Mapped[str | None] = mapped_column(String(5))
    payload: Mapped[dict]
    # A one-time link token the message must carry; cleared as soon as the message is sent or given up.
    secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    # Set while one flush holds the row (it may be sending it); a flush that dies leaves it to expire.
    leased_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class DigestWatermarkRow(Base):
    """How far each recipient's digests have reached: the next digest covers what came after.

    `history_id` is the last history row the previous digest covered; row ids, unlike clocks, never
    run backwards, so consecutive digests neither overlap nor leave a gap whenever they run.
    """

    __tablename__ = "digest_watermarks"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    history_id: Mapped[int] = mapped_column(BigInteger)
    digested_at: Mapped[datetime | None]


class RefusalRow(Base):
    """Who tried to do what they may not, and when: the audit of refused actions.

    Written in its own transaction after the refused command rolled back, so the refused change
    itself leaves no trace but the attempt does.
    """

    __tablename__ = "refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    command: Mapped[str] = mapped_column(String(30))
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"))
    reason: Mapped[str] = mapped_column(Text)


class SecretRow(Base):
    """Secrets generated once per installation (the key that signs sessions and tokens when
    IDEAFLOW_SECRET_KEY is not set), shared by every process on the database."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class SignInTokenRow(Base):
    """A sign-in link sent by mail: only a keyed hash of its token is kept, and it is spent once."""

    __tablename__ = "signin_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class SignInAttemptRow(Base):
    """One request for a sign-in link, for the rate limits; address and IP only as keyed hashes."""

    __tablename__ = "signin_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    ip_hash: Mapped[str] = mapped_column(String(64), index=True)


class WebSessionRow(Base):
    """A signed-in browser. The cookie holds the session id; the table only its keyed hash."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # How the person signed in ("link" or "oidc"), for the record.
    method: Mapped[str] = mapped_column(String(10))


class OidcLoginRow(Base):
    """A single sign-on under way: the state sent to the identity provider, its nonce and PKCE verifier."""

    __tablename__ = "oidc_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(200))
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(index=True)


# -- the public intake ---------------------------------------------------------------------------------


class PoolIntakeRow(Base):
    """A pool's intake window and public description; a pool without a row is open and says nothing."""

    __tablename__ = "pool_intakes"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), primary_key=True)
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    description: Mapped[str] = mapped_column(Text)
    criteria_text: Mapped[str] = mapped_column(Text)
    grant_min_dkk: Mapped[int | None] = mapped_column(BigInteger)
    grant_max_dkk: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class SubmissionRow(Base):
    """An idea sent from the public form, waiting for its proposer to confirm it by the mailed link.

    Only a keyed hash of the link's token is stored. Confirming registers the idea and empties the
    row's copy of the form (the idea holds it now), keeping the link to the idea so that a second
    confirmation finds it; unconfirmed rows are deleted when they expire.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint("idea_id IS NULL OR confirmed_at IS NOT NULL", name="idea_once_confirmed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(200))
    requested_dkk: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    proposer_kind: Mapped[str] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    confirmed_at: Mapped[datetime | None]
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"), unique=True)
    #: The random key of the form page it was sent from: the same form sent again (a double click, a
    #: browser's retry) finds this row instead of storing a second submission and mailing again.
    form_key: Mapped[str | None] = mapped_column(String(43), index=True, unique=True)


class AttachmentRow(Base):
    """A file sent with a public submission, kept in the database with its SHA-256 checksum.

    It belongs to its submission, and once that is confirmed also to the idea it became.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class RateCountRow(Base):
    """Submissions counted per client address or e-mail (a keyed hash of it) and fixed time window.

    Counting in the database lets every web process share the limits.
    """

    __tablename__ = "rate_counts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int]
