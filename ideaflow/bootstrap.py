"""The composition root: the one place that turns Settings into ideaflow's parts and wires them.

Every entry point builds its own application with `bootstrap(settings)`: the CLI once per
invocation, each Prefect flow run, the web console (`web.app.create_app(container)`), each test in
a fixture.
Only the engine outlives an application: one per database address per process, as SQLAlchemy
intends, because its compiled-statement cache lives on the engine. Commands run one after another
in one process (a flow run's tasks, a racing worker, the tests' in-process CLI) then compile each
statement once instead of once per command, which was a third of a `decide`. `close()` gives the
connections back; another database is another address, so nothing needs clearing. Parts are built
on first use: `ideaflow show` needs the engine and the read models, not the mail and digest
machinery (nor their imports).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property, lru_cache, partial
from typing import TYPE_CHECKING

from ideaflow.config import Settings
from states.errors import Refused
from storage.db import make_engine
from storage.schema import unknown_revision

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ideaflow.administration import Administration
    from ideaflow.digests import Cadence
    from ideaflow.inbox import Reviewing
    from ideaflow.intake import Intake
    from ideaflow.pilots import Pilots
    from ideaflow.portfolio import Portfolio
    from ideaflow.privacy import PrivacySettings
    from ideaflow.services import FlushReport, Services
    from ideaflow.signin import SignIn
    from notifications.delivery import Transport
    from notifications.message import Letterhead
    from storage.repository import OutgoingMail


class ReadModels:
    """The read models of `ideaflow.views`, bound to one engine: `idea(id)`, `lines(stage=, pool=)`,
    `pool(name)` take the views' own arguments after the engine; `idea_page(id, email, now)` is the
    web console's idea page (`ideaflow.ideapage`)."""

    def __init__(self, engine: Engine) -> None:
        from ideaflow import ideapage, views

        self.idea = partial(views.idea_view, engine)
        self.lines = partial(views.idea_lines, engine)
        self.pool = partial(views.pool_view, engine)
        self.idea_page = partial(ideapage.idea_page, engine)


@lru_cache(maxsize=8)
def _engine(database_url: str) -> Engine:
    """The process's engine for the database, once it is known not to be from a newer release: a newer
    schema is refused before any command reads or writes it (or `ideaflow init` tries to migrate it)."""
    engine = make_engine(database_url)
    try:
        if (revision := unknown_revision(engine)) is not None:
            raise Refused("database.newer_schema", revision=revision)
    except BaseException:
        engine.dispose()  # not cached: the next command checks again
        raise
    return engine


class Container:
    """One application: its settings, and the parts built from them on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def engine(self) -> Engine:
        return _engine(self.settings.database_url)

    def upgrade_database(self) -> str:
        """Create or upgrade the schema (safe to repeat); the revision now current."""
        from storage.migrate import upgrade

        return upgrade(self.engine)

    @property
    def database_shown(self) -> str:
        """The database's address as it may be printed: its password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @cached_property
    def services(self) -> Services:
        from ideaflow.services import Services
        from notifications.handlers import queue_mail

        return Services(self.engine, subscriber=queue_mail)

    @cached_property
    def views(self) -> ReadModels:
        return ReadModels(self.engine)

    @cached_property
    def reviewing(self) -> Reviewing:
        """The reviewer's inbox and review form (saving a review is `services.review`)."""
        from ideaflow.inbox import Reviewing

        return Reviewing(self.engine)

    @cached_property
    def pilots(self) -> Pilots:
        """A follow-up group's view of the pilots it follows."""
        from ideaflow.pilots import Pilots

        return Pilots(self.engine)

    @cached_property
    def portfolio(self) -> Portfolio:
        """The coordinator's portfolio: filtered, counted, sorted, paged, exported; previous and next."""
        from ideaflow.portfolio import Portfolio

        return Portfolio(self.engine)

    @cached_property
    def administration(self) -> Administration:
        """Pools, people and roles, and the outbox, as coordinators and administrators see them."""
        from ideaflow.administration import Administration

        return Administration(self.engine)

    @cached_property
    def digest_cadence(self) -> Cadence:
        from ideaflow.digests import Cadence

        s = self.settings
        return Cadence(s.digest_weekday, s.digest_time, s.digest_horizon_days, s.stuck_days)

    @property
    def letterhead(self) -> Letterhead:
        """What every message carries: the sender, and the web console's address its links lead to."""
        from notifications.message import Letterhead

        return Letterhead(self.settings.mail_from, self.settings.public_url)

    def mail_transport(self) -> Transport:
        """A new transport for one delivery run (an SMTP transport holds its connection until closed):
        SMTP when IDEAFLOW_SMTP_HOST is set, else one .eml file per message in IDEAFLOW_MAIL_DIR."""
        from notifications.delivery import FolderTransport, SmtpConfig, SmtpTransport

        s = self.settings
        if not s.smtp_host:
            return FolderTransport(s.mail_dir, why="no IDEAFLOW_SMTP_HOST set")
        return SmtpTransport(SmtpConfig(
            host=s.smtp_host, mail_from=s.mail_from, port=s.smtp_port, user=s.smtp_user,
            password=s.smtp_password.get_secret_value() if s.smtp_password else "", starttls=s.smtp_starttls,
            timeout_s=s.smtp_timeout_s,
        ))

    def check_mail(self) -> None:
        """Refuse at start-up, in one line, a sender that no SMTP server would accept: a long-running
        process would otherwise tell people "check your mail" for a mail that can never leave."""
        self.mail_transport()

    @cached_property
    def privacy(self) -> PrivacySettings:
        """What the privacy notice names (GDPR art. 13), from the IDEAFLOW_PRIVACY_* settings."""
        from ideaflow.privacy import PrivacySettings

        s = self.settings
        return PrivacySettings(controller=s.privacy_controller, contact=s.privacy_contact, dpo=s.privacy_dpo,
                               expiry_hours=s.submission_expiry_hours, rate_window_minutes=s.submit_window_minutes,
                               notice_file=s.privacy_notice_file)

    def privacy_warnings(self) -> list[str]:
        """A line for each detail GDPR art. 13(1)(a)-(b) asks for that the municipality has not given, naming
        the setting that gives it: the public pages show a placeholder until it is set."""
        from ideaflow.privacy import missing_details

        what = {"controller": "names no controller but 'Kommunen' (GDPR art. 13(1)(a))",
                "contact": "gives no contact details for the controller (GDPR art. 13(1)(a))",
                "dpo": "gives no contact details for the data protection officer (GDPR art. 13(1)(b))"}
        return [f"warning: the privacy notice {what[detail]}: set IDEAFLOW_PRIVACY_{detail.upper()}"
                for detail in missing_details(self.privacy)]

    @cached_property
    def secret(self) -> bytes:
        """The key of keyed hashes (tokens, addresses): IDEAFLOW_SECRET_KEY, or the installation's stored secret."""
        from datetime import UTC, datetime

        from ideaflow.signin import installation_secret

        key = self.settings.secret_key
        return key.get_secret_value().encode() if key else installation_secret(self.engine, datetime.now(UTC))

    def deliver_now(self, mail_ids: Sequence[int], now: datetime) -> None:
        """Deliver these outbox rows at once (a link somebody waits for), with a transport of their own."""
        self.services.deliver_now(mail_ids, now, self.mail_transport(), self.letterhead)

    def deliver_leased(self, mails: Sequence[OutgoingMail], now: datetime) -> FlushReport:
        """Deliver outbox rows queued already leased to this process (a confirmation link), at once."""
        return self.services.deliver_leased(mails, now, self.mail_transport(), self.letterhead)

    @cached_property
    def signin(self) -> SignIn:
        """Signing in to the web console, keyed by IDEAFLOW_SECRET_KEY or the installation's stored secret;
        a sign-in link is delivered at once, not at the next scheduled flush."""
        from datetime import timedelta

        from ideaflow.signin import Keys, SignIn, SignInPolicy

        s = self.settings
        policy = SignInPolicy(
            link_valid=timedelta(minutes=s.signin_link_minutes), idle=timedelta(minutes=s.session_idle_minutes),
            absolute=timedelta(hours=s.session_absolute_hours), per_address=s.signin_per_address,
            per_ip=s.signin_per_ip, window=timedelta(minutes=s.signin_window_minutes),
            repeat_after=timedelta(seconds=s.signin_repeat_seconds),
        )
        return SignIn(self.engine, Keys(self.secret), policy, s.public_url, self.deliver_now)

    @cached_property
    def intake(self) -> Intake:
        """The public intake (pools open for ideas, submissions confirmed by mail, the proposer's record);
        its key is fetched only when a token is hashed, so `ideaflow sweep` does not need it."""
        from datetime import timedelta

        from ideaflow.intake import Intake, IntakeSettings
        from notifications.handlers import queue_mail
        from states.intake import AttachmentRules

        s = self.settings
        settings = IntakeSettings(
            submission_ttl=timedelta(hours=s.submission_expiry_hours),
            attachments=AttachmentRules(s.attachment_max_bytes, s.attachment_max_count),
            per_address=s.submit_per_address, per_email=s.submit_per_email,
            rate_window=timedelta(minutes=s.submit_window_minutes), privacy=self.privacy,
        )
        return Intake(self.engine, settings, lambda: self.secret, self.deliver_leased, subscriber=queue_mail)

    def close(self) -> None:
        """The end of this application's use; it holds nothing of its own to give back.

        Its engine is the process's one for the database (`_engine`), shared by every container on it:
        disposing it here closed the pooled connections that the next command in the same process
        (the console's requests, a flow run after another, the tests' in-process commands) then
        opened again, ~1 ms on SQLite and more on PostgreSQL, at every command. The connections
        close with the process."""

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def bootstrap(settings: Settings | None = None) -> Container:
    """The application for `settings` (default: IDEAFLOW_* from the environment and `.env`)."""
    return Container(Settings() if settings is None else settings)
