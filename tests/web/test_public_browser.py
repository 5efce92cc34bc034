"""The public side in a real browser: Debian's Chromium (Playwright) against `ideaflow web` started as a
process, its mail going to a real SMTP server (aiosmtpd).

- a citizen's whole path by keyboard alone, from the start page to a withdrawn idea;
- axe-core finds no WCAG 2.1 A/AA violation on any public page, in Danish and English, 1280 and 320 px;
- hostile input, the honeypot, the rate limit and a closed pool;
- a burst of 1,000 submissions and confirmations from 50 concurrent clients ends as exactly 1,000 ideas.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import func, select

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.vocabulary import Role
from storage.db import make_engine
from storage.migrate import upgrade
from storage.tables import IdeaRow, SubmissionRow

from mailtest import MAIL_FROM, parts
from webtest import assert_no_axe_violations

pytestmark = pytest.mark.slow

POOL = "Borgerpuljen"
COORDINATOR = "koordinator@kommune.dk"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def app_on(engine):
    """The composition root's application on the test's database (to set the scene beside the server)."""
    return bootstrap(Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False)))


def set_up_pool(engine, **intake) -> int:
    now = datetime.now(UTC)
    with app_on(engine) as app:
        pool = app.services.create_pool(POOL, 1_000_000, now.year, now)
        app.services.add_person(COORDINATOR, "Karin Koordinator", Role.COORDINATOR, now)
        app.intake.set_intake(POOL, now, description="Idéer, der gør hverdagen bedre for borgerne.",
                              criteria_text="Idéen skal gavne mange.", grant_min_dkk=10_000, grant_max_dkk=200_000,
                              **intake)
    return pool.id


def link_in(smtp, path: str, *, seen: int = 0, timeout: float = 30) -> str:
    """The newest mailed link to `path` among the messages after the first `seen`, as the recipient would
    click it (waiting for it: a sign-in mail is sent just after the page answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in reversed(smtp.handler.received[seen:]):
            text, _ = parts(received.message)
            found = re.search(rf"(http://127\.0\.0\.1:\d+{re.escape(path)}\?token=[A-Za-z0-9_-]+)", text)
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no mail links to {path}")


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


def test_a_citizens_whole_path_by_keyboard_alone(engine, db_url, web_server, smtp, page, tmp_path, cli):
    pool_id = set_up_pool(engine)
    server = web_server(db_url, smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from=MAIL_FROM)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(server.url)
    tab_to(page, "the pool's form", lambda f: f["tag"] == "a" and POOL in f["text"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/pools/{pool_id}/ideas/new$"))

    # A first try with a wrong address: the form comes back with its values and the error linked.
    tab_to(page, "the title", lambda f: f["id"] == "title")
    page.keyboard.type("Grønne skolegårde <b>nu</b>")
    page.keyboard.press("Tab")
    page.keyboard.type("Plant træer i skolegårdene.")
    page.keyboard.press("Enter")
    page.keyboard.type("Børnene hjælper.")
    tab_to(page, "the name", lambda f: f["id"] == "name")
    page.keyboard.type("Åse Ærlig")
    page.keyboard.press("Tab")
    page.keyboard.type("aase-at-example.dk")
    page.keyboard.press("Tab")  # the first radio button of "You write as"
    page.keyboard.press("Space")
    tab_to(page, "the send button", lambda f: f["tag"] == "button" and f["text"] == "Send idéen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Der er et problem")).to_be_visible()
    assert page.title().startswith("Fejl:")
    tab_to(page, "the error's link", lambda f: f["tag"] == "a" and "e-mailadresse" in f["text"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#email$"))
    expect(page.locator("#title")).to_have_value("Grønne skolegårde <b>nu</b>")
    expect(page.locator("#description")).to_have_value("Plant træer i skolegårdene.\nBørnene hjælper.")
    expect(page.locator("#proposer_kind")).to_be_checked()
    if focused_id(page) != "email":  # the fragment moved the starting point of Tab, not the focus itself
        tab_to(page, "the e-mail field", lambda f: f["id"] == "email")
    page.keyboard.press("Control+A")
    page.keyboard.type("aase@example.dk")

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
    page.goto(link_in(smtp, "/submissions/confirm"))
    assert ideas(engine) == 0
    tab_to(page, "the confirm button", lambda f: f["tag"] == "button" and f["text"] == "Bekræft idéen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Din idé er registreret")
    listed = json.loads(cli("list", "--json").stdout)
    assert [(i["title"], i["stage"]) for i in listed] == [("Grønne skolegårde <b>nu</b>", "submitted")]
    shown = json.loads(cli("show", listed[0]["id"], "--json").stdout)
    assert shown["proposer"] == "aase@example.dk" and shown["description"].endswith("Børnene hjælper.")

    # "My ideas", signed in by the mailed link, and a withdrawal with a reason.
    tab_to(page, "my ideas", lambda f: f["tag"] == "a" and f["text"] == "Gå til mine idéer")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/login\?next=/my-ideas$"))  # signing in first
    tab_to(page, "the e-mail field", lambda f: f["id"] == "email")
    page.keyboard.type("aase@example.dk")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tjek din e-mail")
    page.goto(link_in(smtp, "/login/continue"))
    tab_to(page, "continue", lambda f: f["tag"] == "button" and f["text"] == "Fortsæt")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mine idéer")
    expect(page.get_by_text("Modtaget – venter på screening")).to_be_visible()
    expect(page.get_by_role("heading", level=2)).to_have_text("Grønne skolegårde <b>nu</b>")  # as text
    tab_to(page, "withdraw", lambda f: f["tag"] == "a" and f["text"].startswith("Træk"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/withdraw$"))
    tab_to(page, "the reason", lambda f: f["id"] == "reason")
    page.keyboard.type("Vi har fundet en anden løsning")
    tab_to(page, "the withdraw button", lambda f: f["tag"] == "button" and f["text"] == "Træk idéen tilbage")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Idéen er trukket tilbage.")
    shown = json.loads(cli("show", listed[0]["id"], "--json").stdout)
    assert shown["stage"] == "withdrawn" and shown["history"][-1]["reason"] == "Vi har fundet en anden løsning"
    assert dialogs == []


def ideas(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(IdeaRow))


def submissions(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(SubmissionRow))


# -- accessibility of every public page -------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path):
    """The accessibility walk needs a database, not both: the pages are the same on either."""
    engine = make_engine(f"sqlite:///{tmp_path / 'a11y.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("width", [1280, 320])
@pytest.mark.parametrize("lang", ["da", "en"])
def test_no_public_page_has_a_wcag_violation(sqlite_engine, web_server, smtp, browser, lang, width):
    """Every public page, reached as a visitor reaches it, in the language and at the width given."""
    pool_id = set_up_pool(sqlite_engine)
    with app_on(sqlite_engine) as app:
        closed = app.services.create_pool("Lukket pulje", 1000, 2026, datetime.now(UTC))
        app.intake.set_intake("Lukket pulje", datetime.now(UTC), closes_at=datetime.now(UTC) - timedelta(days=1))
    server = web_server(str(sqlite_engine.url), smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from=MAIL_FROM,
                        submit_per_email=2)
    context = browser.new_context(locale="da-DK" if lang == "da" else "en-GB", timezone_id="Europe/Copenhagen",
                                  viewport={"width": width, "height": 800})
    context.add_cookies([{"name": "ideaflow_lang", "value": lang, "url": server.url}])
    page = context.new_page()
    seen: list[str] = []

    def check(what: str) -> None:
        assert page.locator("html").get_attribute("lang") == lang, what
        assert_no_axe_violations(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{what} scrolls sideways"
        seen.append(what)

    def send(address: str, honeypot: bool = False) -> None:
        page.goto(f"{server.url}pools/{pool_id}/ideas/new")
        fill(page, address)
        if honeypot:
            page.evaluate("document.getElementById('website').value = 'http://spam.example'")
        page.locator("form[enctype] button[type=submit]").click()

    page.goto(server.url)
    check("start")
    page.goto(f"{server.url}pools/{pool_id}/ideas/new")
    check("form")
    page.locator("#description").fill("Uden titel og adresse")
    page.locator("form[enctype] button[type=submit]").click()
    check("form with errors")
    send(f"{lang}{width}@example.dk")
    check("receipt")
    page.goto(link_in(smtp, "/submissions/confirm"))
    check("confirm")
    page.locator("main button[type=submit]").click()
    check("confirmed")
    page.goto(f"{server.url}submissions/confirm?token=forkert")
    check("expired link")
    page.goto(f"{server.url}pools/{closed.id}/ideas/new")
    check("closed pool")
    for _ in range(3):  # the third from one address (submit_per_email=2) is refused
        send(f"limit{lang}{width}@example.dk")
    check("rate limited")
    send(f"robot{lang}{width}@example.dk", honeypot=True)
    check("honeypot")
    page.goto(f"{server.url}privacy")
    check("privacy")
    page.goto(f"{server.url}accessibility")
    check("accessibility")
    page.goto(f"{server.url}my-ideas")
    check("sign in")
    page.locator("#email").fill(f"{lang}{width}@example.dk")
    page.locator("main form button[type=submit]").first.click()
    page.goto(link_in(smtp, "/login/continue"))
    page.locator("main button[type=submit]").click()
    check("my ideas")
    page.locator("main a[href$='/withdraw']").first.click()
    check("withdraw")
    page.locator("main form button[type=submit]").click()
    check("my ideas after withdrawing")
    context.close()
    assert len(seen) == 16


def fill(page, address: str) -> None:
    page.locator("#title").fill("Grønne skolegårde")
    page.locator("#description").fill("Plant træer.")
    page.locator("#name").fill("Åse Ærlig")
    page.locator("#email").fill(address)
    page.locator("#proposer_kind").check()


# -- hostile input, the honeypot, the limits, a closed pool ----------------------------------------------


def test_hostile_input_in_every_field_is_stored_exactly_and_shown_as_text(engine, db_url, web_server, smtp, page,
                                                                          tmp_path, cli):
    pool_id = set_up_pool(engine)
    server = web_server(db_url, smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from=MAIL_FROM)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = {
        "title": "<script>alert('t')</script>\u202eelttit",
        "description": "<img src=x onerror=alert('d')>\n\tطويل \u200f<i>x</i> & \"q\"",
        "department": "</textarea><script>alert('a')</script>",
        "name": "Ærlig <svg onload=alert('n')>",
    }
    page.goto(f"{server.url}pools/{pool_id}/ideas/new")
    for field, value in hostile.items():
        page.locator(f"#{field}").fill(value)
    page.locator("#email").fill("aase@example.dk")
    page.locator("#proposer_kind").check()
    exe = tmp_path / "plan.pdf"
    exe.write_bytes(b"MZ\x90\x00\x03" + bytes(300) + b"This program cannot be run in DOS mode.")
    page.locator("#attachments").set_input_files(str(exe))
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.locator("#attachments-error")).to_contain_text("plan.pdf er hverken en PDF")
    for field, value in hostile.items():  # kept exactly as typed
        expect(page.locator(f"#{field}")).to_have_value(value)
    assert submissions(engine) == 0
    page.locator("form[enctype] button[type=submit]").click()  # without the program this time
    page.goto(link_in(smtp, "/submissions/confirm"))
    expect(page.locator("main")).to_contain_text(hostile["title"])
    page.locator("main button[type=submit]").click()
    shown = json.loads(cli("show", "1", "--json").stdout)
    assert (shown["title"], shown["description"], shown["departments"]) == (
        hostile["title"], hostile["description"], [hostile["department"]])
    assert dialogs == []


def test_bodies_of_10_mb_are_refused_or_stored_exactly(engine, db_url, web_server):
    pool_id = set_up_pool(engine)
    server = web_server(db_url, attachment_max_bytes=11 * 1024 * 1024)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        token = csrf(client)
        ten_mb_text = client.post(f"pools/{pool_id}/ideas/new", data={
            "csrf_token": token, "title": "T", "description": "x" * (10 * 1024 * 1024), "name": "N",
            "email": "a@example.dk", "proposer_kind": "citizen"})
        assert ten_mb_text.status_code in (400, 413, 422), ten_mb_text.status_code
        ten_mb_pdf = PDF + bytes(10 * 1024 * 1024 - len(PDF))
        stored = client.post(f"pools/{pool_id}/ideas/new", data={
            "csrf_token": token, "title": "T", "description": "D", "name": "N", "email": "a@example.dk",
            "proposer_kind": "citizen"}, files={"attachments": ("stor.pdf", ten_mb_pdf, "application/pdf")})
        assert stored.status_code == 200, stored.text
    from storage.tables import AttachmentRow

    with engine.connect() as connection:
        assert connection.scalar(select(AttachmentRow.content)) == ten_mb_pdf
    assert submissions(engine) == 1


def test_the_honeypot_the_rate_limit_and_a_closed_pool_register_nothing(engine, db_url, web_server, page):
    pool_id = set_up_pool(engine, closes_at=datetime.now(UTC) + timedelta(days=1))
    server = web_server(db_url, submit_per_address=2)
    page.goto(f"{server.url}pools/{pool_id}/ideas/new")
    fill(page, "robot@example.dk")
    page.evaluate("document.getElementById('website').value = 'http://spam.example'")
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vi kunne ikke modtage idéen")
    assert submissions(engine) == 0
    for n in range(3):
        page.goto(f"{server.url}pools/{pool_id}/ideas/new")
        fill(page, f"p{n}@example.dk")
        page.locator("form[enctype] button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("Prøv igen efter")
    assert submissions(engine) == 2
    with app_on(engine) as app:
        app.intake.set_intake(POOL, datetime.now(UTC), closes_at=datetime.now(UTC))
    page.goto(f"{server.url}pools/{pool_id}/ideas/new")
    expect(page.locator("main")).to_contain_text("Puljen lukkede for idéer")
    expect(page.locator("#title")).to_have_count(0)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        refused = client.post(f"pools/{pool_id}/ideas/new", data={
            "csrf_token": csrf(client), "title": "T", "description": "D", "name": "N", "email": "z@example.dk",
            "proposer_kind": "citizen"})
    assert refused.status_code == 409 and submissions(engine) == 2 and ideas(engine) == 0


def csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("privacy").text).group(1)


# -- a burst -----------------------------------------------------------------------------------------------


def test_a_burst_of_1000_submissions_and_confirmations_from_50_clients(engine, db_url, web_server, tmp_path):
    """50 clients, each its own cookies and connection, submit 1,000 ideas, then confirm each from the mailed
    link twice over (two clients racing for every link): exactly 1,000 ideas, none lost, none doubled."""
    pool_id = set_up_pool(engine)
    server = web_server(db_url, submit_per_address=10_000, submit_per_email=10_000)
    mail_dir = tmp_path / "mail"
    lock = threading.Lock()
    failures: list[str] = []

    def client_work(number: int, jobs) -> None:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            token = csrf(client)
            for job in jobs:
                answer = job(client, token)
                if answer.status_code != 200:
                    with lock:
                        failures.append(f"client {number}: {answer.status_code} {answer.text[:200]}")

    def submit(n: int):
        return lambda client, token: client.post(f"pools/{pool_id}/ideas/new", data={
            "csrf_token": token, "title": f"Idé nummer {n}", "description": f"Beskrivelse {n}", "name": f"Borger {n}",
            "email": f"borger{n}@example.dk", "proposer_kind": "citizen"})

    def run(jobs: list) -> None:
        with ThreadPoolExecutor(50) as pool:
            for number in range(50):
                pool.submit(client_work, number, jobs[number::50])

    run([submit(n) for n in range(1000)])
    assert failures == []
    assert submissions(engine) == 1000 and ideas(engine) == 0
    links = mailed_tokens(mail_dir)
    assert len(links) == 1000

    def confirm(token_: str):
        return lambda client, token: client.post("submissions/confirm", data={"csrf_token": token, "token": token_})

    run([confirm(t) for t in links] + [confirm(t) for t in reversed(links)])
    assert failures == []
    with engine.connect() as connection:
        titles = connection.scalars(select(IdeaRow.title)).all()
    assert len(titles) == 1000 and set(titles) == {f"Idé nummer {n}" for n in range(1000)}


def mailed_tokens(mail_dir: Path) -> list[str]:
    import email
    import email.policy

    tokens = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found = re.search(r"/submissions/confirm\?token=([A-Za-z0-9_-]+)", message.get_body(("plain",)).get_content())
        if found:
            tokens.append(found.group(1))
    return tokens
