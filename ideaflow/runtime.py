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
    from fastapi import FastAPI
    from sqlalchemy import Engine

    from ideaflow.digests import Cadence
    from ideaflow.services import Services
    from ideaflow.signin import SignIn
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


@lru_cache
def signin() -> SignIn:
    """Signing in to the web console, keyed by IDEAFLOW_SECRET_KEY or the installation's stored secret."""
    from datetime import UTC, datetime, timedelta

    from ideaflow.signin import Keys, SignIn, SignInPolicy, installation_secret

    s = get_settings()
    if s.secret_key:
        secret = s.secret_key.get_secret_value().encode()
    else:
        secret = installation_secret(engine(), datetime.now(UTC))
    policy = SignInPolicy(
        link_valid=timedelta(minutes=s.signin_link_minutes), idle=timedelta(minutes=s.session_idle_minutes),
        absolute=timedelta(hours=s.session_absolute_hours), per_address=s.signin_per_address,
        per_ip=s.signin_per_ip, window=timedelta(minutes=s.signin_window_minutes),
    )
    return SignIn(engine(), Keys(secret), policy, s.public_url,
                  lambda mail_ids, now: services().deliver_now(mail_ids, now, mail_transport(), mail_sender()))


def web_app() -> FastAPI:
    """The web console for these settings (`uvicorn --factory ideaflow.runtime:web_app` runs it too)."""
    from web.app import create_app

    return create_app(get_settings(), services(), signin())
