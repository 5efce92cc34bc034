r"""ideaflow's words in Danish (the default) and English, from Babel message catalogues.

Texts are written in English in the code and the web templates (`N_()`, `_()`, `{% trans %}`) and
translated by `ideaflow/translations/<lang>/LC_MESSAGES/messages.po`: the console's pages and what the
service layer says to a proposer (their ideas' stages and history on "my ideas" and in their data
export) come from this one catalogue. The `.po` files are the source, committed; they are compiled in
memory, once per process when first asked for, so no compiled `.mo` file can fall out of step.

    pybabel extract -F babel.cfg -o ideaflow/translations/messages.pot --no-location --omit-header --sort-output .
    pybabel update -i ideaflow/translations/messages.pot -d ideaflow/translations --no-fuzzy-matching --no-wrap \
        --ignore-obsolete

(then translate the new Danish entries, English needs none, and drop the placeholder lines pybabel
adds to the header: Report-Msgid-Bugs-To, Last-Translator, Language-Team). A test fails while a text
in the code or templates has no Danish translation, or the catalogue holds one nothing uses.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from states import formatting as fmt

CATALOGUES = Path(__file__).with_name("translations")
LANGUAGES = ("da", "en")
DEFAULT = "da"
# Each language's name in itself, for the switch.
NAMES = {"da": "Dansk", "en": "English"}


_COMPILED: dict[str, Translations] = {}
_COMPILING = threading.Lock()


def translations(lang: str) -> Translations:
    """The compiled catalogue of `lang` (the default language for anything else).

    Compiled once per process: the web server's first burst of requests asks for it from many worker
    threads at once, and each compiling its own copy (a tenth of a second of CPU apiece) held up them all."""
    if lang not in LANGUAGES:
        lang = DEFAULT
    if (found := _COMPILED.get(lang)) is None:
        with _COMPILING:
            if (found := _COMPILED.get(lang)) is None:
                found = _COMPILED[lang] = _compiled(lang)
    return found


def _compiled(lang: str) -> Translations:
    with (CATALOGUES / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


class Count(int):
    """A number in a message that is shown with the reader's digit grouping (a length limit: 20.000 tegn)."""


def gettext(lang: str, message: str, **variables: object) -> str:
    text = translations(lang).gettext(message)
    if not variables:
        return text
    return text % {name: fmt.number(value, lang) if isinstance(value, Count) else value
                   for name, value in variables.items()}


def N_(message: str) -> str:  # noqa: N802 (Babel's marker name)
    """Mark a text for extraction where it is defined; it is translated where it is shown."""
    return message
