"""The process-wide engine and services, built lazily from the settings."""

from functools import lru_cache

from sqlalchemy import Engine

from ideaflow.config import get_settings
from ideaflow.services import Services
from storage.db import make_engine


@lru_cache
def engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def services() -> Services:
    return Services(engine())
