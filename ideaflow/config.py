"""Configuration from the environment (prefix IDEAFLOW_) or a `.env` file in the working folder.

Read only by the composition root (ideaflow.bootstrap) and the entry points: each builds its own
`Settings()` when it starts, so nothing here is cached for the whole process.

A setting ideaflow cannot use fails validation; `explain` makes the error one line naming the setting
and what it must be (the CLI exits 2 with it). `warnings` names what is probably a mistake but harms
nothing else: an IDEAFLOW_ variable that is no setting (a typo, with the setting it resembles), and
single sign-on given only some of the three settings it needs.
"""

from __future__ import annotations

import difflib
import email.policy
import os
from collections.abc import Iterable, Mapping
from datetime import time
from pathlib import Path
from typing import Self

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from states.vocabulary import Language


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDEAFLOW_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///ideaflow.db"
    # The command line's language for its error lines: "en" (default, as its commands and output) or "da".
    lang: Language = Language.EN
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 30.0
    mail_from: str = "ideaflow <ideaflow@localhost>"
    mail_dir: Path = Path("mail")
    # The public idea form: how long a confirmation link works (an unconfirmed submission is then
    # deleted), the attachments it takes, and how many submissions one client address and one e-mail
    # address may make per window.
    submission_expiry_hours: int = Field(default=72, ge=1, le=24 * 90)
    attachment_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    attachment_max_count: int = Field(default=5, ge=0, le=20)
    submit_per_address: int = Field(default=20, ge=1)
    submit_per_email: int = Field(default=5, ge=1)
    submit_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # The privacy notice (GDPR art. 13) shown with the form: the municipality (controller), how to reach
    # it and its data protection officer, and optionally a YAML file replacing any of the default texts.
    privacy_controller: str = "Kommunen"
    privacy_contact: str = ""
    privacy_dpo: str = ""
    privacy_notice_file: Path | None = None
    # Weekly digests: weekday (0 = Monday) and local time in Europe/Copenhagen.
    digest_weekday: int = Field(default=0, ge=0, le=6)
    digest_time: time = time(7, 0)
    digest_horizon_days: int = Field(default=14, ge=1)
    stuck_days: int = Field(default=60, ge=1)
    # How often `ideaflow serve` sweeps and delivers (prefect.yaml has the same defaults for servers).
    sweep_every_s: int = Field(default=15 * 60, ge=1)
    deliver_every_s: int = Field(default=5 * 60, ge=1)
    # The port of the Prefect server (and UI) `ideaflow serve` starts when PREFECT_API_URL is not set.
    prefect_port: int = Field(default=4200, ge=1, le=65535)

    # -- the web console -----------------------------------------------------------------------------
    # Where `ideaflow web` and `ideaflow serve` listen (their --host and --port override these).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=0, le=65535)
    # The address people reach the console at (links in mail are made from it; https:// makes cookies Secure).
    # Unset: the console's own address, http://WEB_HOST:WEB_PORT/ (also when --host/--port move it).
    public_url: str = ""
    _public_url_given: bool = PrivateAttr(default=False)
    # Signs sessions, tokens and forms. Unset: one is generated once and kept in the database, so a
    # restart keeps sessions and every worker process on one database shares it.
    secret_key: SecretStr | None = None
    # Send cookies only over HTTPS. Unset: on when public_url starts with https://.
    cookie_secure: bool | None = None
    # The accessibility statement (Danish authorities publish theirs with WAS-Tool) and the privacy notice.
    accessibility_url: str = "/accessibility"
    privacy_url: str = "/privacy"
    # Largest request body the console reads (forms, attachments), in bytes.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Signing in by e-mail link, and how long a session lasts.
    signin_link_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_idle_minutes: int = Field(default=60, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    # Sign-in links one address and one IP address may ask for per rate window.
    signin_per_address: int = Field(default=5, ge=1)
    signin_per_ip: int = Field(default=30, ge=1)
    signin_window_minutes: int = Field(default=15, ge=1)
    # A link asked for again this soon, while the one just sent is unused, is not mailed again (0: always).
    signin_repeat_seconds: int = Field(default=60, ge=0)
    # Single sign-on by OpenID Connect: all three set turn it on. The issuer is the exact issuer
    # address (Entra ID: the tenant's, https://login.microsoftonline.com/<tenant>/v2.0, not "common").
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # The ID token claim holding the person's address (Entra ID may need "preferred_username").
    oidc_email_claim: str = "email"

    @field_validator("database_url")
    @classmethod
    def _a_supported_database(cls, value: str) -> str:
        return database_address(value)

    @field_validator("mail_from")
    @classmethod
    def _one_address(cls, value: str) -> str:
        return sender(value)

    @model_validator(mode="after")
    def _public_url_defaults_to_the_console(self) -> Self:
        self._public_url_given = bool(self.public_url)
        if not self.public_url:
            self.public_url = _console_url(self.web_host, self.web_port)
        return self

    def for_console(self, host: str, port: int) -> Settings:
        """These settings for a console listening on host:port (the --host and --port of `ideaflow web`
        and `serve`): unless IDEAFLOW_PUBLIC_URL says otherwise, the links in mail lead there."""
        update = {"web_host": host, "web_port": port}
        if not self._public_url_given and port:
            update["public_url"] = _console_url(host, port)
        return self.model_copy(update=update)  # the copy keeps whether the address was given

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://") if self.cookie_secure is None else self.cookie_secure

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)


def _console_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


PREFIX = "IDEAFLOW_"
_POSTGRESQL = "postgresql+psycopg"


def database_address(url: str) -> str:
    """The address of a database ideaflow works with: SQLite or PostgreSQL (by psycopg, the driver it
    installs; `postgres://` and `postgresql://`, as other tools write it, mean that); else ValueError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("must be a database address, sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DATABASE") \
            from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise ValueError(f"names the driver {driver!r}, which ideaflow does not install: write postgresql://…")
        return url if parsed.drivername == _POSTGRESQL else parsed.set(drivername=_POSTGRESQL).render_as_string(
            hide_password=False)
    if backend == "sqlite" and driver in ("", "pysqlite"):
        _sqlite_folder(parsed.database, parsed.query)
        return url
    raise ValueError(f"must be a SQLite or PostgreSQL database (sqlite:///FILE or postgresql://…), not {backend}: "
                     "ideaflow works with these two only")


def _sqlite_folder(database: str | None, query: Mapping[str, object]) -> None:
    """A SQLite file's folder must be there: SQLite makes the file, not its folder, and says only "unable
    to open database file" when the folder is missing. An in-memory database has none, nor is a
    `file:` URI (uri=true) a path."""
    if not database or database == ":memory:" or str(query.get("uri", "")).lower() in ("true", "1"):
        return
    folder = Path(database).absolute().parent  # a relative file is in the working folder, and said so
    if not folder.exists():
        raise ValueError(f"names a SQLite file in the folder '{folder}', which does not exist: create the folder, "
                         "or name a file in one that does")
    if not folder.is_dir():
        raise ValueError(f"names a SQLite file in '{folder}', which is not a folder")


def sender(value: str) -> str:
    """A From header of one address, with a name before it or not (`Innovation <innovation@kommune.dk>`)."""
    try:
        header = email.policy.default.header_factory("From", value)
        (address,) = header.addresses
        well_formed = not header.defects and address.username and address.domain
    except Exception:  # noqa: BLE001 (the parser fails in many ways on what is no address)
        well_formed = False
    if not well_formed or "\r" in value or "\n" in value:
        raise ValueError("must be one e-mail address, with a name before it if you like: "
                         "Innovation <innovation@kommune.dk>")
    return value


#: Fields whose value an error line does not repeat (a password, a key, a database address with its password).
_SECRET = frozenset({"database_url", "smtp_password", "secret_key", "oidc_client_secret"})
_SAYS = {"int": "a whole number", "float": "a number", "bool": "true or false",
         "time": "a time of day as HH:MM, for example 07:00"}


def _bounds(name: str) -> str:
    low = high = None
    for rule in Settings.model_fields[name].metadata:
        low, high = getattr(rule, "ge", low), getattr(rule, "le", high)
    if low is not None and high is not None:
        return f" from {low} to {high}"
    return f" of at least {low}" if low is not None else ""


def explain(error: ValidationError) -> str:
    """The settings' validation error as one line: each setting, what it must be, and what it is."""
    lines = []
    for problem in error.errors(include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else ""
        kind = problem["type"].split("_")[0]
        if problem["type"] == "value_error":
            says = str(problem["ctx"]["error"])
        elif problem["type"] == "enum":
            says = f"must be {problem['ctx']['expected']}"
        elif name in Settings.model_fields and kind in ("int", "float", "greater", "less"):
            number = _SAYS["int" if Settings.model_fields[name].annotation is int else "float"]
            says = f"must be {number}{_bounds(name)}"
        elif kind in _SAYS:
            says = f"must be {_SAYS[kind]}"
        else:
            says = problem["msg"].replace("Input should be", "must be")
        shown = "" if name in _SECRET or not isinstance(problem.get("input"), str) else f" (it is {problem['input']!r})"
        lines.append(f"{PREFIX}{name.upper()} {says}{shown}")
    return "; ".join(lines)


#: IDEAFLOW_ variables that are no settings of ideaflow but the test suite's own.
_NOT_SETTINGS = ("IDEAFLOW_TEST_", "IDEAFLOW_SCREENSHOTS")
_OIDC = ("oidc_issuer", "oidc_client_id", "oidc_client_secret")


def warnings(settings: Settings, names: Iterable[str]) -> list[str]:
    """A line for each of `names` (the environment's variables) that looks like a setting and is none,
    naming the setting it resembles, and one if single sign-on has some of its three settings only."""
    known = [name.upper() for name in Settings.model_fields]
    lines = []
    for variable in sorted({name.upper() for name in names}):
        if not variable.startswith(PREFIX) or variable.startswith(_NOT_SETTINGS):
            continue
        if (setting := variable.removeprefix(PREFIX)) not in known:
            close = difflib.get_close_matches(setting, known, n=1, cutoff=0.6)
            hint = f"; did you mean {PREFIX}{close[0]}?" if close else ""
            lines.append(f"warning: {variable} is no setting of ideaflow and is ignored{hint}")
    given = [name for name in _OIDC if getattr(settings, name)]
    if given and len(given) < len(_OIDC):
        missing = " and ".join(PREFIX + name.upper() for name in _OIDC if name not in given)
        lines.append(f"warning: single sign-on is off: it needs {missing} as well")
    return lines


def environment_names(env_file: Path = Path(".env")) -> list[str]:
    """The names of the environment's variables and of those the `.env` file in the working folder sets."""
    names = list(os.environ)
    if env_file.is_file():
        from dotenv import dotenv_values

        names += [name for name in dotenv_values(env_file) if name]
    return names
