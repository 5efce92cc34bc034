"""The service layer: one function per use case, called alike by the CLI, the flows and the tests.

Each function opens one unit of work (one transaction), loads what it needs, lets the domain decide,
and commits; a domain refusal propagates and the unit of work rolls back, so a refused command
changes nothing. Times come in as `now`, never from a clock in here. Every change has an actor
(`by`): administrative calls and pilot planning default to the command line's operator, a person
of its own whom the record names; everything else must say who acts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from ideaflow.audit import refusals_recorded
from ideaflow.digests import Cadence, DigestReport, queue_digests
from notifications.delivery import FolderTransport, PermanentFailure, TemporaryFailure, Transport, Unavailable
from notifications.message import Letterhead, ascii_domain, build_message
from states import text
from states.criteria import TAARNBY_CRITERIA, Criterion, check_criteria
from states.errors import BadInput, Conflict, NotFound, Refused
from states.messages import CHANGES_SAID
from states.model import KEEP, GatePolicy, Grant, Idea, Keep, Person, PilotPlan, Pool, Review, check_budget
from states.rules import Action, available_actions, may, require_administrator, require_an_administrator_left
from states.vocabulary import GRANTABLE_ROLES, OPERATOR_EMAIL, Decision, Gate, Language, Outcome, Role
from storage.intake import IntakeRepository
from storage.repository import MAIL_LEASE, OutgoingMail
from storage.unit_of_work import Subscriber, UnitOfWork

#: Mail that carries a one-time link: its token is cleared when the message fails, so sending it again
#: would send a dead link (the person asks for a new one instead).
ONE_TIME_LINK_MAIL = ("signin_link", "submission_confirm")
#: The longest wait before mail is tried again (after a failed attempt, or a batch deferred by an outage).
LONGEST_BACKOFF = timedelta(hours=6)

# What `storage.repository.new_token` draws: 43 URL-safe characters (anything else is not looked up).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class Services:
    """Binds the use cases to one database engine and to what hears their domain events.

    The composition root (ideaflow.bootstrap) wires in the notification subscriber
    (`notifications.handlers.queue_mail`), which turns events into outbox rows in the same transaction.
    """

    def __init__(self, engine: Engine, *, subscriber: Subscriber) -> None:
        self.engine = engine
        self.subscriber = subscriber

    def _uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, read_only=read_only, subscriber=self.subscriber)

    # -- pools and people ------------------------------------------------------------------------

    def create_pool(
        self,
        name: str,
        budget_dkk: int,
        year: int,
        now: datetime,
        criteria: tuple[Criterion, ...] = TAARNBY_CRITERIA,
        policy: GatePolicy | None = None,
        *,
        by: str = OPERATOR_EMAIL,
    ) -> Pool:
        text.text(name, "pool_name", max_length=200)
        check_budget(budget_dkk)
        check_criteria(criteria)
        if not 2000 <= year <= 2200:
            raise BadInput("pool.implausible_year", field="year", year=year)
        (policy or GatePolicy()).check()
        with refusals_recorded(self.engine, "pool create", by, None, now), self._uow() as uow:
            require_administrator(uow.people.get(by), "create_pools")
            if (alike := uow.pools.named_alike(name)) == name:
                raise Conflict("pool.exists", field="pool_name", pool=name)
            if alike is not None:  # the command line's --pool NAME, and people, could not tell them apart
                raise Conflict("pool.name_differs_in_case", field="pool_name", pool=alike)
            pool = uow.pools.add(Pool(name, year, budget_dkk, criteria, policy or GatePolicy()), now)
            uow.commit(now)
        return pool

    def add_person(
        self, email: str, name: str, role: Role, now: datetime, lang: Language = Language.DA, *,
        by: str = OPERATOR_EMAIL,
    ) -> Person:
        """Register a person; a coordinator, reviewer or administrator role is granted on every pool
        (proposers and followers need no grant)."""
        text.email(email)
        text.text(name, "name", max_length=200)
        if role == Role.OPERATOR:
            raise BadInput("person.operator_role", field="role")
        with refusals_recorded(self.engine, "person add", by, None, now), self._uow() as uow:
            actor = uow.people.get(by)
            require_administrator(actor, "add_people")
            if (existing := uow.people.find_address(email)) is not None:  # Ida@Kommune.dk is ida@kommune.dk
                raise Conflict("person.exists", field="email", email=existing.email)
            person = uow.people.add(Person(email, name, lang), now)
            uow.people.audit(actor, person, "add", now)
            if role in GRANTABLE_ROLES:
                uow.people.grant(person, Grant(role), actor, now)
            uow.commit(now)
        return person

    def grant_role(self, email: str, role: Role, now: datetime, *, pool: str | None = None,
                   by: str = OPERATOR_EMAIL) -> bool:
        """Grant `role` on `pool` (None: every pool); False if the person already held exactly that."""
        return self._change_role("grant", email, role, now, pool, by)

    def revoke_role(self, email: str, role: Role, now: datetime, *, pool: str | None = None,
                    by: str = OPERATOR_EMAIL) -> bool:
        """Revoke exactly the grant named (on `pool`, or the every-pool grant); False if there was none."""
        return self._change_role("revoke", email, role, now, pool, by)

    def _change_role(self, change: str, email: str, role: Role, now: datetime, pool: str | None, by: str) -> bool:
        if role not in GRANTABLE_ROLES:
            raise BadInput("role.not_grantable", field="role", value=role, choices=list(GRANTABLE_ROLES))
        if role == Role.ADMINISTRATOR and pool is not None:
            raise BadInput("role.everywhere", field="pool")
        with refusals_recorded(self.engine, f"person {change}", by, None, now), self._uow() as uow:
            actor = uow.people.get(by)
            require_administrator(actor, f"{change}_roles")
            person = uow.people.get(email)
            if change == "revoke":
                require_an_administrator_left(person, role, uow.people.count_holding(Role.ADMINISTRATOR))
            grant = Grant(role, uow.pools.get(pool).id if pool is not None else None)
            changed = (uow.people.grant if change == "grant" else uow.people.revoke)(person, grant, actor, now)
            uow.commit(now)
        return changed

    def forget_person(self, email: str, now: datetime, *, by: str = OPERATOR_EMAIL) -> str:
        """Pseudonymise a person (GDPR erasure of a citizen) while keeping the record of decisions.

        Each idea they proposed gains a history row saying that the proposer was erased (not who)."""
        with refusals_recorded(self.engine, "person forget", by, None, now), self._uow() as uow:
            actor = uow.people.get(by)
            require_administrator(actor, "forget_people")
            person = uow.people.get(email)
            if person.holds(Role.OPERATOR):
                raise BadInput("person.operator_kept", field="email")
            pseudonym = f"glemt-{person.id}@ideaflow.invalid"
            uow.people.forget(person, pseudonym, f"Glemt person {person.id}")
            uow.people.audit(actor, person, "forget", now)
            uow.ideas.record_forgotten(person, actor, now)
            uow.signin.end_all(person.id)  # a forgotten person is signed in nowhere
            IntakeRepository(uow.session).forget_email(email, pseudonym, f"Glemt person {person.id}")
            uow.commit(now)
        return pseudonym

    # -- the weekly digest: a person's choice ------------------------------------------------------

    def set_digest_opt_out(self, email: str, opt_out: bool, now: datetime) -> None:
        """Stop (`opt_out`) or resume a person's weekly digest; other mail is not affected."""
        with self._uow() as uow:
            uow.people.stop_digest(uow.people.get(email), now if opt_out else None)
            uow.commit(now)

    def digest_opted_out(self, email: str) -> datetime | None:
        """Since when the person's weekly digest is stopped, or None while they receive it."""
        with self._uow(read_only=True) as uow:
            return uow.people.digest_stopped_at(uow.people.get(email))

    def unsubscribe_digest(self, token: str, now: datetime) -> str:
        """Stop the digest of the person whose unsubscribe link carries `token` (the one-click POST of
        RFC 8058); returns their address. Repeating it changes nothing. An unknown token is refused
        with NotFound, in the same words whatever the token looked like."""
        with self._uow() as uow:
            person = uow.people.by_digest_token(token) if _TOKEN.fullmatch(token) else None
            if person is None:
                raise NotFound("digest.bad_unsubscribe_token")
            uow.people.stop_digest(person, now)
            uow.commit(now)
        return person.email

    # -- the lifecycle ---------------------------------------------------------------------------

    def submit(
        self,
        *,
        title: str,
        description: str,
        proposer: str,
        pool: str,
        now: datetime,
        requested_dkk: int | None = None,
        departments: tuple[str, ...] = (),
    ) -> int:
        """Submit an idea; an unknown proposer is registered as a proposer (citizens rarely are).

        Refused outside the pool's intake window, like the public form."""
        text.text(title, "title", max_length=200)
        text.text(description, "description", max_length=20_000, multiline=True)
        text.email(proposer, "proposer")
        if requested_dkk is not None:
            text.amount_dkk(requested_dkk, "requested_dkk")
        for department in departments:
            text.text(department, "departments", max_length=200)
        with self._uow() as uow:
            the_pool = uow.pools.get(pool)
            intake = IntakeRepository(uow.session).intake(the_pool.id)
            intake.require_open(the_pool.name, now)
            intake.check_requested(requested_dkk, the_pool.name)
            person = (uow.people.find_address(proposer)
                      or uow.people.add(Person(proposer, proposer.split("@")[0]), now))
            idea = Idea.submit(title=title, description=description, pool=the_pool, proposer=person, now=now,
                               requested_dkk=requested_dkk, departments=departments)
            uow.ideas.add(idea)
            uow.commit(now)
        return idea.id

    def review(
        self, idea_id: int, by: str, scores: dict[str, int], now: datetime,
        must_meet: dict[str, bool] | None = None, comment: str = "", *, draft: bool = False,
        at_gate: Gate | None = None, at_round: int | None = None, at_text_version: int | None = None,
    ) -> Review:
        """Save a draft, submit, or revise (a second review before the gate is decided) `by`'s review.

        `at_gate` and `at_round`: the gate and round the review was written for (the web form's, or
        `ideaflow review --gate`), refused if that gate was decided or a new round began since; None
        reviews whatever screening or funding gate is open. `at_text_version`: the idea's text the review
        was written against (`Idea.text_version`, the web form's), refused if the proposer revised it since."""
        text.text(comment, "comment", max_length=5000, multiline=True, required=False)
        with refusals_recorded(self.engine, "review", by, idea_id, now), self._uow() as uow:
            idea = uow.ideas.get(idea_id)
            review = idea.review(uow.people.get(by), scores, must_meet or {}, comment, now, draft=draft,
                                 at_gate=at_gate, at_round=at_round, at_text_version=at_text_version)
            uow.commit(now)
        return review

    def decide(
        self, idea_id: int, decision: Decision, by: str, now: datetime,
        amount_dkk: int | None = None, reason: str = "", at_gate: Gate | None = None, request_id: str | None = None,
        seen_version: int | None = None,
    ) -> Idea:
        """Record a gate decision. The same `request_id` again with the same decision on the same idea (a
        retried flow task, a double click on the web form) does nothing and returns the idea as it is;
        with another decision or idea it is refused as reused. `seen_version` (here and on the other
        changes): the idea's version the person acted on (a web form carries it), refused if anybody
        changed the idea since; a repeated request is recognised before that check, since the change
        since then is its own."""
        text.text(reason, "reason", max_length=5000, multiline=True, required=False)
        if amount_dkk is not None:
            text.amount_dkk(amount_dkk, "amount_dkk")
        try:
            with refusals_recorded(self.engine, "decide", by, idea_id, now), self._uow() as uow:
                # The key before the idea: on PostgreSQL each statement sees what was committed when it
                # began, so an idea read after its key was found shows that key's decision.
                recorded = uow.ideas.decided_by_request(request_id) if request_id is not None else None
                idea = uow.ideas.get(idea_id)
                if recorded == (idea_id, decision):
                    return idea
                _unchanged_since(uow, idea, seen_version)
                if recorded is not None:
                    raise BadInput("decide.request_reused", field="request_id", request=request_id,
                                   recorded=recorded[0], decision=recorded[1], idea=idea_id)
                idea.decide(decision, uow.people.get(by), now, amount_dkk=amount_dkk, reason=reason,
                            at_gate=at_gate, request_id=request_id)
                if amount_dkk is not None:  # an allocation the domain took: within the pool's published range
                    IntakeRepository(uow.session).intake(idea.pool.id).check_requested(
                        amount_dkk, idea.pool.name, field="amount_dkk")
                uow.commit(now)
        except Refused:
            # On PostgreSQL the same request sent twice at once (a double click) runs side by side: the
            # second meets the first's new version of the idea (a conflict, or a gate no longer open).
            # Its own decision, recorded by its twin, answers it as done; anything else is refused as it was.
            if request_id is None:
                raise
            with self._uow(read_only=True) as uow:
                if uow.ideas.decided_by_request(request_id) != (idea_id, decision):
                    raise
                return uow.ideas.get(idea_id)
        return idea

    def assign_reviewers(self, idea_id: int, by: str, now: datetime, reviewers: tuple[str, ...] = (),
                         seen_version: int | None = None) -> list[Person]:
        """Ask reviewers (default: every reviewer of the idea's pool who may review it) for a review at
        the idea's open gate.

        Returns the ones newly asked, who get a review request; asking again asks nobody twice.
        """
        with refusals_recorded(self.engine, "assign", by, idea_id, now), self._uow() as uow:
            idea = _unchanged_since(uow, uow.ideas.get(idea_id), seen_version)
            if reviewers:
                asked = [uow.people.get(email) for email in reviewers]
            else:
                asked = [p for p in uow.people.holding(Role.REVIEWER, idea.pool) if may(p, Action.REVIEW, idea)]
            new = idea.assign_reviewers(asked, uow.people.get(by), now)
            uow.commit(now)
        return new

    def plan_pilot(
        self, idea_id: int, *, start: date, end: date, sites: tuple[str, ...], now: datetime,
        by: str = OPERATOR_EMAIL, followers: tuple[str, ...] | None = None, measures: tuple[str, ...] | None = None,
        seen_version: int | None = None,
    ) -> Idea:
        """Plan the idea's pilot, or re-plan it. `followers` and `measures` None keep what the plan has (none, for
        a first plan): a command line that names no follower does not empty the group; an empty tuple does."""
        for site in sites:
            text.text(site, "sites", max_length=200)
        for measure in measures or ():
            text.text(measure, "measures", max_length=1000)
        with refusals_recorded(self.engine, "pilot", by, idea_id, now), self._uow() as uow:
            idea = _unchanged_since(uow, uow.ideas.get(idea_id), seen_version)
            if followers is None:
                group = idea.pilot.followers if idea.pilot else ()
            else:
                unknown = [f for f in dict.fromkeys(followers) if uow.people.find_address(f) is None]
                if unknown:  # named on the followers field, where a form shows it
                    raise NotFound("person.unknown", field="followers", email=unknown[0])
                group = tuple({p.id: p for p in map(uow.people.get, followers)}.values())  # once each, however typed
            if measures is None:
                measures = idea.pilot.measures if idea.pilot else ()
            plan = PilotPlan(start, end, tuple(sites), group, tuple(measures))
            idea.plan_pilot(plan, uow.people.get(by), now)
            uow.commit(now)
        return idea

    def evaluate(
        self, idea_id: int, by: str, scores: dict[str, int], outcome: Outcome, now: datetime, comment: str = "",
        seen_version: int | None = None,
    ) -> Idea:
        text.text(comment, "comment", max_length=5000, multiline=True, required=False)
        with refusals_recorded(self.engine, "evaluate", by, idea_id, now), self._uow() as uow:
            idea = _unchanged_since(uow, uow.ideas.get(idea_id), seen_version)
            idea.evaluate(uow.people.get(by), scores, outcome, comment, now)
            uow.commit(now)
        return idea

    def declare_conflict(self, idea_id: int, by: str, reason: str, now: datetime,
                         seen_version: int | None = None) -> Idea:
        """`by` declares a conflict of interest on the idea: from now on they neither review nor decide it."""
        text.text(reason, "reason", max_length=5000, multiline=True)
        with refusals_recorded(self.engine, "conflict", by, idea_id, now), self._uow() as uow:
            idea = _unchanged_since(uow, uow.ideas.get(idea_id), seen_version)
            idea.declare_conflict(uow.people.get(by), reason, now)
            uow.commit(now)
        return idea

    def available_actions(self, idea_id: int, email: str) -> list[Action]:
        """What this person may do on the idea now (the buttons a page shows them)."""
        with self._uow(read_only=True) as uow:
            return available_actions(uow.people.get(email), uow.ideas.get(idea_id))

    def withdraw(self, idea_id: int, by: str, now: datetime, reason: str = "", seen_version: int | None = None) -> Idea:
        text.text(reason, "reason", max_length=5000, multiline=True, required=False)
        with refusals_recorded(self.engine, "withdraw", by, idea_id, now), self._uow() as uow:
            idea = _unchanged_since(uow, uow.ideas.get(idea_id), seen_version)
            idea.withdraw(uow.people.get(by), now, reason)
            uow.commit(now)
        return idea

    def revise(
        self, idea_id: int, by: str, now: datetime, *, title: str | None = None, description: str | None = None,
        requested_dkk: int | None | Keep = KEEP, departments: tuple[str, ...] | None = None,
        seen_version: int | None = None,
    ) -> tuple[str, ...]:
        """The proposer revises their idea while it is sent back for revision (until its gate is decided).

        What is not given stays as it is (`requested_dkk=None` asks for no amount); the fields follow
        the rules of a submission, and an amount may not exceed the pool's largest grant. Returns the
        fields that changed: none, when the revision changes nothing (and nothing is recorded)."""
        with refusals_recorded(self.engine, "revise", by, idea_id, now), self._uow() as uow:
            idea = _unchanged_since(uow, uow.ideas.get(idea_id), seen_version)
            changed = idea.revise(
                uow.people.get(by), now, title=KEEP if title is None else title,
                description=KEEP if description is None else description, requested_dkk=requested_dkk,
                departments=KEEP if departments is None else tuple(departments))
            if "requested_dkk" in changed:
                IntakeRepository(uow.session).intake(idea.pool.id).check_requested(idea.requested_dkk, idea.pool.name)
            uow.commit(now)
        return changed

    def resume(self, idea_id: int, by: str, now: datetime, seen_version: int | None = None) -> Idea:
        with refusals_recorded(self.engine, "resume", by, idea_id, now), self._uow() as uow:
            idea = _unchanged_since(uow, uow.ideas.get(idea_id), seen_version)
            idea.resume(uow.people.get(by), now)
            uow.commit(now)
        return idea

    # -- deadlines -------------------------------------------------------------------------------

    def sweep(self, now: datetime, batch_size: int = 500, max_conflicts: int = 20) -> SweepReport:
        """Fire every timer due at `now`, exactly once, a batch per transaction."""
        report = SweepReport()
        while fired := self.sweep_batch(now, batch_size, max_conflicts):
            report.fired.extend(fired)
        return report

    def sweep_batch(self, now: datetime, batch_size: int = 500, max_conflicts: int = 20) -> list[FiredTimer]:
        """Fire up to `batch_size` due timers in one transaction; an empty list means nothing is due.

        A timer is claimed (marked fired) in the same transaction as the change it causes, so a
        crash loses or repeats nothing: the transaction either committed both or neither, and a
        re-run (or a retried flow) only finds what is still due. A batch that collides with a
        concurrent change to one of its ideas is rolled back and retried.
        """
        conflicts = 0
        while True:
            try:
                with self._uow() as uow:
                    due = uow.timers.due(now, batch_size)
                    if not due:
                        return []
                    claimed = uow.timers.claim([t.id for t in due], now)
                    uow.ideas.load(t.idea_id for t in due if t.id in claimed)
                    fired = []
                    for timer in due:
                        if timer.id in claimed:
                            outcome = uow.ideas.get(timer.idea_id).fire_timer(timer.kind, now)
                            fired.append(FiredTimer(timer.id, timer.idea_id, timer.kind, outcome))
                    uow.timers.record_outcomes((f.timer_id, f.outcome) for f in fired)
                    uow.commit(now)
                    return fired
            except Conflict:
                conflicts += 1
                if conflicts > max_conflicts:
                    raise

    def queue_digests(self, now: datetime, cadence: Cadence) -> DigestReport:
        return queue_digests(self._uow, now, cadence)

    # -- mail ----------------------------------------------------------------------------------------

    def flush_outbox(
        self, now: datetime, transport: Transport, letterhead: Letterhead, *, batch_size: int = 100,
        lease: timedelta = MAIL_LEASE, max_attempts: int = 8, retry_deferred: bool = False,
        only: Sequence[int] | None = None,
    ) -> FlushReport:
        """Deliver due outbox mail (of `only` these rows, if given), a batch at a time, until none is due or
        the server struggles.

        `retry_deferred` also tries, now, the mail that waits for its backoff after a failed attempt:
        what an operator means by *flush* (as `postqueue -f`); scheduled deliveries keep the backoff.
        `only`: the mail a person's "try again now" concerns (`Administration.mail_to_flush`), not all of it.
        """
        report = FlushReport.for_transport(transport)
        try:
            while self.deliver_batch(now, transport, letterhead, report, batch_size=batch_size, lease=lease,
                                     max_attempts=max_attempts, retry_deferred=retry_deferred, only=only):
                pass
        finally:
            transport.close()
        return self.count_pending(report, now)

    def deliver_now(
        self, mail_ids: Sequence[int], now: datetime, transport: Transport, letterhead: Letterhead,
    ) -> FlushReport:
        """Deliver these outbox rows at once (a sign-in link cannot wait for the next scheduled flush).

        They go through the same lease and settlement as a flush: one that fails stays in the outbox
        for the flushes to retry, and a flush running at the same moment does not send it twice.
        """
        report = FlushReport.for_transport(transport)
        try:
            self.deliver_batch(now, transport, letterhead, report, batch_size=len(mail_ids), only=mail_ids)
        finally:
            transport.close()
        return report

    def deliver_batch(
        self, now: datetime, transport: Transport, letterhead: Letterhead, report: FlushReport, *,
        batch_size: int = 100, lease: timedelta = MAIL_LEASE, max_attempts: int = 8,
        only: Sequence[int] | None = None, retry_deferred: bool = False,
    ) -> bool:
        """Deliver one batch of due mail; True when it is worth trying the next batch now.

        Each row is marked sent only after the transport accepted it, and at once, in its own short
        transaction. Rows are leased in one short transaction, sent outside any transaction, and
        their failures settled in another, so two flushes never hold the same row and a slow server
        blocks no other command. A crash between "accepted" and "marked sent" re-sends that one
        message after the lease: the only duplicate possible, and it carries the same Message-ID.
        Messages a lost connection kept from being tried give their attempt back, and so does the
        message being sent when the server or the settings failed before it was handed over (nothing
        listens, STARTTLS or the login refused: `Unavailable`), so flushing again and again during an
        outage uses up no message's attempts; only the server's answer to a message counts against it.
        """
        with self._uow() as uow:
            batch = uow.outbox.claim_due(now, batch_size, lease, only, deferred_too=retry_deferred)
            uow.commit(now)
        if not batch:
            return False
        return self._deliver(batch, now, transport, letterhead, report, max_attempts)

    def deliver_leased(self, batch: Sequence[OutgoingMail], now: datetime, transport: Transport,
                       letterhead: Letterhead, *, max_attempts: int = 8) -> FlushReport:
        """Deliver messages queued already leased to the caller (`OutboxRepository.add_to_address` with
        `leased_until`, in the caller's own transaction: a confirmation link somebody waits for), and
        settle them as a flush does; one transaction fewer than `deliver_now`, which must claim them first."""
        report = FlushReport.for_transport(transport)
        try:
            self._deliver(batch, now, transport, letterhead, report, max_attempts)
        finally:
            transport.close()
        return report

    def _deliver(self, batch: Sequence[OutgoingMail], now: datetime, transport: Transport, letterhead: Letterhead,
                 report: FlushReport, max_attempts: int) -> bool:
        """Send a leased batch, each row marked sent as soon as it is accepted, then settle the failures."""
        outcomes = self._send_batch(batch, transport, letterhead, lambda mail: self._mark_sent(mail.id, now))
        report.sent += sum(error is None for _, error, _, _ in outcomes)  # each already marked sent
        failures = [outcome for outcome in outcomes if outcome[1] is not None]
        if not failures:  # the usual case, and the public form's every POST: nothing left to settle
            return True
        report.errors.update(error.removeprefix(NOT_TRIED) for _, error, _, _ in failures)
        with self._uow() as uow:
            for mail, error, permanent, tried in failures:
                if permanent or (tried and mail.attempts >= max_attempts):
                    uow.outbox.settle(mail.id, now, status="failed", error=error)
                    report.failed.append(f"{mail.recipient_email}: {error}")
                else:
                    # A message not tried waits as long again as it has waited so far (2 minutes to 6 hours):
                    # a backoff that grows through an outage without counting attempts it never had.
                    wait = (timedelta(minutes=2 ** mail.attempts) if tried
                            else max(timedelta(minutes=2), now - mail.created_at))
                    uow.outbox.settle(mail.id, now, status="pending", next_attempt_at=now + min(wait, LONGEST_BACKOFF),
                                      error=error, tried=tried)
                    report.retrying += 1
            uow.commit(now)
        # A temporary failure means the server is struggling: leave the rest for the next flush.
        return all(permanent for _, _, permanent, _ in failures)

    def count_pending(self, report: FlushReport, now: datetime) -> FlushReport:
        """What is left after a flush: pending mail, of it what waits to be retried after a failure (and
        the most common error, if this flush met none), and what another flush holds leased at `now`."""
        with self._uow(read_only=True) as uow:
            left = uow.outbox.pending_at(now)
        report.pending, report.waiting_for_retry, report.being_sent = left.free, left.waiting, left.leased
        if not report.errors and left.error is not None:
            report.errors[left.error] += 1
        return report

    def resend_failed(self, now: datetime, *, by: str = OPERATOR_EMAIL,
                      only: Sequence[int] | None = None) -> ResendReport:
        """Put the mail that failed for good (of `only` these rows, if given) back in the outbox, as new:
        pending, due now, its attempts reset; its last error stays, prefixed by who sent it again and when.

        For an administrator: a refused address may have been fixed, or the settings. Mail with a
        one-time link (a sign-in link, a submission's confirmation) is left failed: its link is gone."""
        with refusals_recorded(self.engine, "outbox resend", by, None, now), self._uow() as uow:
            require_administrator(uow.people.get(by), "resend_mail")
            resent = uow.outbox.resend_failed(now, f"sent again by {by} at {now.isoformat(timespec='minutes')}",
                                              except_kinds=ONE_TIME_LINK_MAIL, only=only)
            left = uow.outbox.count("failed")
            uow.commit(now)
        return ResendReport(resent, left)

    def _mark_sent(self, mail_id: int, now: datetime) -> None:
        with self._uow() as uow:
            uow.outbox.mark_sent(mail_id, now)
            uow.commit(now)

    @staticmethod
    def _send_batch(
        batch, transport: Transport, letterhead: Letterhead, sent: Callable[[OutgoingMail], None],
    ) -> list[tuple[OutgoingMail, str | None, bool, bool]]:
        """Send each message; (mail, error or None, permanent, tried) for each."""
        outcomes = []
        for index, mail in enumerate(batch):
            try:
                message = build_message(mail, letterhead)
            except Exception as error:  # a broken template must not hold back the rest of the outbox
                outcomes.append((mail, f"cannot render {mail.kind}: {error}", True, True))
                continue
            try:
                transport.send(message, ascii_domain(mail.recipient_email))
                sent(mail)
                outcomes.append((mail, None, False, True))
            except PermanentFailure as error:
                outcomes.append((mail, str(error), True, True))
            except TemporaryFailure as error:
                outcomes.append((mail, str(error), False, True))
                if isinstance(error, Unavailable):  # the server's or the settings' failure: none of them was tried
                    outcomes[-1:] = [(rest, str(error), False, False) for rest in batch[index:]]
                    break
                if error.connection_lost:
                    outcomes += [(rest, f"{NOT_TRIED}{error}", False, False) for rest in batch[index + 1:]]
                    break
        return outcomes


def _unchanged_since(uow: UnitOfWork, idea: Idea, seen_version: int | None) -> Idea:
    """The idea, unless it changed since the person saw it at `seen_version` (None: no such check).

    Two coordinators with the same page open: whoever acts second is told the idea changed instead of
    deciding on what they did not see, and what the latest change was (it came after what they saw,
    however many came between): the stage it moved to, or what happened at it (a review came in, the
    proposer revised it, …). A reviewer's draft, which nobody else reads, does not make the page stale
    (it leaves the version as it is: `Idea.changed_for_others`); a submitted review does."""
    if seen_version is not None and idea.version != seen_version:
        latest = uow.ideas.latest_change(idea.id)
        if latest is None or latest.from_stage != latest.to_stage or latest.action not in CHANGES_SAID:
            raise Conflict("conflict.changed_meanwhile", idea=idea.id, stage=idea.stage)
        raise Conflict("conflict.changed_meanwhile_what", idea=idea.id, what=latest.action)
    return idea


NOT_TRIED = "not tried: "


@dataclass(slots=True)
class FlushReport:
    """What a flush did. `pending` and `waiting_for_retry` count the mail no flush holds; `being_sent`
    what another flush holds leased (not a failure: it is being sent); `folder`: where the mail went
    when it went into a folder of .eml files, and `why` (the settings' reason), so nobody takes it for sent."""

    sent: int = 0
    retrying: int = 0
    failed: list[str] = field(default_factory=list)
    pending: int = 0
    waiting_for_retry: int = 0
    being_sent: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    folder: str | None = None
    why: str = ""

    @classmethod
    def for_transport(cls, transport: Transport) -> FlushReport:
        if isinstance(transport, FolderTransport):
            return cls(folder=str(transport.folder).rstrip("/") + "/", why=transport.why)
        return cls()

    @property
    def cause(self) -> str | None:
        """The error met most often (the first of equals): what an operator needs to hear first."""
        return self.errors.most_common(1)[0][0] if self.errors else None

    def summary(self) -> str:
        if self.folder is None:
            parts = [f"sent {self.sent}"]
        else:
            parts = [f"written {self.sent} as .eml files to {self.folder}" + (f" ({self.why})" if self.why else "")]
        if self.failed:
            parts.append(f"failed permanently {len(self.failed)}")
        parts.append(f"{self.pending} still pending")
        if self.waiting_for_retry:
            parts.append(f"{self.waiting_for_retry} of them waiting to retry after a failed delivery")
        if self.being_sent:
            parts.append(f"{self.being_sent} being sent by another flush")
        line = ", ".join(parts)
        if not self.ok and self.cause is not None:
            others = len(self.errors) - 1
            line += f"; cause: {self.cause}" + (f" (and {others} other error{'s' * (others > 1)})" if others else "")
        return line

    @property
    def ok(self) -> bool:
        """False while any mail failed in this flush or still waits to be retried after an earlier failure
        (mail another flush is sending is neither)."""
        return not self.failed and not self.retrying and not self.waiting_for_retry


@dataclass(frozen=True, slots=True)
class ResendReport:
    ids: list[int]  # failed mail put back to be sent
    left: int  # failed mail left failed (its one-time link is gone)

    @property
    def resent(self) -> int:
        return len(self.ids)

    def summary(self) -> str:
        line = f"{self.resent} failed message{'s' * (self.resent != 1)} put back to be sent"
        if self.left:
            line += (f"; {self.left} left failed (a sign-in link or a confirmation whose one-time link is gone: "
                     "the person asks for a new one)")
        return line


@dataclass(frozen=True, slots=True)
class FiredTimer:
    timer_id: int
    idea_id: int
    kind: str
    outcome: str


@dataclass(slots=True)
class SweepReport:
    fired: list[FiredTimer] = field(default_factory=list)

    def tally(self) -> SweepTally:
        return SweepTally(Counter(_outcome_kind(f.outcome) for f in self.fired))

    def summary(self) -> str:
        return self.tally().summary()


@dataclass(slots=True)
class SweepTally:
    """How many timers fired, by outcome: what a flow reports (each idea's history has the details)."""

    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def fired(self) -> int:
        return sum(self.outcomes.values())

    def add(self, other: SweepTally) -> None:
        self.outcomes.update(other.outcomes)

    def summary(self) -> str:
        if not self.fired:
            return "nothing was due"
        return f"fired {self.fired} timer(s): " + ", ".join(
            f"{n} × {what}" for what, n in self.outcomes.most_common())


def _outcome_kind(outcome: str) -> str:
    """'skipped: <why>' outcomes are grouped by their first clause, so the summary stays short."""
    return outcome.split(";")[0] if outcome.startswith("skipped") else outcome
