"""Danish alphabetical order: a b c … z æ ø å, whatever the case.

Code-point order, which both databases use unless told otherwise, puts Å before Æ and Ø and every
capital before every small letter: a coordinator sorting ideas by title would find "Åben skole"
before "Ældrepleje" and "Zoo" before "abe". This is the order of the Danish collation of the
Unicode CLDR (what PostgreSQL's ICU collation "da" and office programs follow), as far as titles
need it:

- case is ignored (ties fall to whatever the caller orders by next);
- æ, ø, å come after z, in that order; ä sorts as æ, ö and ő as ø, ü as y;
- "aa" sorts as å (Aabenraa after Zealand), as the Danish rules for names have it;
- other letters with accents sort as their base letter (é as e), ð and đ as d, þ as th;
- the rest (digits, spaces, punctuation) keeps code-point order, which puts them before letters.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: After every other character a title is likely to hold, in this order.
_AE, _OE, _AA = "\U000f0000", "\U000f0001", "\U000f0002"
_LETTERS = str.maketrans({"æ": _AE, "ä": _AE, "ø": _OE, "ö": _OE, "ő": _OE, "å": _AA, "ü": "y", "ð": "d",
                          "đ": "d", "þ": "th"})


#: The combining accents (U+0300–U+036F) that decomposing an accented Latin letter leaves after it.
_ACCENTS = dict.fromkeys(range(0x300, 0x370))


@lru_cache(maxsize=131_072)
def order_key(text: str) -> str:
    """A key whose code-point order is the Danish alphabetical order of `text`.

    SQLite asks for both keys at every comparison of a sort, so each is kept once computed; a title
    in plain ASCII letters is its own key, case folded."""
    folded = text.casefold()
    if folded.isascii() and "aa" not in folded:
        return folded
    folded = unicodedata.normalize("NFC", folded).replace("aa", "å").translate(_LETTERS)
    # Other accents go: "é" is "e" + a combining accent once decomposed (æ, ø, å are already replaced).
    return unicodedata.normalize("NFKD", folded).translate(_ACCENTS)


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 as `left` comes before, together with or after `right` (SQLite's collation callback)."""
    a, b = order_key(left), order_key(right)
    return (a > b) - (a < b)
