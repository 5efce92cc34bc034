"""Storage for signing in: installation secrets, sign-in tokens, rate-limit attempts, web sessions
and single sign-ons under way.

Tokens, session ids and OIDC states are looked up by a keyed hash the service layer computes; the
raw values never reach the database. Each spend (a token, an OIDC state) is one conditional
UPDATE or DELETE whose row count says whether this caller won, so two requests racing with the
same token cannot both succeed, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.repository import PERSON_BY_ADDRESS
from storage.tables import (
    IdeaRow,
    OidcLoginRow,
    OutboxRow,
    PersonRow,
    PilotFollowerRow,
    RoleGrantRow,
    SecretRow,
    SignInAttemptRow,
    SignInTokenRow,
    WebSessionRow,
)


@dataclass(frozen=True, slots=True)
class AccountRow:
    person_id: int
    email: str
    name: str
    lang: str
    roles: frozenset[str]
    follows_pilots: bool
    proposed_ideas: bool


@dataclass(frozen=True, slots=True)
class StoredSession:
    id: int
    person_id: int
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class PendingOidcLogin:
    nonce: str
    code_verifier: str
    next_path: str


class SignInRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- installation secrets -----------------------------------------------------------------------

    def secret(self, name: str) -> str | None:
        return self.session.scalar(select(SecretRow.value).where(SecretRow.name == name))

    def add_secret(self, name: str, value: str, now: datetime) -> bool:
        """Store the secret unless another process stored one first (then False: read theirs)."""
        try:
            with self.session.begin_nested():
                self.session.execute(insert(SecretRow).values(name=name, value=value, created_at=now))
        except IntegrityError:
            return False
        return True

    # -- people -----------------------------------------------------------------------------------------

    def person_id(self, email: str) -> int | None:
        """The person with this address, ignoring case (people type their address as they like)."""
        row = self.session.execute(PERSON_BY_ADDRESS, {"address": email.lower()}).one_or_none()
        return row.id if row else None

    def account(self, person_id: int) -> AccountRow | None:
        follows = exists().where(PilotFollowerRow.person_id == PersonRow.id)
        proposed = exists().where(IdeaRow.proposer_id == PersonRow.id)
        row = self.session.execute(
            select(PersonRow.id, PersonRow.email, PersonRow.name, PersonRow.lang,
                   follows.label("follows"), proposed.label("proposed"))
            .where(PersonRow.id == person_id)).one_or_none()
        if row is None:
            return None
        roles = frozenset(self.session.scalars(
            select(RoleGrantRow.role).where(RoleGrantRow.person_id == person_id).distinct()))
        return AccountRow(row.id, row.email, row.name, row.lang, roles, bool(row.follows), bool(row.proposed))

    def set_language(self, person_id: int, lang: str) -> None:
        self.session.execute(update(PersonRow).where(PersonRow.id == person_id).values(lang=lang))

    # -- sign-in links ----------------------------------------------------------------------------------

    def add_token(self, token_hash: str, person_id: int, next_path: str, now: datetime, expires_at: datetime) -> None:
        self.session.execute(insert(SignInTokenRow).values(
            token_hash=token_hash, person_id=person_id, next_path=next_path, created_at=now, expires_at=expires_at))

    def token_holder(self, token_hash: str, now: datetime) -> tuple[str, str, str] | None:
        """The name, address and language of the person an unused, unexpired token signs in; None for any
        other token."""
        row = self.session.execute(
            select(PersonRow.name, PersonRow.email, PersonRow.lang)
            .join(SignInTokenRow, SignInTokenRow.person_id == PersonRow.id).where(
                SignInTokenRow.token_hash == token_hash, SignInTokenRow.used_at.is_(None),
                SignInTokenRow.expires_at > now)).one_or_none()
        return tuple(row) if row is not None else None

    def lock_person(self, person_id: int) -> None:
        """Hold the person's row until the transaction ends (PostgreSQL; SQLite's writers take turns
        already), so two requests for the same person's link see each other's link."""
        self.session.execute(select(PersonRow.id).where(PersonRow.id == person_id).with_for_update())

    def unused_link_since(self, person_id: int, since: datetime, now: datetime) -> bool:
        """Whether a link made for the person after `since` is still unused and unexpired."""
        return self.session.scalar(select(exists().where(
            SignInTokenRow.person_id == person_id, SignInTokenRow.created_at > since,
            SignInTokenRow.used_at.is_(None), SignInTokenRow.expires_at > now)))

    def spend_token(self, token_hash: str, now: datetime) -> tuple[int, str] | None:
        """Mark the token used if it is unused and unexpired; its person and next page, or None."""
        return self.session.execute(
            update(SignInTokenRow)
            .where(SignInTokenRow.token_hash == token_hash, SignInTokenRow.used_at.is_(None),
                   SignInTokenRow.expires_at > now)
            .values(used_at=now)
            .returning(SignInTokenRow.person_id, SignInTokenRow.next_path)).one_or_none()

    def purge_tokens(self, before: datetime) -> None:
        self.session.execute(delete(SignInTokenRow).where(SignInTokenRow.expires_at < before))

    def queue_mail(self, kind: str, person_id: int, payload: dict, now: datetime) -> int:
        """An outbox row for mail that is not about an idea; its id, to deliver it at once."""
        return self.session.scalar(insert(OutboxRow).returning(OutboxRow.id).values(
            kind=kind, idea_id=None, recipient_id=person_id, payload=payload, created_at=now, status="pending",
            attempts=0, next_attempt_at=now))

    def redact_sent_mail(self, mail_id: int, replacements: dict) -> None:
        """Overwrite keys of a sent mail's payload (to drop the one-time link it carried); a mail
        not sent yet keeps its payload for the retry."""
        payload = self.session.scalar(
            select(OutboxRow.payload).where(OutboxRow.id == mail_id, OutboxRow.status == "sent"))
        if payload is not None:
            self.session.execute(update(OutboxRow).where(OutboxRow.id == mail_id)
                                 .values(payload={**payload, **replacements}))

    # -- rate limits --------------------------------------------------------------------------------------

    def attempts_since(self, address_hash: str, ip_hash: str, since: datetime) -> tuple[int, int]:
        recent = SignInAttemptRow.at >= since
        count = select(func.count()).where(recent)
        by_address = self.session.scalar(count.where(SignInAttemptRow.address_hash == address_hash))
        by_ip = self.session.scalar(count.where(SignInAttemptRow.ip_hash == ip_hash))
        return by_address, by_ip

    def add_attempt(self, address_hash: str, ip_hash: str, now: datetime) -> None:
        self.session.execute(insert(SignInAttemptRow).values(at=now, address_hash=address_hash, ip_hash=ip_hash))

    def purge_attempts(self, before: datetime) -> None:
        self.session.execute(delete(SignInAttemptRow).where(SignInAttemptRow.at < before))

    # -- sessions ------------------------------------------------------------------------------------------

    def add_session(self, session_hash: str, person_id: int, now: datetime, method: str) -> None:
        self.session.execute(insert(WebSessionRow).values(
            session_hash=session_hash, person_id=person_id, created_at=now, last_seen_at=now, method=method))

    def find_session(self, session_hash: str) -> StoredSession | None:
        row = self.session.execute(
            select(WebSessionRow.id, WebSessionRow.person_id, WebSessionRow.created_at, WebSessionRow.last_seen_at)
            .where(WebSessionRow.session_hash == session_hash)).one_or_none()
        return StoredSession(*row) if row else None

    def touch_session(self, session_id: int, now: datetime) -> None:
        self.session.execute(update(WebSessionRow).where(WebSessionRow.id == session_id).values(last_seen_at=now))

    def end_session(self, session_hash: str) -> None:
        self.session.execute(delete(WebSessionRow).where(WebSessionRow.session_hash == session_hash))

    def end_all(self, person_id: int) -> None:
        """End the person's sessions and unused sign-in links (they are being forgotten)."""
        self.session.execute(delete(WebSessionRow).where(WebSessionRow.person_id == person_id))
        self.session.execute(delete(SignInTokenRow).where(SignInTokenRow.person_id == person_id))

    def purge_sessions(self, idle_before: datetime, created_before: datetime) -> None:
        self.session.execute(delete(WebSessionRow).where(
            (WebSessionRow.last_seen_at < idle_before) | (WebSessionRow.created_at < created_before)))

    # -- single sign-on --------------------------------------------------------------------------------

    def add_oidc_login(self, state_hash: str, nonce: str, code_verifier: str, next_path: str, now: datetime) -> None:
        self.session.execute(insert(OidcLoginRow).values(
            state_hash=state_hash, nonce=nonce, code_verifier=code_verifier, next_path=next_path, created_at=now))

    def take_oidc_login(self, state_hash: str, since: datetime) -> PendingOidcLogin | None:
        """The sign-on started with this state (not before `since`), removed so it cannot be replayed."""
        row = self.session.execute(
            delete(OidcLoginRow).where(OidcLoginRow.state_hash == state_hash, OidcLoginRow.created_at >= since)
            .returning(OidcLoginRow.nonce, OidcLoginRow.code_verifier, OidcLoginRow.next_path)).one_or_none()
        return PendingOidcLogin(*row) if row else None

    def purge_oidc_logins(self, before: datetime) -> None:
        self.session.execute(delete(OidcLoginRow).where(OidcLoginRow.created_at < before))
