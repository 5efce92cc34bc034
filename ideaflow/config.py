"""Configuration from the environment (prefix IDEAFLOW_) or a `.env` file in the working folder.

Read only by the composition root (ideaflow.bootstrap) and the entry points: each builds its own
`Settings()` when it starts, so nothing here is cached for the whole process.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Self

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from states.vocabulary import Language


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDEAFLOW_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///ideaflow.db"
    # The command line's language for its error lines: "en" (default, as its commands and output) or "da".
    lang: Language = Language.EN
    smtp_host: str | None = None
    smtp_port: int = 25
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
    # Single sign-on by OpenID Connect: all three set turn it on. The issuer is the exact issuer
    # address (Entra ID: the tenant's, https://login.microsoftonline.com/<tenant>/v2.0, not "common").
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # The ID token claim holding the person's address (Entra ID may need "preferred_username").
    oidc_email_claim: str = "email"

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
