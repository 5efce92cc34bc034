"""Amounts, dates and times the Danish way (Babel), shown in Europe/Copenhagen.

English readers get English month names; amounts stay in kroner with Danish separators only in
Danish (`1.500.000 kr.` / `DKK 1,500,000`).
"""

from datetime import date, datetime

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from states.vocabulary import COPENHAGEN

LOCALES = {"da": "da_DK", "en": "en_GB"}


def dkk(amount: int | None, lang: str = "da") -> str:
    if amount is None:
        return "–"
    number = format_decimal(amount, locale=LOCALES[lang])
    return f"{number} kr." if lang == "da" else f"DKK {number}"


def number(value: int, lang: str = "da") -> str:
    """A count with the language's digit grouping: 20.000 in Danish, 20,000 in English."""
    return format_decimal(value, locale=LOCALES[lang])


def day(value: date | str | None, lang: str = "da") -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, format="long", locale=LOCALES[lang])


def moment(value: datetime | str | None, lang: str = "da") -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    pattern = "d. MMMM y 'kl.' HH:mm" if lang == "da" else "d MMMM y 'at' HH:mm"
    return format_datetime(value, pattern, tzinfo=COPENHAGEN, locale=LOCALES[lang])


def score(value: float | None, lang: str = "da") -> str:
    return "–" if value is None else format_decimal(value, format="0.00", locale=LOCALES[lang])


def file_size(n_bytes: int, lang: str = "da") -> str:
    """A file's size as people read it: 12 kB, 10 MB, 1,5 MB (1.5 MB in English)."""
    kilobytes = max(1, round(n_bytes / 1024))
    if kilobytes < 1024:
        return f"{kilobytes} kB"
    megabytes = f"{n_bytes / 1024 / 1024:.1f}".removesuffix(".0")
    return (megabytes.replace(".", ",") if lang == "da" else megabytes) + " MB"
