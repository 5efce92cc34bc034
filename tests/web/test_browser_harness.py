"""The browser fixtures work before any web test relies on them: Debian's Chromium loads a local page,
axe-core reports a broken page's violations (so `assert_no_axe_violations` can fail) and none on a
clean page served with the console's kind of Content-Security-Policy, and a started browser leaves
asyncio free for the other tests of its worker."""

from __future__ import annotations

import asyncio
import re
import subprocess

import pytest
from playwright.sync_api import expect

from webtest import CHROMIUM, LocalSite, assert_no_axe_violations, axe_violations

pytestmark = pytest.mark.slow

CLEAN = """<!doctype html>
<html lang="da"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Innovationspuljen</title><script>document.title = "inline script ran";</script></head>
<body><header><a href="#indhold">Gå til indhold</a></header>
<main id="indhold"><h1>Idéer til puljen</h1>
<form method="post" action="/ideer"><label for="titel">Titel</label> <input id="titel" name="titel" required>
<button type="submit">Send idé</button></form>
<img src="/logo.png" alt="Tårnby Kommune" width="10" height="10"></main></body></html>"""

BROKEN = """<!doctype html>
<html><head><meta charset="utf-8"><title>Broken</title></head>
<body><main><h1>Idéer</h1><img src="/logo.png"><input id="titel" name="titel">
<p style="color:#ccc;background:#fff">Svær at læse</p></main></body></html>"""

# What the console sends: no inline script may run, no framing.
STRICT_CSP = {"Content-Security-Policy": "default-src 'self'; script-src 'self'; frame-ancestors 'none'"}


@pytest.fixture
def site():
    site = LocalSite({"/clean": (CLEAN, STRICT_CSP), "/broken": (BROKEN, {})})
    yield site
    site.close()


def test_playwright_drives_debian_chromium_on_a_local_page(browser, page, site):
    debian = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert browser.version in debian, (browser.version, debian)
    page.goto(f"{site.url}/clean")
    expect(page.get_by_role("heading", level=1)).to_have_text("Idéer til puljen")
    page.get_by_label("Titel").fill("Cykelstier")
    expect(page.get_by_label("Titel")).to_have_value("Cykelstier")
    assert page.evaluate("navigator.language") == "da-DK"


def test_axe_reports_each_violation_of_a_broken_page_readably(page, site):
    page.goto(f"{site.url}/broken")
    found = {v["id"]: v for v in axe_violations(page)}
    assert {"html-has-lang", "image-alt", "label", "color-contrast"} <= found.keys(), sorted(found)
    assert found["image-alt"]["nodes"][0]["target"] == ["img"]
    with pytest.raises(AssertionError) as failed:
        assert_no_axe_violations(page)
    message = str(failed.value)
    assert f"on {site.url}/broken" in message
    assert re.search(r"^image-alt \(critical\): Images must have alternative text — https://", message, re.M)
    assert re.search(r"^    #titel: Fix any of the following:", message, re.M)


def test_axe_finds_nothing_on_a_clean_page_and_runs_under_a_strict_csp(page, site):
    page.goto(f"{site.url}/clean")
    assert page.title() == "Innovationspuljen", "the CSP should have stopped the inline script"
    assert_no_axe_violations(page)


def test_a_started_browser_leaves_asyncio_free_between_its_uses(chromium):
    """Playwright marks its loop as running; outside `browser`/`page` asyncio.run (Prefect) must work."""

    async def answer() -> int:
        return 42

    assert asyncio._get_running_loop() is None
    assert asyncio.run(answer()) == 42
    with chromium.in_use() as browser:
        refused = answer()
        with pytest.raises(RuntimeError, match="running event loop"):
            asyncio.run(refused)  # what every other test would see without the unmarking
        refused.close()
        context = browser.new_context()
        context.new_page().set_content("<p>still works</p>")
        context.close()
    assert asyncio.run(answer()) == 42
