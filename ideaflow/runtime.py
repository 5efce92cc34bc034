"""The process-wide engine and services, and the settings-derived pieces every entry point shares."""

from functools import lru_cache

from sqlalchemy import Engine

from ideaflow.config import get_settings
from ideaflow.digests import Cadence
from ideaflow.services import Services
from notifications.delivery import Transport, transport_for
from storage.db import make_engine


@lru_cache
def engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def services() -> Services:
    return Services(engine())


def digest_cadence() -> Cadence:
    settings = get_settings()
    return Cadence(settings.digest_weekday, settings.digest_time, settings.digest_horizon_days, settings.stuck_days)


def mail_transport() -> Transport:
    """SMTP when IDEAFLOW_SMTP_HOST is set, else one .eml file per message in IDEAFLOW_MAIL_DIR."""
    return transport_for(get_settings())


def mail_sender() -> str:
    return get_settings().mail_from
