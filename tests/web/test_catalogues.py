"""ideaflow's words and the console's vendored files, checked without a browser.

Every text the templates and the code mark for translation has a Danish translation (a new text
without one fails here, not in front of a Danish reader); the catalogues compile; the Danish and
English catalogues hold the same texts; the vendored DKFDS files are exactly what the manifest says
was taken from the npm package.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ideaflow import i18n
from web.vendor_dkfds import TARGET, referenced

ROOT = Path(__file__).resolve().parents[2]


def extracted() -> set[str]:
    """What `pybabel extract -F babel.cfg` finds, as msgids."""
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue(lang: str):
    with (i18n.CATALOGUES / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=lang)


def translated(message) -> str:
    """The message's translation; one with plural forms (ngettext) counts only with every form filled in."""
    forms = (message.string,) if isinstance(message.string, str) else message.string
    return message.string if all(forms) else ""


def msgid(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def test_every_text_of_the_console_has_a_danish_translation():
    danish = {msgid(m): translated(m) for m in catalogue("da") if m.id}
    texts = extracted()
    assert len(texts) > 40, "the extraction found the templates and the code"
    missing = sorted(t for t in texts if not danish.get(t))
    assert not missing, f"no Danish for: {missing} (run the commands in ideaflow/i18n.py)"
    stale = sorted(set(danish) - texts)
    assert not stale, f"catalogue entries nothing uses any more: {stale}"


def test_both_catalogues_hold_the_same_texts_and_compile():
    assert {m.id for m in catalogue("da") if m.id} == {m.id for m in catalogue("en") if m.id}
    idle = ("You were signed out because you had not been active for %(num)d minute.",
            "You were signed out because you had not been active for %(num)d minutes.")
    assert i18n.translations("da").ngettext(*idle, 1) == ("Du er blevet logget ud, fordi du ikke har været aktiv "
                                                          "i %(num)d minut.")
    assert i18n.translations("en").ngettext(*idle, 2) == idle[1], "plural forms compile in both catalogues"
    assert i18n.gettext("da", "Sign in") == "Log ind"
    assert i18n.gettext("en", "Sign in") == "Sign in"
    assert i18n.gettext("da", "Welcome, %(name)s", name="Åse") == "Velkommen, Åse"
    assert i18n.gettext("xx", "Sign in") == "Log ind", "an unknown language falls back to Danish"


def test_many_threads_asking_at_once_compile_each_catalogue_once(monkeypatch):
    """A server's first burst asks from many worker threads at once; one compiles, the rest wait for it."""
    monkeypatch.setattr(i18n, "_COMPILED", {})
    compiled: list[str] = []
    compile_for_real = i18n._compiled

    def counted(lang: str):
        compiled.append(lang)
        return compile_for_real(lang)

    monkeypatch.setattr(i18n, "_compiled", counted)
    start = threading.Barrier(8)

    def ask(lang: str):
        start.wait()
        return i18n.translations(lang)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(ask, ["da", "en"] * 4))
    assert sorted(compiled) == ["da", "en"]
    assert len({id(t) for t in got[0::2]}) == 1 and len({id(t) for t in got[1::2]}) == 1
    assert got[0].gettext("Sign in") == "Log ind"


@pytest.mark.parametrize("lang", ["da"])
def test_python_format_placeholders_survive_translation(lang):
    for message in catalogue(lang):
        if message.id and "%(" in msgid(message):
            names = sorted(part.split(")")[0] for part in msgid(message).split("%(")[1:])
            for string in (message.string,) if isinstance(message.string, str) else message.string:
                assert sorted(part.split(")")[0] for part in string.split("%(")[1:]) == names, message.id


def test_vendored_dkfds_files_are_what_the_manifest_records():
    manifest = json.loads((TARGET / "MANIFEST.json").read_text())
    assert manifest["package"] == "dkfds" and manifest["tarball_integrity"].startswith("sha512-")
    on_disk = {str(p.relative_to(TARGET)) for p in TARGET.rglob("*") if p.is_file()} - {"MANIFEST.json"}
    assert on_disk == set(manifest["files"])
    for relative, digest in manifest["files"].items():
        assert hashlib.sha256((TARGET / relative).read_bytes()).hexdigest() == digest, relative
    css = (TARGET / "css" / "dkfds.min.css").read_text()
    assert set(referenced(css)) <= on_disk, "every file the stylesheet names is there"
