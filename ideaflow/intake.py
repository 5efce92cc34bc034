"""The public side: pools open for ideas, submissions confirmed by a mailed link, the proposer's own
record, and attachments for staff.

A submission from the public form is stored as pending and a confirmation mail is queued and
delivered at once; the idea is registered (history row, coordinators' notices: the ordinary
`Idea.submit` path) only when the proposer confirms with the link's token. The token is random
(32 bytes) and only its keyed hash (HMAC-SHA256) is stored; the raw token exists only in the mail
and, until that mail is sent, in its outbox row. Unconfirmed submissions are deleted when they
expire, by `expire_submissions`, which the deadline sweep runs (`ideaflow sweep` and the
`sweep-deadlines` flow).

Attachments are kept in the database, not in a folder: they commit and roll back with their
submission (no orphan files after a crash, nothing left behind when a submission expires or a
confirmation fails), every web process and worker sees them through the one database they
already share, and backups and `person forget` cover them with everything else. The limits keep
them small (10 MB each, 5 per idea, by default).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from ideaflow import i18n
from ideaflow.audit import refusals_recorded
from ideaflow.i18n import N_
from ideaflow.privacy import PrivacySettings, privacy_notice
from ideaflow.proposer_words import history_key, words_for
from notifications.render import subject as mail_subject
from states import formatting as fmt
from states.errors import Conflict, NotAllowed, Refused
from states.fingerprint import require_unchanged
from states.intake import KINDS as FILE_KINDS
from states.intake import (
    AttachmentRules,
    CheckedFile,
    IntakeStatus,
    PoolIntake,
    RateLimited,
    Submission,
    check_submission,
)
from states.model import Idea, Person, revised_fields
from states.rules import Action, available_actions, coordinates, is_staff_of, may_administer
from states.vocabulary import OPERATOR_EMAIL, Language
from storage.intake import AttachmentInfo, IntakeRepository, StoredSubmission
from storage.repository import MAIL_LEASE, HistoryLine, OutgoingMail
from storage.unit_of_work import Subscriber, UnitOfWork

if TYPE_CHECKING:
    from ideaflow.services import FlushReport

CONFIRMATION_MAIL = "submission_confirm"
log = logging.getLogger(__name__)


class UnknownLink(Refused):
    """The link's token matches no submission waiting for confirmation: mistyped, or expired and deleted."""


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """What the municipality configures about its public form (see `ideaflow.config.Settings`)."""

    submission_ttl: timedelta = timedelta(hours=72)
    attachments: AttachmentRules = field(default_factory=AttachmentRules)
    per_address: int = 20
    per_email: int = 5
    rate_window: timedelta = timedelta(hours=1)
    #: The privacy notice the form shows; the data export carries it too (GDPR art. 15(1)).
    privacy: PrivacySettings = field(default_factory=PrivacySettings)


#: Delivers outbox rows queued already leased to the caller, now, and reports what was sent (the composition
#: root binds it to the mail transport: `Services.deliver_leased`).
DeliverNow = Callable[[list[OutgoingMail], datetime], "FlushReport"]


# -- read models ---------------------------------------------------------------------------------------


class OpenPool(BaseModel):
    id: int
    name: str
    year: int
    status: IntakeStatus
    opens_at: datetime | None
    closes_at: datetime | None
    description: str
    criteria_text: str
    grant_min_dkk: int | None
    grant_max_dkk: int | None


class Receipt(BaseModel):
    """What the receipt page shows: where the confirmation mail went and until when the link works."""

    submission_id: int
    email: str
    pool: str
    title: str
    expires_at: datetime
    #: Whether the confirmation mail went at once; None when the receipt is shown again (not known then).
    mail_sent: bool | None
    #: Set when the same form was sent again after its idea was confirmed: the idea's number.
    idea_id: int | None = None
    #: The names of the files stored with it, so the proposer sees that they came (none for a form sent again).
    files: tuple[str, ...] = ()


class PendingSubmission(BaseModel):
    """What the confirmation page shows before the POST, without spending the token."""

    pool: str
    title: str | None
    expires_at: datetime
    idea_id: int | None
    #: The language the proposer wrote in: the page the mailed link opens speaks it.
    lang: Language


class Confirmation(BaseModel):
    idea_id: int
    newly_registered: bool
    lang: Language


class ProposerHistoryLine(BaseModel):
    at: datetime
    action: str
    text: str
    note: str | None = None


class ProposerDecision(BaseModel):
    at: datetime
    gate: str | None
    decision: str
    text: str
    #: Where it was taken, in words ("at the screening"); None for one at no gate (a hold of a pilot).
    gate_text: str | None = None
    amount_dkk: int | None
    reason: str


class ProposerPilot(BaseModel):
    start: str
    end: str
    sites: list[str]
    measures: list[str]


class ProposerVersion(BaseModel):
    """An earlier text of the proposer's idea, replaced by their revision (`states.model.IdeaVersion`)."""

    round: int
    title: str
    description: str
    requested_dkk: int | None
    departments: list[str]
    replaced_at: datetime


class AttachmentLine(BaseModel):
    id: int
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime


class ProposerIdea(BaseModel):
    """One idea as its proposer sees it: no reviewers, scores or internal notes."""

    id: int
    title: str
    description: str
    pool: str
    stage: str
    stage_text: str
    may_withdraw: bool
    #: Sent back for revision, until its gate is decided: the proposer may revise it (`Idea.revise`).
    may_revise: bool
    #: The coordinator's reason for sending it back, while it may be revised.
    sent_back_reason: str | None = None
    #: Sent back and not revised yet (`Idea.awaiting_revision`): "my ideas" asks the proposer to revise it.
    awaiting_revision: bool = False
    #: The idea's version as read: the revision form carries it back (`seen_version`).
    version: int
    proposer_kind: str | None
    departments: list[str]
    requested_dkk: int | None
    allocated_dkk: int | None
    submitted_at: datetime
    history: list[ProposerHistoryLine]
    decisions: list[ProposerDecision]
    pilot: ProposerPilot | None
    attachments: list[AttachmentLine]
    #: The texts their revisions replaced, oldest first.
    earlier_versions: list[ProposerVersion] = []


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    filename: str
    media_type: str
    sha256: str
    content: bytes


# -- the service --------------------------------------------------------------------------------------


class Intake:
    """The public intake's use cases, bound to one database."""

    def __init__(self, engine: Engine, settings: IntakeSettings, token_key: Callable[[], bytes],
                 deliver_now: DeliverNow | None = None, *, subscriber: Subscriber) -> None:
        """`token_key` gives the key for hashing tokens, addresses and e-mails; it is asked for only when
        needed (the installation's key may live in the database). `deliver_now` sends outbox rows at once;
        `subscriber` turns a registered idea's events into mail (the composition root wires it, as for
        `Services`)."""
        self.engine = engine
        self.settings = settings
        self.token_key = token_key
        self.deliver_now = deliver_now
        self.subscriber = subscriber

    def _uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, read_only=read_only, subscriber=self.subscriber)

    @staticmethod
    def _hash(key: bytes, value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    # -- pools -----------------------------------------------------------------------------------------

    def set_intake(self, pool: str, now: datetime, *, by: str = OPERATOR_EMAIL, seen: str | None = None,
                   **changes: object) -> PoolIntake:
        """Change some of a pool's intake settings (window, description, criteria text, grant range): an
        administrator's or the pool's coordinator's business. Refused (BadInput, naming the setting) as
        `PoolIntake` refuses it: a window that closes before it opens, grants out of order or above the
        pool's budget, a last day that has already passed.

        `seen`: the fingerprint of the settings the change was made from (`PoolIntake.fingerprint`; the
        console's form carries it). When the settings have changed since, a change to them is refused
        (Conflict) and nothing is saved: two coordinators with the form open, the second does not wipe out
        what the first saved. Settings already as asked are no conflict (a form sent twice). None (the
        command line): no such check, only the settings named change. A change is recorded in the pool's
        changes (who, when, the settings before and after)."""
        with refusals_recorded(self.engine, "pool intake", by, None, now), self._uow() as uow:
            the_pool = uow.pools.get(pool)
            actor = uow.people.get(by)
            if not (may_administer(actor) or coordinates(actor, the_pool)):
                raise NotAllowed("not_allowed.pool_intake", person=actor.email, pool=the_pool.name)
            uow.pools.lock(the_pool.id)  # one change of its settings at a time, each reading the one before
            repository = IntakeRepository(uow.session)
            current = repository.intake(the_pool.id)
            unknown = set(changes) - set(PoolIntake.__slots__)
            if unknown:
                raise TypeError(f"no intake setting {', '.join(sorted(unknown))}")
            intake = PoolIntake(**{name: changes.get(name, getattr(current, name)) for name in PoolIntake.__slots__})
            if intake != current:
                require_unchanged(seen, current.fingerprint(), pool=the_pool.name, settings="intake")
            intake.check_change(current, the_pool.budget_dkk, now)
            repository.set_intake(the_pool, intake, now)
            if intake != current:
                uow.pools.record_change(the_pool, "intake", [_settings(current)], [_settings(intake)], actor, now)
            uow.commit(now)
        return intake

    def pools(self, now: datetime, *, open_only: bool = True) -> list[OpenPool]:
        """The pools taking ideas now (all pools with their intake status, if not `open_only`)."""
        with self._uow(read_only=True) as uow:
            found = IntakeRepository(uow.session).pools_with_intake()
        views = [_open_pool(pool_id, name, year, intake, now) for pool_id, name, year, intake in found]
        return [v for v in views if v.status == IntakeStatus.OPEN] if open_only else views

    def pool(self, pool_id: int, now: datetime) -> OpenPool:
        """One pool's public face and whether it takes ideas now (the form page shows it either way)."""
        with self._uow(read_only=True) as uow:
            repository = IntakeRepository(uow.session)
            pool_id, name = repository.pool_by_id(pool_id)
            year = uow.pools.by_id(pool_id).year
            return _open_pool(pool_id, name, year, repository.intake(pool_id), now)

    # -- submitting and confirming ------------------------------------------------------------------------

    def submit(self, pool_id: int, form: Submission, *, client: str, lang: Language, now: datetime) -> Receipt:
        """Store a pending submission and send its confirmation mail at once.

        Refused (nothing stored) when the form is invalid (every problem at once), the pool is not
        open, or the client address or e-mail has used up its submissions for the current window. A
        form whose key is stored already (sent twice) gets that submission's receipt and changes nothing.
        """
        key = self.token_key()  # before any transaction: the installation's key may have to be stored first
        files = None
        if form.attachments:  # files are checked before taking the write lock: checking them takes a while
            with self._uow(read_only=True) as uow:
                pool_name, intake = IntakeRepository(uow.session).pool_with_intake(pool_id)
                intake.require_open(pool_name, now)
                files = check_submission(form, intake, self.settings.attachments)
        for attempt in itertools.count(1):
            try:
                receipt, mail = self._store(pool_id, form, files, key, client=client, lang=lang, now=now)
                break
            except IntegrityError:  # the same form, sent twice at once, stored by the other request first
                if form.form_key is None or attempt >= 2:
                    raise
        if mail is not None and self.deliver_now is not None:
            try:
                receipt.mail_sent = self.deliver_now([mail], now).sent == 1
            except Exception:  # the submission is stored and its mail queued: the outbox's flushes retry it
                log.exception("could not deliver confirmation mail %s at once", mail.id)
        return receipt

    def _store(self, pool_id: int, form: Submission, files: list[CheckedFile] | None, key: bytes, *, client: str,
               lang: Language, now: datetime) -> tuple[Receipt, OutgoingMail | None]:
        """The submission and its confirmation mail (to send), stored in one write transaction; or, for a
        form sent before (its key is stored), that submission's receipt, with nothing stored, counted or
        mailed. A receipt's address and title are the form's own: the same as stored, which confirming empties."""
        with self._uow() as uow:
            repository = IntakeRepository(uow.session)
            pool_name, intake = repository.pool_with_intake(pool_id)
            if form.form_key is not None and (sent := repository.submission_sent_from(form.form_key)):
                submission_id, sent_to_pool, expires_at, idea_id = sent
                if sent_to_pool != pool_id:
                    pool_name = repository.pool_by_id(sent_to_pool)[1]
                return Receipt(submission_id=submission_id, email=form.email, pool=pool_name, title=form.title,
                               expires_at=expires_at, mail_sent=False, idea_id=idea_id), None
            intake.require_open(pool_name, now)  # (again, with files: not closed meanwhile)
            if files is None:  # text fields only: checked in microseconds, under the lock, one transaction fewer
                files = check_submission(form, intake, self.settings.attachments)
            self._count(repository, key, now, address=client, email=form.email)
            token = secrets.token_urlsafe(32)
            expires_at = now + self.settings.submission_ttl
            submission_id = repository.add_submission(
                pool_id, form, files, self._hash(key, token), lang, now, expires_at,
                checksum=lambda content: hashlib.sha256(content).hexdigest())
            # Leased to this process from the start when it is to be sent at once: committed before the
            # answer, so a crash before (or while) sending leaves it to the outbox's flushes after the lease.
            mail = uow.outbox.add_to_address(
                CONFIRMATION_MAIL, form.email, form.name, lang,
                {"title": form.title, "pool": pool_name, "expires_at": expires_at.isoformat(),
                 "path": "/submissions/confirm?token="},  # the mail appends the token (its `secret`)
                now, secret=token, leased_until=now + MAIL_LEASE if self.deliver_now is not None else None)
            uow.commit(now)
        return Receipt(submission_id=submission_id, email=form.email, pool=pool_name, title=form.title,
                       expires_at=expires_at, mail_sent=False, files=tuple(f.filename for f in files)), mail

    def check(self, pool_id: int, form: Submission) -> None:
        """Raise the form's problems (InvalidSubmission) without storing anything: a page that found a
        problem of its own (an amount it could not read) still shows every other one at once."""
        with self._uow(read_only=True) as uow:
            repository = IntakeRepository(uow.session)
            pool_id, _ = repository.pool_by_id(pool_id)
            check_submission(form, repository.intake(pool_id), self.settings.attachments)

    def _count(self, repository: IntakeRepository, key: bytes, now: datetime, *, address: str, email: str) -> None:
        window = self.settings.rate_window
        start = datetime.fromtimestamp(now.timestamp() // window.total_seconds() * window.total_seconds(), UTC)
        counts = repository.count_hits(self._hash(key, f"address:{address}"),
                                       self._hash(key, f"email:{email.lower()}"), start)
        limits = (self.settings.per_address, self.settings.per_email)
        for kind, count, limit in zip(("address", "email"), counts, limits, strict=True):
            if count > limit:
                raise RateLimited(f"intake.rate_limited_{kind}", limit=limit,
                                  minutes=int(window.total_seconds() // 60), retry_after=start + window)

    def receipt(self, submission_id: int, now: datetime) -> Receipt:
        """The receipt of a submission, shown again (the page of a submission is its POST's answer; this is
        its address to come back to, in another language): while it waits, where its mail went and until
        when; once confirmed, its idea. UnknownLink once it is gone."""
        with self._uow(read_only=True) as uow:
            repository = IntakeRepository(uow.session)
            found = repository.submission_by_id(submission_id)
            pool, title = _shown(uow, found, now)
            if found.idea_id is not None:
                return Receipt(submission_id=found.id, email="", pool=pool, title=title, expires_at=found.expires_at,
                               mail_sent=None, idea_id=found.idea_id)
            files = tuple(f.filename for f in repository.attachments(submission_ids=[found.id]))
            return Receipt(submission_id=found.id, email=found.email or "", pool=pool, title=title,
                           expires_at=found.expires_at, mail_sent=None, files=files)

    def pending(self, token: str, now: datetime) -> PendingSubmission:
        """What the confirmation page shows (GET): nothing is spent, so a mail scanner's visit is harmless."""
        token_hash = self._hash(self.token_key(), token)
        with self._uow(read_only=True) as uow:
            repository = IntakeRepository(uow.session)
            found = repository.submission(token_hash)
            pool, title = _shown(uow, found, now)
            return PendingSubmission(pool=pool, title=title, expires_at=found.expires_at, idea_id=found.idea_id,
                                     lang=Language(found.lang))

    def confirm(self, token: str, now: datetime, *, attempts: int = 20) -> Confirmation:
        """Register the idea of the submission with this token; a second confirmation finds the first.

        Exactly one of any number of concurrent confirmations registers the idea. A conflict with a
        concurrent change (two submissions of one new proposer confirmed at once both create the
        person) is retried: the retry finds what the other committed.
        """
        token_hash = self._hash(self.token_key(), token)
        for attempt in itertools.count(1):
            try:
                return self._confirm(token_hash, now)
            except (Conflict, IntegrityError):  # the person's row is inserted before the commit
                if attempt >= attempts:
                    raise

    def _confirm(self, token_hash: str, now: datetime) -> Confirmation:
        with self._uow() as uow:
            repository = IntakeRepository(uow.session)
            claimed = repository.claim(token_hash, now)
            if claimed is None:
                found = repository.submission(token_hash)
                if found is not None and found.idea_id is not None:
                    return Confirmation(idea_id=found.idea_id, newly_registered=False, lang=Language(found.lang))
                raise UnknownLink("intake.unknown_link")
            pool = uow.pools.by_id(claimed.pool_id)
            proposer = uow.people.find_address(claimed.email) or uow.people.add(
                Person(claimed.email, claimed.name, Language(claimed.lang)), now)
            idea = Idea.submit(title=claimed.title, description=claimed.description, pool=pool, proposer=proposer,
                               now=now, requested_dkk=claimed.requested_dkk,
                               departments=(claimed.department,) if claimed.department else ())
            uow.ideas.add(idea)
            repository.registered(claimed.id, idea.id)
            uow.commit(now)
        return Confirmation(idea_id=idea.id, newly_registered=True, lang=Language(claimed.lang))

    def expire_submissions(self, now: datetime, batch_size: int = 500) -> int:
        """Delete unconfirmed submissions whose link expired (with their files), a batch per transaction,
        then every confirmation mail whose link expired (sent or not), and drop rate counts of past windows."""
        deleted = 0
        while True:
            with self._uow() as uow:
                repository = IntakeRepository(uow.session)
                batch = repository.delete_expired(now, batch_size)
                if batch < batch_size:
                    # The mail that asked for the confirmation goes too, sent or not: it holds the address,
                    # the name and the title, which the privacy notice promises are deleted (and once the
                    # submission is confirmed, the idea and the person hold them).
                    uow.outbox.delete_queued_by(CONFIRMATION_MAIL, now - self.settings.submission_ttl)
                    repository.forget_rate_counts(now - self.settings.rate_window)
                uow.commit(now)
            deleted += batch
            if batch < batch_size:
                return deleted

    # -- the proposer -------------------------------------------------------------------------------------

    def my_ideas(self, email: str, lang: Language = Language.DA) -> list[ProposerIdea]:
        """The ideas this person proposed, as they may see them, newest first."""
        with self._uow(read_only=True) as uow:
            return self._proposer_ideas(uow, email, lang)

    def _proposer_ideas(self, uow: UnitOfWork, email: str, lang: Language) -> list[ProposerIdea]:
        repository = IntakeRepository(uow.session)
        person = uow.people.find(email)
        if person is None:
            return []
        ids = repository.ideas_of(person.id)
        ideas = uow.ideas.load(ids)
        decisions = repository.decisions(ids)
        kinds = repository.proposer_kinds(ids)
        files = repository.attachments(idea_ids=ids)
        versions = uow.ideas.versions(ids)
        word = words_for(lang)
        views = []
        for idea_id in reversed(ids):
            idea = ideas[idea_id]
            history = [line for h in uow.ideas.history(idea_id) if (line := _history_line(h, idea, word))]
            actions = available_actions(person, idea)
            recycles = [d for d in decisions if d.idea_id == idea_id and d.decision == "recycle"]
            views.append(ProposerIdea(
                id=idea.id, title=idea.title, description=idea.description, pool=idea.pool.name,
                stage=idea.stage, stage_text=word("stage", idea.stage),
                may_withdraw=Action.WITHDRAW in actions, may_revise=Action.REVISE in actions,
                sent_back_reason=recycles[-1].reason if Action.REVISE in actions and recycles else None,
                awaiting_revision=Action.REVISE in actions and idea.awaiting_revision,
                version=idea.version,
                proposer_kind=kinds.get(idea_id), departments=list(idea.departments),
                requested_dkk=idea.requested_dkk, allocated_dkk=idea.allocated_dkk, submitted_at=idea.created_at,
                history=history,
                decisions=[ProposerDecision(at=d.at, gate=d.gate, decision=d.decision,
                                            text=word("decision", d.decision) or d.decision,
                                            gate_text=word("gate", d.gate) if d.gate else None, amount_dkk=d.amount_dkk,
                                            reason=d.reason)
                           for d in decisions if d.idea_id == idea_id],
                pilot=ProposerPilot(start=idea.pilot.start.isoformat(), end=idea.pilot.end.isoformat(),
                                    sites=list(idea.pilot.sites), measures=list(idea.pilot.measures))
                if idea.pilot else None,
                attachments=[_attachment_line(a) for a in files if a.idea_id == idea_id],
                earlier_versions=[ProposerVersion(round=v.round, title=v.title, description=v.description,
                                                  requested_dkk=v.requested_dkk, departments=list(v.departments),
                                                  replaced_at=v.replaced_at)
                                  for v in versions.get(idea_id, [])],
            ))
        return views

    def export(self, email: str, now: datetime, lang: Language = Language.DA) -> dict:
        """Everything ideaflow holds about this person as a proposer, as one JSON document (GDPR art. 15):
        who they are, their ideas as they see them, submissions still waiting for confirmation, the files
        they attached (what the municipality holds, and how to get a copy), and the mail addressed to them
        (its subject and when, not its text); with the privacy notice in their language (purposes,
        recipients, retention, rights, source: art. 15(1)(a)-(h)), so the file explains itself."""
        with self._uow(read_only=True) as uow:
            repository = IntakeRepository(uow.session)
            record = repository.person_record(email)
            ideas = self._proposer_ideas(uow, email, lang)
            pending = repository.pending_for(email)
            pools = {s.pool_id: uow.pools.by_id(s.pool_id).name for s in pending}
            pending_files = repository.attachments(submission_ids=[s.id for s in pending])
            mail = repository.mail_to(email, record[0] if record else None)
        return {
            "generated_at": now.isoformat(),
            "about_this_data": _about_this_data(self.settings.privacy, lang),
            "email": email,
            "person": {"name": record[1], "language": record[2], "registered_at": record[3].isoformat()}
            if record else None,
            "ideas": [idea.model_dump(mode="json") for idea in ideas],
            "submissions_waiting_for_confirmation": [
                {"pool": pools[s.pool_id], "title": s.title, "description": s.description,
                 "department": s.department, "requested_dkk": s.requested_dkk, "name": s.name,
                 "proposer_kind": s.proposer_kind, "submitted_at": s.created_at.isoformat(),
                 "expires_at": s.expires_at.isoformat(),
                 "attachments": [_attachment_line(a).model_dump(mode="json") for a in pending_files
                                 if a.submission_id == s.id]}
                for s in pending
            ],
            "files": _files_held(ideas, pending, pending_files, self.settings.privacy, lang),
            "mail": [{"kind": kind, "subject": mail_subject(kind, lang.value, payload),
                      "queued_at": created.isoformat(), "status": status, "sent_at": sent.isoformat() if sent else None}
                     for kind, created, status, sent, payload in mail],
        }

    # -- attachments for staff ----------------------------------------------------------------------------

    def attachments(self, idea_id: int, by: str, now: datetime) -> list[AttachmentLine]:
        """The files that came with an idea, for staff who may see it."""
        with refusals_recorded(self.engine, "attachments", by, idea_id, now), self._uow(read_only=True) as uow:
            _require_staff(uow.people.get(by), uow.ideas.get(idea_id))
            return [_attachment_line(a) for a in IntakeRepository(uow.session).attachments(idea_ids=[idea_id])]

    def attachment(self, attachment_id: int, by: str, now: datetime) -> AttachmentFile:
        """One file for download, for staff who may see its idea; its checksum is verified on the way out."""
        with self._uow(read_only=True) as uow:
            info, content = IntakeRepository(uow.session).attachment(attachment_id)
        with refusals_recorded(self.engine, "download", by, info.idea_id, now), self._uow(read_only=True) as uow:
            _require_staff(uow.people.get(by), uow.ideas.get(info.idea_id))
        if hashlib.sha256(content).hexdigest() != info.sha256:
            raise Refused("attachment.checksum", attachment=attachment_id)
        return AttachmentFile(info.filename, info.media_type, info.sha256, content)



def _require_staff(person: Person, idea: Idea) -> None:
    """Attachments are for the coordinators and reviewers of the idea's pool."""
    if not is_staff_of(person, idea.pool):
        raise NotAllowed("not_allowed.staff_only", person=person.email, action="see_attachments", idea=idea.id,
                         pool=idea.pool.name)


def _shown(uow: UnitOfWork, found: StoredSubmission | None, now: datetime) -> tuple[str, str]:
    """(pool, title) of a submission a page shows again: its idea's title once confirmed (the submission's
    own fields are emptied then). UnknownLink when it is gone: never stored, or expired unconfirmed."""
    if found is None or (found.confirmed_at is None and found.expires_at <= now):
        raise UnknownLink("intake.unknown_link")
    title = uow.ideas.get(found.idea_id).title if found.idea_id is not None else found.title or ""
    return uow.pools.by_id(found.pool_id).name, title


def _open_pool(pool_id: int, name: str, year: int, intake: PoolIntake, now: datetime) -> OpenPool:
    return OpenPool(id=pool_id, name=name, year=year, status=intake.status(now), opens_at=intake.opens_at,
                    closes_at=intake.closes_at, description=intake.description, criteria_text=intake.criteria_text,
                    grant_min_dkk=intake.grant_min_dkk, grant_max_dkk=intake.grant_max_dkk)


#: What the export says of itself and of each file the municipality holds (`_files_held`).
THIS_FILE = N_("Everything the municipality's idea system (ideaflow) holds about you as a proposer of ideas: who "
               "you are, your ideas as you see them under \"My ideas\", ideas you have not confirmed yet, the "
               "files you attached and the mail sent to you. Why and how the municipality processes these data, "
               "who sees them, how long they are kept and your rights are told below.")
FILE_HELD = N_("The municipality keeps this file with your idea; the pool's coordinators and reviewers can open "
               "it. To get a copy, write to the municipality (%(contact)s) and ask the pool's coordinator.")
FILE_HELD_NO_CONTACT = N_("The municipality keeps this file with your idea; the pool's coordinators and reviewers "
                          "can open it. To get a copy, ask the pool's coordinator (the municipality has not given "
                          "its contact details here).")


def _about_this_data(privacy: PrivacySettings, lang: Language) -> dict:
    """The export's own explanation: what the file holds, then the privacy notice in the reader's language."""
    return {"this_file": i18n.gettext(lang.value, THIS_FILE),
            **privacy_notice(privacy, lang.value).model_dump(mode="json")}


def _files_held(ideas: list[ProposerIdea], pending: list[StoredSubmission], pending_files: list[AttachmentInfo],
                privacy: PrivacySettings, lang: Language) -> list[dict]:
    """Each file the person attached, in plain words: its name, type and size, the idea it came with, that
    the municipality holds it and how to get a copy (files are handed out to staff only)."""
    held = (i18n.gettext(lang.value, FILE_HELD, contact=privacy.contact) if privacy.contact.strip()
            else i18n.gettext(lang.value, FILE_HELD_NO_CONTACT))
    titles = {s.id: s.title for s in pending}
    found = [(line, idea.id, idea.title) for idea in ideas for line in idea.attachments]
    found += [(_attachment_line(a), None, titles[a.submission_id]) for a in pending_files]
    return [{"filename": line.filename, "type": _file_type(line.media_type), "media_type": line.media_type,
             "size": fmt.file_size(line.size_bytes, lang.value), "size_bytes": line.size_bytes,
             "idea_id": idea_id, "idea_title": title, "uploaded_at": line.uploaded_at.isoformat(),
             "held_by_the_municipality": held}
            for line, idea_id, title in found]


def _file_type(media_type: str) -> str:
    """A file's type as its name shows it: PDF, PNG, DOCX."""
    endings = FILE_KINDS.get(media_type)
    return endings[0].removeprefix(".").upper() if endings else media_type


def _attachment_line(a: AttachmentInfo) -> AttachmentLine:
    return AttachmentLine(id=a.id, filename=a.filename, media_type=a.media_type, size_bytes=a.size_bytes,
                          sha256=a.sha256, uploaded_at=a.created_at)


def _history_line(h: HistoryLine, idea: Idea, word: Callable[[str, str], str | None]) -> ProposerHistoryLine | None:
    text = word("action", history_key(h.action, h.to_stage))
    if text is None:
        return None
    note = None  # decisions' reasons are listed with the decisions
    if h.action == "withdraw" and h.by == idea.proposer.email and h.reason != "withdrawn by the proposer":
        note = h.reason  # the proposer's own words
    elif h.action == "evaluate" and idea.evaluation is not None:
        note = word("outcome", idea.evaluation.outcome)
    elif h.action == "revise" and (fields := revised_fields(h.reason)) is not None:
        note = ", ".join(word("field", name) for name in fields)
    return ProposerHistoryLine(at=h.at, action=h.action, text=text, note=note)


def _settings(intake: PoolIntake) -> dict:
    """An intake's settings as the pool's changes keep them (moments in ISO 8601)."""
    values = {name: getattr(intake, name) for name in PoolIntake.__slots__}
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in values.items()}
