"""The public side in a real browser: Debian's Chromium (Playwright) against ONE `ideaflow web` process for
the whole module (on SQLite: these pages are the same on PostgreSQL; the burst in test_public_burst.py
is where the database matters), its mail going to a real SMTP server (aiosmtpd).

- a citizen's whole path by keyboard alone, from the start page to a withdrawn idea;
- axe-core finds no WCAG 2.1 A/AA violation on any public page, in Danish and English, 1280 and 320 px;
- hostile input in every field, 10 MB bodies, the honeypot, the rate limit and a closed pool.

Tests share the server and its database, so each uses addresses and titles of its own and counts
only its own rows.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import Engine, func, select

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.vocabulary import Role
from storage.db import make_engine
from storage.migrate import upgrade
from storage.tables import AttachmentRow, IdeaRow, SubmissionRow

from mailtest import MAIL_FROM, SmtpServer, parts
from webtest import (
    IDEAFLOW,
    WebServer,
    assert_no_axe_violations,
    assert_reflows,
    readme_screenshot,
    start_web_server,
    web_env,
)

pytestmark = pytest.mark.slow

POOL = "Borgerpuljen"
CLOSED = "Lukket pulje"
COORDINATOR = "koordinator@kommune.dk"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PER_EMAIL = 2  # the server's IDEAFLOW_SUBMIT_PER_EMAIL: the third submission from one address is refused


@dataclass
class PublicSite:
    """The module's `ideaflow web` with its database and the SMTP server its mail goes to."""

    server: WebServer
    smtp: SmtpServer
    engine: Engine
    pool_id: int
    closed_id: int
    home: Path

    @property
    def url(self) -> str:
        return self.server.url

    def cli(self, *args: object) -> str:
        """`ideaflow ARGS` as a separate process on the server's database; its stdout."""
        done = subprocess.run([str(IDEAFLOW), *map(str, args)], env=self.server.env, cwd=self.home,
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    def count(self, table, *where) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(table).where(*where))


def app_on(engine):
    """The composition root's application on the module's database (to set the scene beside the server)."""
    return bootstrap(Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False)))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("public")
    engine = make_engine(f"sqlite:///{home / 'public.db'}")
    upgrade(engine)
    now = datetime.now(UTC)
    with app_on(engine) as app:
        pool = app.services.create_pool(POOL, 1_000_000, now.year, now)
        app.services.add_person(COORDINATOR, "Karin Koordinator", Role.COORDINATOR, now)
        app.intake.set_intake(POOL, now, description="Idéer, der gør hverdagen bedre for borgerne.",
                              criteria_text="Idéen skal gavne mange.", grant_min_dkk=10_000, grant_max_dkk=200_000)
        closed = app.services.create_pool(CLOSED, 1000, now.year, now)
        app.intake.set_intake(CLOSED, now, closes_at=now - timedelta(days=1))
    smtp = SmtpServer()
    smtp.start()
    server = start_web_server(web_env(
        str(engine.url), home, smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from=MAIL_FROM,
        submit_per_email=PER_EMAIL, submit_per_address=10_000, attachment_max_bytes=11 * 1024 * 1024), home)
    yield PublicSite(server, smtp, engine, pool.id, closed.id, home)
    code = server.stop()
    smtp.stop()
    engine.dispose()
    assert code == 0, f"`ideaflow web` must exit 0 on SIGINT: {code}"


def link_in(smtp, path: str, to: str, timeout: float = 30) -> str:
    """The newest mailed link to `path` in mail to `to`, as the recipient would click it (waiting for it:
    a sign-in mail is sent just after the page answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in reversed(smtp.handler.received):
            if to not in received.rcpt:
                continue
            text, _ = parts(received.message)
            found = re.search(rf"(http://127\.0\.0\.1:\d+{re.escape(path)}\?token=[A-Za-z0-9_-]+)", text)
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} links to {path}")


def tab_to(page, description: str, matches, limit: int = 60) -> None:
    """Press Tab until the focused element matches (a function of its text, tag and attributes)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            return {text: (e.innerText || e.value || '').trim(), tag: e.tagName.toLowerCase(), id: e.id,
                    name: e.getAttribute('name') || '', type: e.getAttribute('type') || '',
                    value: e.getAttribute('value') || ''}; }""")
        if matches(focused):
            return
    raise AssertionError(f"Tab never reached {description}")


def choose_by_keyboard(page, file: Path) -> None:
    """Open the focused file input's chooser with the keyboard and pick `file`. Chromium opens it on
    Enter or Space; on this loaded machine a key press now and then goes unanswered, so it tries again."""
    for key in ("Enter", "Space", "Enter", "Space"):
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                page.keyboard.press(key)
        except PlaywrightTimeout:
            continue
        chooser.value.set_files(str(file))
        return
    raise AssertionError("the file input never opened its chooser from the keyboard")


def focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


# -- a citizen, by keyboard ----------------------------------------------------------------------------


def test_a_citizens_whole_path_by_keyboard_alone(site, page, browser, tmp_path):
    address, title = "aase@example.dk", "Grønne skolegårde <b>nu</b>"
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(site.url)
    tab_to(page, "the pool's form", lambda f: f["tag"] == "a" and POOL in f["text"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/pools/{site.pool_id}/ideas/new$"))

    # A first try with a wrong address: the form comes back with its values and the error linked.
    tab_to(page, "the title", lambda f: f["id"] == "title")
    page.keyboard.type(title)
    page.keyboard.press("Tab")
    page.keyboard.type("Plant træer i skolegårdene.")
    page.keyboard.press("Enter")
    page.keyboard.type("Børnene hjælper.")
    tab_to(page, "the name", lambda f: f["id"] == "name")
    page.keyboard.type("Åse Ærlig")
    page.keyboard.press("Tab")
    page.keyboard.type("aase-at-example.dk")
    page.keyboard.press("Tab")  # the first radio button of "You are writing as"
    page.keyboard.press("Space")
    tab_to(page, "the send button", lambda f: f["tag"] == "button" and f["text"] == "Send idéen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Der er et problem")).to_be_visible()
    assert page.title().startswith("Fejl:")
    tab_to(page, "the error's link", lambda f: f["tag"] == "a" and "e-mailadresse" in f["text"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#email$"))
    expect(page.locator("#title")).to_have_value(title)
    expect(page.locator("#description")).to_have_value("Plant træer i skolegårdene.\nBørnene hjælper.")
    expect(page.locator("#proposer_kind")).to_be_checked()
    if focused_id(page) != "email":  # the fragment moved the starting point of Tab, not the focus itself
        tab_to(page, "the e-mail field", lambda f: f["id"] == "email")
    page.keyboard.press("Control+A")
    page.keyboard.type(address)

    # An attachment, chosen from the keyboard: the file input opens the file chooser on Enter.
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(PDF)
    page.keyboard.press("Shift+Tab")  # from the e-mail field back up the form to the file input
    for _ in range(10):
        if focused_id(page) == "attachments":
            break
        page.keyboard.press("Shift+Tab")
    assert focused_id(page) == "attachments"
    choose_by_keyboard(page, plan)
    tab_to(page, "the send button", lambda f: f["tag"] == "button" and f["text"] == "Send idéen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tjek din e-mail")

    # The confirmation link from the delivered mail opens a page; only its button registers the idea.
    page.goto(link_in(site.smtp, "/submissions/confirm", address))
    assert site.count(IdeaRow, IdeaRow.title == title) == 0
    tab_to(page, "the confirm button", lambda f: f["tag"] == "button" and f["text"] == "Bekræft idéen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Din idé er registreret")
    [listed] = [i for i in json.loads(site.cli("list", "--json")) if i["title"] == title]
    assert listed["stage"] == "submitted"
    shown = json.loads(site.cli("show", listed["id"], "--json"))
    assert shown["proposer"] == address and shown["description"].endswith("Børnene hjælper.")
    with site.engine.connect() as connection:
        assert connection.scalar(select(AttachmentRow.content).where(AttachmentRow.idea_id == listed["id"])) == PDF
    coordinator = browser.new_context(locale="da-DK", timezone_id="Europe/Copenhagen")
    console = coordinator.new_page()
    console.goto(f"{site.url}login?next=/portfolio")
    console.locator("#email").fill(COORDINATOR)
    console.locator("main form button[type=submit]").first.click()
    console.goto(link_in(site.smtp, "/login/continue", COORDINATOR))
    console.get_by_role("button", name="Fortsæt").click()
    expect(console.get_by_role("link", name=title, exact=True)).to_be_visible()  # in the coordinator's portfolio
    coordinator.close()

    # "My ideas", signed in by the mailed link, and a withdrawal with a reason.
    tab_to(page, "my ideas", lambda f: f["tag"] == "a" and f["text"] == "Gå til mine idéer")
    page.keyboard.press("Enter")
    sign_in_by_keyboard(site, page, address, opened=True)  # the link asks her to sign in first
    expect(page.get_by_text("Modtaget – venter på screening")).to_be_visible()
    expect(page.get_by_role("heading", level=2)).to_have_text(title)  # as text
    tab_to(page, "withdraw", lambda f: f["tag"] == "a" and f["text"].startswith("Træk"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/withdraw$"))
    tab_to(page, "the reason", lambda f: f["id"] == "reason")
    page.keyboard.type("Vi har fundet en anden løsning")
    tab_to(page, "the withdraw button", lambda f: f["tag"] == "button" and f["text"] == "Træk idéen tilbage")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Idéen er trukket tilbage.")
    shown = json.loads(site.cli("show", listed["id"], "--json"))
    assert shown["stage"] == "withdrawn" and shown["history"][-1]["reason"] == "Vi har fundet en anden løsning"
    assert dialogs == []


def sign_in_by_keyboard(site, page, address: str, *, opened: bool = False) -> None:
    """Open "my ideas" (unless `opened` already) and sign in there by the mailed link, by keyboard."""
    if not opened:
        page.goto(f"{site.url}my-ideas")
    expect(page).to_have_url(re.compile(r"/login\?next=/my-ideas$"))
    tab_to(page, "the e-mail field", lambda f: f["id"] == "email")
    page.keyboard.type(address)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tjek din e-mail")
    page.goto(link_in(site.smtp, "/login/continue", address))
    tab_to(page, "continue", lambda f: f["tag"] == "button" and f["text"] == "Fortsæt")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mine idéer")


def sent_back(site, address: str, title: str) -> int:
    """An idea of `address`, sent back for revision by the pool's coordinator (through the CLI)."""
    idea = int(site.cli("submit", "--title", title, "--description", "Plant træer.", "--proposer", address,
                        "--pool", POOL, "--requested-dkk", "100000").strip())
    site.cli("decide", idea, "recycle", "--by", COORDINATOR, "--reason", "Uddyb budgettet, tak.\nHvem betaler?")
    return idea


def test_a_proposer_revises_an_idea_sent_back_by_keyboard_alone(site, page):
    address, title = "revision@example.dk", "Skolegårde med træer"
    idea = sent_back(site, address, title)
    sign_in_by_keyboard(site, page, address)
    mine = page.locator(f"section[aria-labelledby='idea-{idea}']")
    expect(mine).to_contain_text("Sendt tilbage til dig til revision")
    expect(mine).to_contain_text("Uddyb budgettet, tak.")
    tab_to(page, "revise", lambda f: f["tag"] == "a" and f["text"].startswith("Revidér idéen"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/my-ideas/{idea}/revise$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f'Revidér "{title}"')
    expect(page.locator("main")).to_contain_text("Hvem betaler?")  # the coordinator's reason
    expect(page.locator("#title")).to_have_value(title)  # filled in with the idea as it is
    expect(page.locator("#description")).to_have_value("Plant træer.")
    expect(page.locator("#requested_dkk")).to_have_value("100000")
    assert_no_axe_violations(page)

    # A wrong try: no title and an amount in words. The form comes back with what was typed, marked.
    tab_to(page, "the title", lambda f: f["id"] == "title")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type("Budget: 150.000 kr. fra puljen, resten fra skolerne.")
    tab_to(page, "the amount", lambda f: f["id"] == "requested_dkk")
    page.keyboard.press("Control+A")
    page.keyboard.type("mange penge")
    tab_to(page, "save", lambda f: f["tag"] == "button" and f["text"] == "Gem revisionen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Der er et problem")).to_be_visible()
    assert page.title().startswith("Fejl:")
    expect(page.locator("#title")).to_have_value("")
    expect(page.locator("#title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#requested_dkk")).to_have_value("mange penge")
    expect(page.locator("#requested_dkk")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#description")).to_have_value(
        "Plant træer.\nBudget: 150.000 kr. fra puljen, resten fra skolerne.")
    assert_no_axe_violations(page)
    assert json.loads(site.cli("show", idea, "--json"))["title"] == title  # nothing saved

    tab_to(page, "the error's link", lambda f: f["tag"] == "a" and f["text"].startswith("Titel"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#title$"))
    if focused_id(page) != "title":
        tab_to(page, "the title", lambda f: f["id"] == "title")
    page.keyboard.type("Skolegårde med træer og budget")
    tab_to(page, "the amount", lambda f: f["id"] == "requested_dkk")
    page.keyboard.press("Control+A")
    page.keyboard.type("150.000")
    tab_to(page, "save", lambda f: f["tag"] == "button" and f["text"] == "Gem revisionen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Din revision er gemt. Koordinatorerne og bedømmerne får besked.")
    expect(page).to_have_url(re.compile(r"/my-ideas\?status=revised$"))
    mine = page.locator(f"section[aria-labelledby='idea-{idea}']")
    expect(mine.get_by_role("heading", level=2)).to_have_text("Skolegårde med træer og budget")
    expect(mine.locator("ol.history")).to_contain_text("Du reviderede idéen (titel, beskrivelse, ansøgt beløb)")
    shown = json.loads(site.cli("show", idea, "--json"))
    assert (shown["title"], shown["requested_dkk"], shown["stage"]) == (
        "Skolegårde med træer og budget", 150_000, "submitted")
    assert shown["description"] == "Plant træer.\nBudget: 150.000 kr. fra puljen, resten fra skolerne."
    assert (shown["history"][-1]["by"], shown["history"][-1]["reason"]) == (
        address, "revised by the proposer: title, description, requested amount")


TYPED = {"#title": "Lys på stien", "#description": "Lamper langs stien.\nTo linjer, æøå.", "#department": "Veje",
         "#requested_dkk": "75.000", "#name": "Åse Ærlig", "#email": "sprog@example.dk"}


def test_what_a_citizen_typed_survives_a_switch_of_language(site, page):
    """The switch is a form of its own that comes back to the page; a small script keeps the idea form's
    fields across it (in the tab's sessionStorage), once: not the honeypot, and nothing after."""
    form_page = f"{site.url}pools/{site.pool_id}/ideas/new"
    page.goto(form_page)
    for selector, text in TYPED.items():
        page.locator(selector).fill(text)
    page.locator("#proposer_kind-employee").check()
    page.evaluate("document.getElementById('website').value = 'http://spam.example'")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send an idea to {POOL}")
    for selector, text in TYPED.items():
        expect(page.locator(selector)).to_have_value(text)
    expect(page.locator("#proposer_kind-employee")).to_be_checked()
    expect(page.locator("#website")).to_have_value("")
    page.get_by_role("button", name="Dansk").click()  # and back, with what was kept the first time
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send en idé til {POOL}")
    expect(page.locator("#description")).to_have_value(TYPED["#description"])
    page.goto(form_page)  # kept for the switch only: a later visit starts empty
    expect(page.locator("#title")).to_have_value("")
    expect(page.locator("#proposer_kind-employee")).not_to_be_checked()
    page.locator("#title").fill("Lys på stien")
    page.locator("#description").fill("Lamper.")
    page.locator("#name").fill("Åse Ærlig")
    page.locator("#email").fill("sprog@example.dk")
    page.locator("#proposer_kind").check()
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tjek din e-mail")
    page.get_by_role("button", name="English").click()  # the receipt again, in English: not an empty form
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    expect(page.locator("main")).to_contain_text("We have sent a mail to sprog@example.dk.")
    assert site.count(SubmissionRow, SubmissionRow.email == "sprog@example.dk") == 1


def test_a_proposers_revision_and_reason_for_withdrawing_survive_a_switch_of_language(site, page):
    address = "sprogrevision@example.dk"
    idea = sent_back(site, address, "Bænke i parken")
    sign_in_by_keyboard(site, page, address)
    page.goto(f"{site.url}my-ideas/{idea}/revise")
    page.locator("#description").fill("Plant træer.\nOg bænke.")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text('Revise "Bænke i parken"')
    expect(page.locator("#description")).to_have_value("Plant træer.\nOg bænke.")
    expect(page.locator("#title")).to_have_value("Bænke i parken")
    page.goto(f"{site.url}my-ideas/{idea}/withdraw")  # and the reason for withdrawing
    page.locator("#reason").fill("Vi har fundet en anden løsning.")
    page.get_by_role("button", name="Dansk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text('Træk "Bænke i parken" tilbage')
    expect(page.locator("#reason")).to_have_value("Vi har fundet en anden løsning.")


def test_the_form_works_without_javascript(site, browser):
    """Every public page works without script: the idea is sent, and a switch of language only empties
    the fields again (what the script keeps is an extra)."""
    context = browser.new_context(locale="da-DK", timezone_id="Europe/Copenhagen", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{site.url}pools/{site.pool_id}/ideas/new")
        page.locator("#title").fill("Uden script")
        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Send an idea to {POOL}")
        expect(page.locator("#title")).to_have_value("")
        fill(page, "udenscript@example.dk", title="Uden script")
        page.locator("form[enctype] button[type=submit]").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
        assert site.count(SubmissionRow, SubmissionRow.email == "udenscript@example.dk") == 1
    finally:
        context.close()


def test_screenshots_of_the_start_page_and_the_form_for_the_readme(site, page, tmp_path):
    """The README shows a citizen's first two pages (see `readme_screenshot`)."""
    page.set_viewport_size({"width": 1100, "height": 800})
    page.goto(site.url)
    expect(page.get_by_role("link", name=re.compile(POOL))).to_be_visible()
    readme_screenshot(page, "public_start", tmp_path)
    page.get_by_role("link", name=re.compile(POOL)).click()
    expect(page.get_by_label("Titel")).to_be_visible()
    readme_screenshot(page, "idea_form", tmp_path)


# -- accessibility of every public page -------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["da", "en"])
def test_no_public_page_has_a_wcag_violation(site, browser, lang):
    """Every public page, reached as a visitor reaches it, in the language given, each at 1280 and at
    320 px (the page is narrowed in place: some pages are the answer to a POST)."""
    context = browser.new_context(locale="da-DK" if lang == "da" else "en-GB", timezone_id="Europe/Copenhagen",
                                  viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "ideaflow_lang", "value": lang, "url": site.url}])
    page = context.new_page()
    seen: list[str] = []

    def check(what: str) -> None:
        assert page.locator("html").get_attribute("lang") == lang, what
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 800})
            assert_no_axe_violations(page)
            assert_reflows(page, width)
        page.set_viewport_size({"width": 1280, "height": 800})
        seen.append(what)

    def send(address: str, honeypot: bool = False) -> None:
        page.goto(f"{site.url}pools/{site.pool_id}/ideas/new")
        fill(page, address)
        if honeypot:
            page.evaluate("document.getElementById('website').value = 'http://spam.example'")
        page.locator("form[enctype] button[type=submit]").click()

    address = f"a11y-{lang}@example.dk"
    page.goto(site.url)
    check("start")
    page.goto(f"{site.url}pools/{site.pool_id}/ideas/new")
    check("form")
    page.locator("#description").fill("Uden titel og adresse")
    page.locator("#attachments").set_input_files([  # a message for each wrong file, on the field and in the summary
        {"name": "noter.txt", "mimeType": "text/plain", "buffer": b"Mine noter"},
        {"name": "tom.pdf", "mimeType": "application/pdf", "buffer": b""},
        {"name": "x.html", "mimeType": "text/html", "buffer": b"<html></html>"}])
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.locator(".error-summary a[href='#attachments']")).to_have_count(3)
    expect(page.locator("#attachments-error")).to_contain_text("tom.pdf")
    check("form with errors")
    send(address)
    check("receipt")
    page.goto(link_in(site.smtp, "/submissions/confirm", address))
    check("confirm")
    page.locator("main button[type=submit]").click()
    check("confirmed")
    page.goto(f"{site.url}submissions/confirm?token=forkert")
    check("expired link")
    page.goto(f"{site.url}pools/{site.closed_id}/ideas/new")
    check("closed pool")
    for _ in range(PER_EMAIL + 1):
        send(f"limit-{lang}@example.dk")
    check("rate limited")
    send(f"robot-{lang}@example.dk", honeypot=True)
    check("honeypot")
    page.goto(f"{site.url}privacy")
    check("privacy")
    page.goto(f"{site.url}accessibility")
    check("accessibility")
    page.goto(f"{site.url}my-ideas")
    check("sign in")
    page.locator("#email").fill(address)
    page.locator("main form button[type=submit]").first.click()
    page.goto(link_in(site.smtp, "/login/continue", address))
    page.locator("main button[type=submit]").click()
    check("my ideas")
    idea = sent_back(site, address, f"Til revision {lang}")
    page.reload()
    check("my ideas with one sent back")
    page.locator(f"main a[href='/my-ideas/{idea}/revise']").click()
    check("revise")
    page.locator("#title").fill("")
    page.locator("#requested_dkk").fill("0")
    page.locator("main form button[type=submit]").click()
    check("revise with errors")
    page.locator("#title").fill(f"Revideret {lang}")
    page.locator("#requested_dkk").fill("")
    page.locator("main form button[type=submit]").click()
    page.locator("main details").evaluate_all("all => all.forEach(d => d.open = true)")  # the earlier version too
    check("my ideas after revising")
    site.cli("decide", idea, "hold", "--by", COORDINATOR)
    page.goto(f"{site.url}my-ideas/{idea}/revise")
    check("revise, not possible on hold")
    page.goto(f"{site.url}my-ideas")
    page.locator("main a[href$='/withdraw']").first.click()
    check("withdraw")
    page.locator("main form button[type=submit]").click()
    check("my ideas after withdrawing")
    page.goto(f"{site.url}preferences")
    check("preferences")
    page.goto(f"{site.url}preferences/unsubscribe?token=forkert")
    check("the digest's stop link")
    page.locator("main form button[type=submit]").click()
    check("the digest's stop link, not valid")
    context.close()
    assert len(seen) == 24


def fill(page, address: str, title: str = "Grønne skolegårde") -> None:
    page.locator("#title").fill(title)
    page.locator("#description").fill("Plant træer.")
    page.locator("#name").fill("Åse Ærlig")
    page.locator("#email").fill(address)
    page.locator("#proposer_kind").check()


# -- hostile input, the honeypot, the limits, a closed pool ----------------------------------------------


def test_hostile_input_in_every_field_is_stored_exactly_and_shown_as_text(site, page, tmp_path):
    address = "hostile@example.dk"
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = {
        "title": "<script>alert('t')</script>\u202eelttit",
        "description": "<img src=x onerror=alert('d')>\n\tطويل \u200f<i>x</i> & \"q\"",
        "department": "</textarea><script>alert('a')</script>",
        "name": "Ærlig <svg onload=alert('n')>",
    }
    page.goto(f"{site.url}pools/{site.pool_id}/ideas/new")
    for field, value in hostile.items():
        page.locator(f"#{field}").fill(value)
    page.locator("#requested_dkk").fill("<b>1</b>")
    page.locator("#email").fill(address)
    page.locator("#proposer_kind").check()
    exe = tmp_path / "plan.pdf"  # a Windows program named as a PDF
    exe.write_bytes(b"MZ\x90\x00\x03" + bytes(300) + b"This program cannot be run in DOS mode.")
    page.locator("#attachments").set_input_files(str(exe))
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.locator("#attachments-error")).to_contain_text("plan.pdf er hverken en PDF")
    expect(page.locator("#requested_dkk-error")).to_be_visible()
    for field, value in hostile.items():  # kept exactly as typed
        expect(page.locator(f"#{field}")).to_have_value(value)
    expect(page.locator("#requested_dkk")).to_have_value("<b>1</b>")
    assert site.count(SubmissionRow, SubmissionRow.email == address) == 0
    page.locator("#requested_dkk").fill("")
    page.locator("form[enctype] button[type=submit]").click()  # without the program this time
    expect(page.get_by_role("heading", level=1)).to_have_text("Tjek din e-mail")
    page.goto(link_in(site.smtp, "/submissions/confirm", address))
    expect(page.locator("main")).to_contain_text(hostile["title"])
    page.locator("main button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Din idé er registreret")
    [listed] = [i for i in json.loads(site.cli("list", "--json")) if i["title"] == hostile["title"]]
    shown = json.loads(site.cli("show", listed["id"], "--json"))
    assert (shown["title"], shown["description"], shown["departments"]) == (
        hostile["title"], hostile["description"], [hostile["department"]])
    with site.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AttachmentRow)
                                 .where(AttachmentRow.idea_id == listed["id"])) == 0
    assert dialogs == []


def test_control_characters_are_refused_and_bodies_of_10_mb_refused_or_stored_exactly(site):
    """What a browser cannot type is sent by a script: control characters, 10 MB of text, a 10 MB file."""
    form = {"title": "Ti megabyte", "description": "D", "name": "N", "email": "big@example.dk",
            "proposer_kind": "citizen"}
    with httpx.Client(base_url=site.url, timeout=120) as client:
        token = csrf(client)
        url = f"pools/{site.pool_id}/ideas/new"
        for field in ("title", "description", "name", "department"):
            refused = client.post(url, data={"csrf_token": token, **form, field: "a\x00b\x1b[31m"})
            assert refused.status_code == 422 and 'href="#' + field + '"' in refused.text, field
        refused = client.post(url, data={"csrf_token": token, **form, "proposer_kind": "<b>borger</b>"})
        assert refused.status_code == 422 and 'href="#proposer_kind"' in refused.text
        assert "<b>borger</b>" not in refused.text
        quoted = '"<script>alert(1)</script>"@example.dk'  # a valid address (a quoted local part)
        answer = client.post(url, data={"csrf_token": token, **form, "email": quoted})
        assert answer.status_code in (200, 422) and "<script>alert(1)" not in answer.text
        hostile_name = "<img src=x onerror=alert(1)>\u202efdp.pdf"
        named = client.post(url, data={"csrf_token": token, **form, "email": "named@example.dk"},
                            files={"attachments": (hostile_name, PDF, "application/pdf")})
        assert named.status_code in (200, 422) and "<img src=x" not in named.text
        ten_mb_text = client.post(url, data={"csrf_token": token, **form, "description": "x" * (10 * 1024 * 1024)})
        assert ten_mb_text.status_code == 413 and "Intet blev gemt" in ten_mb_text.text
        too_big = client.post(url, data={"csrf_token": token, **form},
                              files={"attachments": ("stor.pdf", PDF + bytes(60 * 1024 * 1024), "application/pdf")})
        assert too_big.status_code == 413
        ten_mb_pdf = PDF + bytes(10 * 1024 * 1024 - len(PDF))
        stored = client.post(url, data={"csrf_token": token, **form},
                             files={"attachments": ("stor.pdf", ten_mb_pdf, "application/pdf")})
        assert stored.status_code == 200, stored.text
    with site.engine.connect() as connection:
        assert connection.scalar(select(AttachmentRow.content).join(SubmissionRow).where(
            SubmissionRow.email == "big@example.dk")) == ten_mb_pdf
    assert site.count(SubmissionRow, SubmissionRow.email == "big@example.dk") == 1
    with site.engine.connect() as connection:  # the hostile file name: refused, or stored exactly
        stored_names = connection.scalars(select(AttachmentRow.filename).join(SubmissionRow).where(
            SubmissionRow.email == "named@example.dk")).all()
    assert stored_names in ([], [hostile_name])
    assert site.count(SubmissionRow, SubmissionRow.email == quoted) == (answer.status_code == 200)


def test_the_honeypot_the_rate_limit_and_a_closed_pool_register_nothing(site, page):
    page.goto(f"{site.url}pools/{site.pool_id}/ideas/new")
    page.get_by_role("button", name="English").click()  # English at a click, on the same page
    expect(page).to_have_url(re.compile(rf"/pools/{site.pool_id}/ideas/new\?status=language$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send an idea to {POOL}")
    page.get_by_role("button", name="Dansk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send en idé til {POOL}")
    fill(page, "robot@example.dk")
    page.evaluate("document.getElementById('website').value = 'http://spam.example'")
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vi kunne ikke modtage idéen")
    assert site.count(SubmissionRow, SubmissionRow.email == "robot@example.dk") == 0
    for n in range(PER_EMAIL + 1):
        page.goto(f"{site.url}pools/{site.pool_id}/ideas/new")
        fill(page, "flittig@example.dk", title=f"Idé {n}")
        page.locator("form[enctype] button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vi kunne ikke modtage idéen")
    expect(page.locator("main")).to_contain_text("Prøv igen efter")
    assert site.count(SubmissionRow, SubmissionRow.email == "flittig@example.dk") == PER_EMAIL
    page.goto(f"{site.url}pools/{site.closed_id}/ideas/new")
    expect(page.locator("main")).to_contain_text("Puljen lukkede for idéer")
    expect(page.locator("#title")).to_have_count(0)
    with httpx.Client(base_url=site.url, timeout=60) as client:
        refused = client.post(f"pools/{site.closed_id}/ideas/new", data={
            "csrf_token": csrf(client), "title": "T", "description": "D", "name": "N", "email": "sent@example.dk",
            "proposer_kind": "citizen"})
    assert refused.status_code == 409 and site.count(SubmissionRow, SubmissionRow.email == "sent@example.dk") == 0


def csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("privacy").text).group(1)
