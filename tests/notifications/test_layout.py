"""The HTML mail on a phone: laid out by a real Chromium (Debian's, headless) 375 px wide.

Amounts (`1.000.000 kr.`) must stay on one line and nothing may need sideways scrolling. The mail is
shown in a 375 px frame of a page whose script measures it and writes the result into the DOM that
`chromium --dump-dom` prints. Headless Chromium's window is at least 500 px wide, hence the frame.
The same mail with its no-wrap protection stripped is measured too: it must wrap an amount, or this
test could not tell protection from luck.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from notifications.render import render

from mailtest import PUBLIC_URL

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

# Pool names of varied lengths, so that the lines of the budget list break at many different places.
POOLS = ["Tårnby innovationspulje 2026", "Roskilde", "Gentofte opgaveudvalg for fremtidens fritidsliv", "Pulje",
         "Velfærdsteknologi", "Klima og grøn omstilling i Høje-Taastrup", "Ærø",
         "Borgerbudgetter i Viby og Gundsømagle"]

MEASURE = """
<iframe id="mail" style="width:375px;height:4000px;border:0" srcdoc="{srcdoc}"></iframe>
<script>
document.getElementById("mail").addEventListener("load", () => {{
  const doc = document.getElementById("mail").contentDocument;
  const amounts = [...doc.querySelectorAll(".amount")].map(el => ({{
    text: el.textContent, lines: new Set([...el.getClientRects()].map(r => Math.round(r.top))).size }}));
  document.body.dataset.result = JSON.stringify({{
    width: doc.documentElement.clientWidth, scrollWidth: doc.documentElement.scrollWidth, amounts }});
}});
</script>
"""


def coordinator_digest(lang: str) -> str:
    budgets = [{"pool": name, "budget_dkk": 5_000_000 + 1_111_111 * n, "allocated_dkk": 1_000_000 * n,
                "left_dkk": 5_000_000 + 111_111 * n} for n, name in enumerate(POOLS)]
    payload = {"role": "coordinator", "period_from": None, "period_to": "2026-11-23T06:00:00+00:00",
               "stage_counts": {"submitted": 3}, "moved_total": 0, "moved_by_action": {}, "moved": [], "new_ideas": 0,
               "overdue_count": 0, "overdue": [], "upcoming": [], "stuck_count": 0, "stuck": [], "budgets": budgets}
    return render("digest", lang, payload, "Karin Koordinator", "karin@kommune.dk", PUBLIC_URL, "t" * 43).html


def measure(mail_html: str, tmp_path) -> dict:
    page = tmp_path / "measure.html"
    page.write_text(MEASURE.format(srcdoc=html.escape(mail_html, quote=True)), encoding="utf-8")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'data-result="([^"]*)"', done.stdout)
    assert found, (done.returncode, done.stderr[-2000:])
    return json.loads(html.unescape(found.group(1)))


def unprotected(mail_html: str) -> str:
    """The same mail as it was before: ordinary spaces, no `white-space: nowrap`."""
    return mail_html.replace(' style="white-space:nowrap"', "").replace("\u00a0", " ")


@pytest.mark.parametrize("lang", ["da", "en"])
def test_amounts_stay_on_one_line_at_375_px(lang, tmp_path):
    mail = coordinator_digest(lang)
    shown = measure(mail, tmp_path)
    assert shown["width"] == 375
    assert len(shown["amounts"]) == 3 * len(POOLS)
    assert [a for a in shown["amounts"] if a["lines"] != 1] == []
    assert shown["scrollWidth"] <= shown["width"], shown  # nothing sticks out sideways
    # the check can fail: unprotected, some amount breaks between its number and "kr."/"DKK"
    bare = measure(unprotected(mail), tmp_path)
    assert [a for a in bare["amounts"] if a["lines"] > 1], bare
