"""Configuration from the environment (prefix IDEAFLOW_) or a `.env` file in the working folder."""

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
