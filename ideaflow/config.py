"""Configuration from the environment (prefix IDEAFLOW_) or a `.env` file in the working folder."""

from datetime import time
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDEAFLOW_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///ideaflow.db"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 30.0
    mail_from: str = "ideaflow <ideaflow@localhost>"
    mail_dir: Path = Path("mail")
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
