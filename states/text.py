"""What free text and addresses the domain accepts.

Text is stored exactly as given or refused, never silently trimmed or rewritten: a municipality's
record must show what the person wrote. Control characters are refused (NUL cannot even be stored
in PostgreSQL), except line breaks and tabs where text may span lines.
"""

import re
import unicodedata

from states.errors import BadInput

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_ALLOWED_IN_MULTILINE = {"\n", "\t", "\r"}


def text(value: str, field: str, *, max_length: int, multiline: bool = False, required: bool = True) -> str:
    if required and not value.strip():
        raise BadInput("text.empty", field=field)
    if len(value) > max_length:
        raise BadInput("text.too_long", field=field, length=len(value), max_length=max_length)
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in _ALLOWED_IN_MULTILINE):
            raise BadInput("text.control_character", field=field, character=f"U+{ord(char):04X}")
        if unicodedata.category(char) == "Cs":
            raise BadInput("text.surrogate", field=field)
    return value


# A whole number as people write one: plain digits, or grouped in threes by one separator (250.000 the
# Danish way, 250,000 the English way, 250 000 either way), maybe after a minus sign.
WRITTEN_NUMBER = re.compile(r"(?P<minus>[-\u2212]?)(?P<digits>[0-9]+|[0-9]{1,3}(?P<separator>[.,\u0020\u00a0\u202f])"
                            r"[0-9]{3}(?:(?P=separator)[0-9]{3})*)")


def written_number(value: str) -> int | None:
    """The whole number `value` writes, as people write one (see WRITTEN_NUMBER); None for anything else.

    A decimal above all is no whole number: "12.50" is not 1250 nor "1,5" 15, whichever language the
    reader writes, so no amount or count is silently multiplied. A minus is read; the caller's range
    refuses it with the range."""
    found = WRITTEN_NUMBER.fullmatch(value.strip())
    if found is None:
        return None
    digits = "".join(c for c in found["digits"] if c.isdigit()).lstrip("0") or "0"
    # Beyond every range here, and `int` refuses more than 4,300 digits: a number so long is as good as 10**30.
    number = int(digits) if len(digits) <= 30 else 10**30
    return -number if found["minus"] else number


def whole_number(value: str, *, max_digits: int = 12) -> int | None:
    """The number `value` writes with the digits 0–9 alone, at most `max_digits` of them; else None.

    `str.isdigit` is no guard before `int`: it also accepts "²" and other digits that `int` cannot
    read, which made a form field or a query parameter holding one a server error, not a refusal."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= max_digits else None


def email(value: str, field: str = "email") -> str:
    if len(value) > 320 or not EMAIL.match(value) or any(unicodedata.category(c)[0] == "C" for c in value):
        raise BadInput("email.invalid", field=field, value=value)
    return value


def amount_dkk(value: int, field: str) -> int:
    """Whole kroner, positive, and below a trillion (far above any municipal budget)."""
    if not 1 <= value < 10**12:
        raise BadInput("amount.out_of_range", field=field, low_dkk=1, high_dkk=10**12 - 1)
    return value
