"""Amounts, dates and times the Danish way (Babel), shown in Europe/Copenhagen."""

from datetime import date, datetime

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from states.model import COPENHAGEN


def dkk(amount: int | None) -> str:
    return "–" if amount is None else f"{format_decimal(amount, locale='da_DK')} kr."


def day(value: date | None) -> str:
    return "–" if value is None else format_date(value, format="long", locale="da_DK")


def moment(value: datetime | None) -> str:
    if value is None:
        return "–"
    return format_datetime(value, "d. MMMM y 'kl.' HH:mm", tzinfo=COPENHAGEN, locale="da_DK")


def score(value: float | None) -> str:
    return "–" if value is None else format_decimal(value, format="0.00", locale="da_DK")
