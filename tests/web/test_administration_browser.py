"""Pools, people and roles, and the mail that waits, in Chromium against one `ideaflow web` process.

One console and one database (seeded through the service layer) serve the module; each person signs
in once, by a link the sign-in service mailed, and keeps their browser context. The console's mail
goes to an SMTP port where nothing listens, so the outbox has mail that waits with its last error.

What would fail without the feature: a pool created or criteria changed by a form that loses what
was typed, criteria of a reviewed pool re-weighed under its reviews (or a change without its audit
row), a coordinator seeing another pool, the people page or another pool's mail (or such an attempt
leaving no refusal row), a grant or revocation that does not take, "try again now" that does not
try, hostile names run as markup, a form that cannot be completed by keyboard, and any axe-core
violation at 1280 or 320 px in Danish or English.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from states.criteria import Criterion
from states.vocabulary import Decision, Role

from consoleweb import post_status, running_console, signed_in_people
from signinweb import HOSTILE
from webtest import assert_no_axe_violations, assert_reflows, free_port, readme_screenshot

pytestmark = pytest.mark.slow

TAARNBY, ROSKILDE = "Tårnby innovationspulje", "Roskilde puljen " + HOSTILE
CRITERIA = (Criterion("effekt", 2.0, description="Mere effektiv opgaveløsning"),
            Criterion("lovlig", 1.0, must_meet=True, description="Overholder gældende regler"))
IDA, KARIN, BENT, OLE = "ida@kommune.dk", "karin@taarnby.dk", "bent@taarnby.dk", "ole@roskilde.dk"


def _seed(app) -> dict[str, int]:
    """Two pools with their people, a funded idea in Tårnby and an idea in Roskilde; the pools' ids."""
    now = datetime.now(UTC)
    s = app.services
    pools = {key: s.create_pool(name, 2_000_000, 2026, now, CRITERIA).id
             for key, name in (("taarnby", TAARNBY), ("roskilde", ROSKILDE))}
    s.add_person(IDA, "Ida Administrator", Role.ADMINISTRATOR, now)
    for email, name, pool, role in ((KARIN, "Karin Koordinator", TAARNBY, Role.COORDINATOR),
                                    (BENT, "Bent Bedømmer", TAARNBY, Role.REVIEWER),
                                    (OLE, "Ole " + HOSTILE, ROSKILDE, Role.COORDINATOR)):
        s.add_person(email, name, Role.PROPOSER, now)
        s.grant_role(email, role, now, pool=pool)
    funded = s.submit(title="Tværgående sagsbehandling " + HOSTILE, description="…", proposer="borger@example.dk",
                      pool=TAARNBY, now=now, requested_dkk=400_000)
    s.submit(title="ZebraByer", description="…", proposer="borger@example.dk", pool=ROSKILDE, now=now)
    s.review(funded, BENT, {"effekt": 4, "lovlig": 5}, now, {"lovlig": True})
    s.decide(funded, Decision.GO, KARIN, now)
    s.decide(funded, Decision.GO, KARIN, now, amount_dkk=350_000)
    app.intake.set_intake(TAARNBY, now, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30))
    return pools


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    # nothing listens on the SMTP port: delivery fails and is retried later (the outbox page shows it)
    mail = dict(smtp_host="127.0.0.1", smtp_port=free_port(), mail_from="Innovation <innovation@kommune.dk>")
    with running_console(tmp_path_factory.mktemp("administration"), _seed, **mail) as console:
        yield console


@pytest.fixture(scope="module")
def signed_in(chromium, console):
    """People sign in by a link from the sign-in service (the one `/login` and `ideaflow signin-link`
    mail; its mail cannot leave here)."""
    def link(email: str) -> str:
        issued = console.app.signin.request_link(email, "127.0.0.1", datetime.now(UTC)).link
        return issued.replace(console.app.settings.public_url, console.server.url)

    yield from signed_in_people(chromium, console, link)


def commands(refusals: list[tuple[str, int | None]]) -> list[str]:
    return [command for command, _ in refusals]



def test_an_administrator_creates_a_pool_and_changes_its_criteria(browser, signed_in, console):
    page = signed_in(IDA)
    url = console.server.url
    page.goto(url + "home")
    page.locator("#main-content").get_by_role("link", name="Puljer").click()
    page.get_by_role("link", name="Opret en pulje").click()
    # It says before it is done that the pool takes ideas in public at once (its intake is set afterwards).
    expect(page.locator("main")).to_contain_text("Puljen modtager idéer på den offentlige forside, så snart den er "
                                                 "oprettet.")
    page.get_by_label("Navn").fill("Gentofte opgaveudvalg " + HOSTILE)
    page.get_by_label("Budget", exact=True).fill("fem millioner")
    assert post_status(page, lambda: page.get_by_role("button", name="Opret puljen").click()) == 422
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Skriv et helt tal")
    summary.get_by_role("link").click()  # the summary leads to the field, whose value is kept
    expect(page.get_by_label("Budget", exact=True)).to_be_focused()
    expect(page.get_by_label("Navn")).to_have_value("Gentofte opgaveudvalg " + HOSTILE)
    page.get_by_label("Budget", exact=True).fill("1.500.000")
    page.get_by_label("Lad idéen bortfalde (den afvises)").check()
    # A reminder further ahead than a gate's deadline would never be sent: refused on its field.
    reminder = page.locator("#reminder_days")
    reminder.fill("99")
    assert post_status(page, lambda: page.get_by_role("button", name="Opret puljen").click()) == 422
    expect(page.get_by_role("alert")).to_contain_text("kommer, før beslutningen åbner")
    expect(reminder).to_have_attribute("aria-invalid", "true")
    reminder.fill("5")
    page.get_by_role("button", name="Opret puljen").click()
    expect(page.locator(".alert-success, [role=status]").first).to_contain_text("Puljen er oprettet")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pulje: Gentofte opgaveudvalg " + HOSTILE)
    expect(page.locator("dl.facts").first).to_contain_text("1.500.000 kr.")
    expect(page.get_by_text("Lad idéen bortfalde (den afvises)")).to_be_visible()
    pool_url = page.url.split("?")[0]

    page.get_by_role("link", name="Ret kriterierne").click()
    page.get_by_label("Navn").nth(2).fill("borgerresultat")  # rename the third of Tårnby's six
    page.get_by_label("Navn").nth(5).fill("")  # remove the sixth
    page.get_by_label("Navn").nth(6).fill("lovmedholdelig")  # add one in the first empty row
    page.get_by_label("Vægt").nth(6).fill("1,5")
    page.get_by_label("Skal være opfyldt").nth(6).check()
    page.get_by_label("Beskrivelse").nth(6).fill("Overholder gældende regler " + HOSTILE)
    page.get_by_label("Vægt").nth(0).fill("0")
    assert post_status(page, lambda: page.get_by_role("button", name="Gem kriterierne").click()) == 422
    expect(page.get_by_role("alert")).to_contain_text("Skriv en vægt over 0 og højst 100")
    expect(page.get_by_label("Navn").nth(6)).to_have_value("lovmedholdelig")
    page.get_by_label("Vægt").nth(0).fill("3")
    page.get_by_role("button", name="Gem kriterierne").click()
    expect(page).to_have_url(re.compile(re.escape(pool_url) + r"\?status=criteria_saved$"))
    rows = page.get_by_role("region", name="Kriterier").locator("tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.nth(0)).to_contain_text("effektivitet")
    expect(rows.nth(0)).to_contain_text("3")
    expect(rows.nth(5)).to_contain_text("lovmedholdelig")
    expect(rows.nth(5)).to_contain_text("1,5")
    expect(rows.nth(5)).to_contain_text("Ja")
    expect(page.get_by_text("Ændringer af kriterierne")).to_be_visible()
    with console.engine.connect() as connection:
        (before, after, by), = connection.execute(text(
            "SELECT c.before, c.after, p.email FROM pool_changes c JOIN people p ON p.id = c.by_id "
            "WHERE c.what = 'criteria'"))
    assert by == IDA and "omtale" in before and "omtale" not in after and "lovmedholdelig" in after


def test_a_reviewed_pools_criteria_keep_what_its_reviews_were_scored_on(browser, signed_in, console):
    page = signed_in(IDA)
    page.goto(f"{console.server.url}pools/{console.ids['taarnby']}/criteria")
    expect(page.get_by_role("note")).to_contain_text("kun beskrivelserne")
    # Only the descriptions are offered; names, weights and must-meet are shown as they are.
    expect(page.get_by_label("Vægt")).to_have_count(0)
    expect(page.get_by_label("Navn")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("group").first).to_contain_text("Vægt: ")
    assert_no_axe_violations(page)
    # A crafted form that changes a weight is still refused by the service, with the form shown again.
    fields = page.locator("form[action$='/criteria']").evaluate("f => Object.fromEntries(new FormData(f))")
    crafted = page.request.post(page.url, form={**fields, "weight-0": "5"})
    assert crafted.status == 422 and "kun kriteriernes beskrivelser" in crafted.text()
    page.get_by_label("Beskrivelse").nth(0).fill("Hurtigere sagsbehandling")
    page.get_by_role("button", name="Gem kriterierne").click()
    expect(page).to_have_url(re.compile(r"status=criteria_saved$"))
    expect(page.get_by_text("Hurtigere sagsbehandling")).to_be_visible()


def test_a_coordinator_sees_their_pools_budget_allocations_policy_and_intake_and_no_other(
        browser, signed_in, console):
    page = signed_in(KARIN)
    url, pools = console.server.url, console.ids
    page.goto(url + "pools")
    table = page.get_by_role("region", name="Puljer og deres budgetter")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text(TAARNBY)
    expect(page.get_by_role("link", name="Opret en pulje")).to_have_count(0)
    table.get_by_role("link", name=TAARNBY).click()
    facts = page.locator("dl.facts").first
    for shown in ("2.000.000 kr.", "350.000 kr.", "1.650.000 kr."):
        expect(facts).to_contain_text(shown)
    allocations = page.get_by_role("region", name="Bevillinger")
    expect(allocations).to_contain_text("Tværgående sagsbehandling " + HOSTILE)
    expect(allocations).to_contain_text("350.000 kr.")
    expect(page.get_by_text("30 dage efter indsendelsen")).to_be_visible()
    expect(page.get_by_text("Giv puljens koordinatorer besked")).to_be_visible()
    expect(page.locator("dl.facts").last).to_contain_text("Ja")  # open for ideas, within its window
    expect(page.get_by_role("link", name="Ret kriterierne")).to_have_count(0)

    before = len(console.refusals(KARIN))
    for path in (f"pools/{pools['roskilde']}", f"pools/{pools['taarnby']}/criteria", "pools/new", "people"):
        response = page.goto(url + path)
        assert response.status == 403, path
        # She is the coordinator a reviewer would be sent to: she is sent to an administrator.
        expect(page.locator("main")).to_contain_text("spørg en administrator af ideaflow i din kommune")
    assert commands(console.refusals(KARIN)[before:]) == ["pool", "edit_criteria", "create_pools", "people"]
    assert page.goto(url + "pools/999999").status == 404


def test_a_coordinator_sets_the_pools_intake_of_ideas(browser, signed_in, console):
    page = signed_in(KARIN)
    page.goto(f"{console.server.url}pools/{console.ids['taarnby']}")
    page.get_by_role("link", name="Ret modtagelsen af idéer").click()
    page.get_by_label("Første dag for idéer").fill("2027-02-01")
    page.get_by_label("Sidste dag for idéer").fill("2027-01-31")
    page.get_by_label("Hvad puljen støtter").fill("Nye måder at løse opgaverne på\n" + HOSTILE)
    page.get_by_label("Største beløb der gives").fill("500000")
    assert post_status(page, lambda: page.get_by_role("button", name="Gem modtagelsen").click()) == 422
    expect(page.get_by_role("alert")).to_contain_text(
        "Sidste dag (31. januar 2027) ligger før første dag (1. februar 2027).")
    expect(page.get_by_label("Hvad puljen støtter")).to_have_value("Nye måder at løse opgaverne på\n" + HOSTILE)
    page.get_by_label("Sidste dag for idéer").fill("2027-03-31")
    page.get_by_role("button", name="Gem modtagelsen").click()
    expect(page).to_have_url(re.compile(r"status=intake_saved$"))
    intake = page.locator("dl.facts").last
    expect(intake).to_contain_text("Ikke endnu")
    expect(intake).to_contain_text("Åbner1. februar 2027")
    expect(intake).to_contain_text("Sidste dag for idéer31. marts 2027")  # the day typed, not the midnight after
    expect(intake).to_contain_text("500.000 kr.")
    expect(page.get_by_text(HOSTILE).last).to_be_visible()
    # The pool's page says who changed which settings (the intake's changes are kept as the criteria's are).
    expect(page.get_by_role("heading", name="Ændringer af modtagelsen af idéer")).to_be_visible()
    expect(page.locator("main li").filter(has_text=KARIN).last).to_contain_text("Hvad puljen støtter")
    page.get_by_role("link", name="Ret modtagelsen af idéer").click()  # the form shows the days as chosen
    expect(page.get_by_label("Sidste dag for idéer")).to_have_value("2027-03-31")


def test_an_administrator_adds_a_person_by_keyboard_grants_and_revokes_roles(browser, signed_in, console):
    page = signed_in(IDA)
    page.goto(console.server.url + "people")
    page.get_by_label("E-mailadresse").focus()
    page.keyboard.type("nina@kommune.dk")
    page.keyboard.press("Tab")
    page.keyboard.type("Nina " + HOSTILE)
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # the first language, Danish
    page.keyboard.press("Tab")  # out of the radio group, to the button
    expect(page.get_by_role("button", name="Tilføj personen")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"status=person_added$"))
    expect(page.locator("header button[lang]")).to_have_count(1)  # the switch offers the other language only
    row = page.get_by_role("row").filter(has_text="nina@kommune.dk")
    expect(row).to_contain_text("Nina " + HOSTILE)

    assert post_status(page, lambda: page.get_by_role("button", name="Giv rollen").click()) == 422
    expect(page.get_by_role("alert").get_by_role("link")).to_have_text(  # each named by its field's label
        ["Person: Vælg en af mulighederne.", "Rolle: Vælg en af mulighederne."])
    page.get_by_label("Person", exact=True).select_option("nina@kommune.dk")
    page.get_by_label("Rolle").select_option("coordinator")
    page.get_by_label("Pulje", exact=True).select_option(ROSKILDE)
    page.get_by_role("button", name="Giv rollen").click()
    expect(page).to_have_url(re.compile(r"status=role_granted$"))
    expect(row).to_contain_text(f"koordinator i {ROSKILDE}")
    # "Fratag" asks first, on a page of its own that names whom, which role, which pool, and what they lose.
    revoke = row.get_by_role("link", name=re.compile("^Fratag"))
    revoke.click()
    expect(page).to_have_url(re.compile(r"/people/roles/revoke\?"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Fratag Nina {HOSTILE} en rolle")
    expect(page.locator("main")).to_contain_text(
        f"Nina {HOSTILE} (nina@kommune.dk) mister rollen som koordinator i {ROSKILDE}.")
    expect(page.locator("main")).to_contain_text("Puljens idéer forsvinder fra vedkommendes portefølje")
    page.get_by_role("link", name="Fortryd").click()
    expect(page).to_have_url(console.server.url + "people")
    expect(row).to_contain_text(f"koordinator i {ROSKILDE}")  # nothing was revoked
    revoke.focus()  # by keyboard: Enter on the link, then Tab to the page's button and Enter
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/people/roles/revoke\?"))
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Fratag rollen":
            break
    expect(page.get_by_role("button", name="Fratag rollen")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/people\?status=role_revoked$"))
    expect(row).not_to_contain_text("koordinator")
    # Ida is the only administrator: she cannot take the role from herself and lock everybody out, and
    # the page offers her no way to try; the revoke page's address says why.
    ida = page.get_by_role("row").filter(has_text=IDA)
    expect(ida).to_contain_text("administrator i alle puljer (den sidste administrator)")
    expect(ida.get_by_role("link", name=re.compile("Fratag"))).to_have_count(0)
    page.goto(f"{console.server.url}people/roles/revoke?email={IDA}&role=administrator&pool=")
    expect(page.locator("main")).to_contain_text("er den sidste administrator. Giv rollen til en anden først")
    expect(page.get_by_role("button", name="Fratag rollen")).to_have_count(0)
    page.get_by_role("link", name="Tilbage til personer og roller").click()
    expect(page.get_by_role("row").filter(has_text=IDA)).to_contain_text("administrator")

    page.get_by_label("Person", exact=True).select_option("nina@kommune.dk")
    page.get_by_label("Rolle").select_option("administrator")
    page.get_by_label("Pulje", exact=True).select_option(ROSKILDE)
    assert post_status(page, lambda: page.get_by_role("button", name="Giv rollen").click()) == 422
    expect(page.get_by_role("alert")).to_contain_text("Administratorrollen gælder alle puljer: vælg 'Alle puljer'")

    # A plainly wrong address is marked together with the language not chosen, not one after the other.
    page.get_by_label("E-mailadresse").fill("ikke-en-adresse")
    page.get_by_label("Navn", exact=True).fill("Nina igen")
    assert post_status(page, lambda: page.get_by_role("button", name="Tilføj personen").click()) == 422
    expect(page.get_by_role("alert").get_by_role("link")).to_have_count(2)
    page.get_by_label("E-mailadresse").fill("nina@kommune.dk")
    page.get_by_label("Navn", exact=True).fill("Nina igen")
    page.get_by_label("Dansk").check()
    assert post_status(page, lambda: page.get_by_role("button", name="Tilføj personen").click()) == 422
    expect(page.get_by_role("alert")).to_contain_text("findes allerede")


def test_the_outbox_shows_what_waits_and_tries_again_now(browser, signed_in, console):
    url = console.server.url
    karin = signed_in(KARIN)
    karin.goto(url + "outbox")
    table = karin.get_by_role("region", name=re.compile("breve"))
    expect(table).to_contain_text(KARIN)  # notices about the Tårnby idea
    expect(table).not_to_contain_text(OLE)  # not the Roskilde pool's mail
    expect(table).not_to_contain_text("Login-link")  # nor sign-in links, which concern no pool
    karin.get_by_role("button", name="Prøv igen nu").click()
    # Back to the page (a reload tries nothing again), which says that it failed, and why.
    expect(karin).to_have_url(re.compile(r"/outbox\?status=mail_tried$"))
    failed = re.compile(r"^\s*Afsendelsen mislykkedes: cannot connect to .+\. Brevene venter og prøves igen "
                        r"senere\.\s*$")
    expect(karin.get_by_role("status")).to_have_text(failed)
    with karin.expect_response(lambda r: "/outbox" in r.url) as reloaded:
        karin.reload()
    assert reloaded.value.request.method == "GET"
    expect(karin.get_by_role("status")).to_have_text(failed)
    first = karin.get_by_role("region", name=re.compile("breve")).locator("tbody tr").first
    expect(first).to_contain_text("Venter på nyt forsøg")
    expect(first).to_contain_text(re.compile("refused|Connection|forbind", re.I))

    ida = signed_in(IDA)
    ida.goto(url + "outbox")
    expect(ida.get_by_role("region", name=re.compile("breve"))).to_contain_text("Login-link")

    bent = signed_in(BENT)
    before = len(console.refusals(BENT))
    assert bent.goto(url + "outbox").status == 403
    expect(bent.locator("main")).to_contain_text("spørg puljens koordinator")
    with bent.expect_response(lambda r: r.request.method == "POST") as response:
        bent.evaluate("""() => { const f = document.createElement('form'); f.method = 'post';
            f.action = '/outbox/flush'; const t = document.querySelector('input[name=csrf_token]');
            if (t) f.appendChild(t.cloneNode()); document.body.appendChild(f); f.submit(); }""")
    assert response.value.status == 403
    assert commands(console.refusals(BENT)[before:]) == ["outbox", "outbox"]


def _speaking(page, lang: str) -> None:
    """Switch to `lang` in the header unless the page speaks it: the language is the person's preference,
    kept from test to test, and another test may have switched it."""
    if page.locator("html").get_attribute("lang") != lang:
        page.locator(f"header button[lang='{lang}']").click()


def test_screenshots_of_the_pages_for_the_readme(browser, signed_in, console, tmp_path):
    """The README shows these pages (see `readme_screenshot`)."""
    page = signed_in(IDA)
    page.set_viewport_size({"width": 1100, "height": 800})
    page.goto(console.server.url + "pools")
    _speaking(page, "da")
    for name, path in (("pool", f"pools/{console.ids['taarnby']}"), ("people", "people"), ("outbox", "outbox")):
        page.goto(console.server.url + path)
        readme_screenshot(page, name, tmp_path)


@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_pages_pass_axe_at_1280_and_320(browser, signed_in, console, lang):
    """Each page in Danish and in English (the person's choice, switched in the header), wide and narrow."""
    url, pool = console.server.url, console.ids["taarnby"]
    page = signed_in(IDA)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(url + "pools")
    _speaking(page, lang)
    for path in ("pools", f"pools/{pool}", "pools/new", f"pools/{pool}/criteria", f"pools/{pool}/intake", "people",
                 f"people/roles/revoke?email={BENT}&role=reviewer&pool={TAARNBY}", "outbox"):
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 800})
            page.goto(url + path)
            expect(page.locator("html")).to_have_attribute("lang", lang)
            assert_no_axe_violations(page)
            assert_reflows(page, width)
    page.set_viewport_size({"width": 1280, "height": 800})



def test_a_forms_button_keeps_the_dkfds_distance_from_the_field_above(browser, signed_in, console):
    """DKFDS gives a button no margin: right after a field it sat against it, its focus outline touching."""
    page = signed_in(IDA)
    url, pool = console.server.url, console.ids["taarnby"]
    page.goto(url + "pools")
    _speaking(page, "da")
    for path, name in (("people", "Giv rollen"), ("people", "Tilføj personen"), (f"pools/{pool}/criteria",
                       "Gem kriterierne"), (f"pools/{pool}/intake", "Gem modtagelsen"), ("preferences", "Gem")):
        page.goto(url + path)
        button = page.get_by_role("button", name=name, exact=True)
        gap = button.evaluate("b => b.getBoundingClientRect().top - b.previousElementSibling.getBoundingClientRect()"
                              ".bottom")
        assert gap >= 24, (path, name, gap)  # as between two fields (.form-group's margin-top)
        button.focus()
        outline = button.evaluate("b => { const s = getComputedStyle(b); "
                                  "return parseFloat(s.outlineWidth) + Math.max(0, parseFloat(s.outlineOffset)); }")
        assert outline < gap, (path, name, outline, gap)
