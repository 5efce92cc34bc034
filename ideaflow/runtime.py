"""The process-wide engine and services, and the settings-derived pieces every entry point shares.

Imports beyond the engine are deferred to the functions that need them: `ideaflow show` pays only
for SQLAlchemy and the read models, not for the mail and digest machinery.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from ideaflow.config import get_settings
from storage.db import make_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ideaflow.digests import Cadence
    from ideaflow.services import Services
    from notifications.delivery import Transport


@lru_cache
def engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def services() -> Services:
    from ideaflow.services import Services

    return Services(engine())


def digest_cadence() -> Cadence:
    from ideaflow.digests import Cadence

    settings = get_settings()
    return Cadence(settings.digest_weekday, settings.digest_time, settings.digest_horizon_days, settings.stuck_days)


def mail_transport() -> Transport:
    """SMTP when IDEAFLOW_SMTP_HOST is set, else one .eml file per message in IDEAFLOW_MAIL_DIR."""
    from notifications.delivery import transport_for

    return transport_for(get_settings())


def mail_sender() -> str:
    return get_settings().mail_from
