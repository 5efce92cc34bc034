"""Signing in and the console's foundation, in Chromium against `ideaflow web` as a process, with a
real database and the mail the server really delivered (.eml files in its mail folder).

Each security promise is a test that would fail without it: a mail scanner's GET of the link does
not sign in, a token works once and not after it expired, a POST without the CSRF field is refused,
the session id changes at sign-in, sign-out and the idle/absolute time-outs end the session,
hostile text is shown as text, the security headers are on every kind of response. axe-core checks
every page of the sign-in in Danish and English at 1280 and 320 px.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from consoleweb import running_console
from signinweb import (
    HOSTILE,
    KARIN,
    add_people,
    ask_for_link,
    delivered_link,
    fetch,
    mail_folder,
    session_cookie,
    sign_in,
    visible_focus,
)
from webtest import assert_no_axe_violations, assert_reflows

pytestmark = pytest.mark.slow

SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture
def db_url(db_path):
    """SQLite only: these tests are about the console; the sign-in service's own tests
    (tests/integration/test_signin.py) and test_workers.py run on PostgreSQL too."""
    return f"sqlite:///{db_path}"


@pytest.fixture
def people(services):
    add_people(services)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One `ideaflow web` for the tests that sign in and look around, on a database of their own with
    the people added once: a process per test cost ~2 s of CPU each. Its sign-in link limits are out
    of reach of the many links these tests ask for (test_too_many_links_for_one_address has its own).
    Tests that change what the others would see (a person's language, a dropped table) start their
    own: `own_console`."""

    def seed(app) -> dict[str, int]:
        add_people(app.services)
        return {}

    with running_console(tmp_path_factory.mktemp("signin"), seed, signin_per_address=1000,
                         signin_per_ip=1000) as console:
        yield console


@pytest.fixture
def console(shared):
    return shared.server


@pytest.fixture
def console_engine(shared):
    return shared.engine


@pytest.fixture
def own_console(web_server, db_url, engine, people):
    return web_server(db_url)


def test_sign_in_through_the_link_in_the_delivered_mail(page, console):
    link = ask_for_link(page, console, KARIN)
    assert link.startswith(console.url + "login/continue?token="), "the mail links to this console"
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Log ind")
    expect(page.locator("main p").first).to_have_text(f"Linket logger Karin Koordinator ({KARIN}) ind.")
    page.get_by_role("button", name="Fortsæt").click()
    expect(page).to_have_url(console.url + "home")
    expect(page.get_by_role("heading", level=1)).to_have_text("Velkommen, Karin Koordinator")
    expect(page.get_by_role("link", name="Portefølje").first).to_have_attribute("href", "/portfolio")
    expect(page.locator("header")).to_contain_text("Karin Koordinator")
    assert_no_axe_violations(page)


def test_the_same_answer_for_an_unknown_address_and_no_mail(page, console):
    page.goto(console.url + "login")
    page.get_by_label("E-mailadresse").fill("nobody@example.dk")
    page.get_by_role("button", name="Send mig et link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tjek din e-mail")
    expect(page.locator("main")).to_contain_text("Hvis nobody@example.dk tilhører en")
    time.sleep(1)
    assert "nobody@example.dk" not in "".join(path.read_text(encoding="utf-8", errors="replace")
                                              for path in mail_folder(console).glob("*.eml"))


def test_a_prefetched_link_does_not_sign_in_and_stays_usable(page, console):
    link = ask_for_link(page, console, KARIN)
    for _ in range(3):  # Safe Links and other scanners open the link, sometimes more than once
        status, _, body = fetch(link)
        assert status == 200 and "Fortsæt" in body
    assert session_cookie(page) is None
    page.goto(link)
    page.get_by_role("button", name="Fortsæt").click()
    expect(page).to_have_url(console.url + "home")
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert console.logged("GET /login/continue?token=… HTTP/1.1") and token not in console.output, \
        "the access log keeps no token"


def test_a_token_works_once(page, browser, console):
    link = ask_for_link(page, console, KARIN)
    page.goto(link)
    page.get_by_role("button", name="Fortsæt").click()
    expect(page).to_have_url(console.url + "home")
    other = browser.new_context(locale="da-DK")
    try:
        second = other.new_page()
        response = second.goto(link)
        assert response.status == 410
        expect(second.get_by_role("heading", level=1)).to_have_text("Linket virker ikke længere")
        assert_no_axe_violations(second)
        assert session_cookie(second) is None
    finally:
        other.close()


def test_a_token_used_twice_by_post_is_refused(page, browser, console):
    """Two browsers both showing the Continue page: only the first press signs in."""
    link = ask_for_link(page, console, KARIN)
    other = browser.new_context(locale="da-DK")
    try:
        second = other.new_page()
        page.goto(link)
        second.goto(link)
        page.get_by_role("button", name="Fortsæt").click()
        expect(page).to_have_url(console.url + "home")
        second.get_by_role("button", name="Fortsæt").click()
        expect(second.get_by_role("heading", level=1)).to_have_text("Linket virker ikke længere")
        assert session_cookie(second) is None
    finally:
        other.close()


def test_an_expired_token_is_refused(page, console, console_engine):
    link = ask_for_link(page, console, KARIN)
    page.goto(link)
    with console_engine.begin() as connection:  # a quarter of an hour passes
        connection.execute(text("UPDATE signin_tokens SET expires_at = :past"),  # SQLite keeps UTC, naive
                           {"past": datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)})
    page.get_by_role("button", name="Fortsæt").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Linket virker ikke længere")
    assert session_cookie(page) is None


def test_a_post_without_the_csrf_field_is_refused(page, console):
    sign_in(page, console)
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    for form in (b"", b"csrf_token=forged"):
        status, headers, body = fetch(console.url + "logout", data=form, cookie=cookies)
        assert status == 403 and "Formularen var udløbet" in body
        assert "Traceback" not in body
    page.goto(console.url + "home")
    expect(page.get_by_role("heading", level=1)).to_have_text("Velkommen, Karin Koordinator"), "still signed in"
    # A form on another site cannot post either: it has no token, and SameSite=Lax keeps the cookie home.
    status, _, _ = fetch(console.url + "login", data=b"email=" + KARIN.encode())
    assert status == 403


def test_the_session_id_changes_at_sign_in(page, console):
    page.context.add_cookies([{"name": "ideaflow_session", "value": "planted-by-an-attacker", "url": console.url}])
    first = sign_in(page, console)
    assert first and first != "planted-by-an-attacker"
    second = sign_in(page, console)
    assert second != first
    status, headers, _ = fetch(console.url + "home", cookie=f"ideaflow_session={first}")
    assert status == 303 and headers["location"].startswith("/login"), "signing in again ended the old session"


def test_sign_out_ends_the_session(page, console):
    session = sign_in(page, console)
    page.get_by_role("button", name="Log ud").click()
    expect(page).to_have_url(re.compile(r"/login\?status=signed_out$"))
    expect(page.get_by_role("status")).to_have_text("Du er logget ud.")
    assert session_cookie(page) is None
    status, headers, _ = fetch(console.url + "home", cookie=f"ideaflow_session={session}")
    assert status == 303 and headers["location"] == "/login?next=/home"


@pytest.mark.parametrize("column, age", [("last_seen_at", timedelta(minutes=61)), ("created_at", timedelta(hours=12))])
def test_idle_and_absolute_time_outs_end_the_session(page, console, console_engine, column, age):
    sign_in(page, console)
    past = datetime.now(UTC) - age
    with console_engine.begin() as connection:
        connection.execute(text(f"UPDATE web_sessions SET {column} = :past"), {"past": past.replace(tzinfo=None)})
    page.goto(console.url + "home")
    expect(page).to_have_url(console.url + "login?next=/home")


def test_a_form_sent_after_the_session_ended_says_so_and_shows_back_what_was_typed(page, console, console_engine):
    sign_in(page, console)
    page.goto(console.url + "preferences")
    with console_engine.begin() as connection:
        connection.execute(text("UPDATE web_sessions SET last_seen_at = :past"),
                           {"past": (datetime.now(UTC) - timedelta(minutes=61)).replace(tzinfo=None)})
    page.get_by_role("button", name="Gem").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Du er blevet logget ud")
    expect(page.locator("main")).to_contain_text("fordi du ikke har været aktiv i 60 minutter. Intet blev gemt.")
    assert_no_axe_violations(page)
    page.get_by_role("link", name="Log ind igen").click()
    expect(page).to_have_url(console.url + "login?next=/preferences")
    expect(page.locator("main")).to_contain_text("Log ind for at se siden.")
    # Signed out in another tab: Chromium says the form is this site's (Origin), so its words come back.
    sign_in(page, console)
    page.goto(console.url + "preferences")
    page.evaluate("""(typed) => {  // a free-text field, as the idea page's forms have (preferences has none)
      const area = document.createElement("textarea"); area.name = "comment"; area.value = typed;
      document.querySelector("main form").append(area); }""", HOSTILE)
    other_tab = page.context.new_page()
    other_tab.goto(console.url + "home")
    other_tab.get_by_role("button", name="Log ud").click()
    page.get_by_role("button", name="Gem").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Du er logget ud")
    expect(page.get_by_role("region", name="Det, du skrev").get_by_label("Kommentar")).to_have_value(HOSTILE)
    assert page.locator("main script").count() == 0
    assert_no_axe_violations(page)
    other_tab.close()


def test_a_page_for_signed_in_people_sends_others_to_sign_in_and_back(page, console):
    page.goto(console.url + "home")
    expect(page).to_have_url(console.url + "login?next=/home")
    link = ask_for_link(page, console, KARIN)
    page.goto(link)
    page.get_by_role("button", name="Fortsæt").click()
    expect(page).to_have_url(console.url + "home")


def test_hostile_text_is_shown_as_text(page, console):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, console, "hostile@kommune.dk")
    expect(page.locator("header .user")).to_have_text(HOSTILE)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Velkommen, {HOSTILE}")
    # The address typed into the form comes back as text too.
    page.goto(console.url + "login")
    page.get_by_label("E-mailadresse").fill('"><script>alert(2)</script>@x.dk')
    page.get_by_role("button", name="Send mig et link").click()
    expect(page.locator("main")).to_contain_text('"><script>alert(2)</script>@x.dk')
    assert page.locator("main script").count() == 0
    assert dialogs == []


def test_a_wrong_address_comes_back_with_its_value_a_summary_and_the_fields_message(page, console):
    page.goto(console.url + "login")
    field = page.get_by_label("E-mailadresse")
    field.fill("karin at kommune")
    with page.expect_response(console.url + "login") as answer:
        page.get_by_role("button", name="Send mig et link").click()
    assert answer.value.status == 422
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Der er et problem")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="Skriv en e-mailadresse, for eksempel navn@kommune.dk.").click()
    expect(field).to_be_focused()
    expect(field).to_have_value("karin at kommune")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_contain_text("Skriv en e-mailadresse")
    assert page.title().startswith("Fejl:")
    assert_no_axe_violations(page)


def test_sign_in_by_keyboard_alone(page, console):
    page.goto(console.url + "login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Gå til sidens indhold")).to_be_focused()
    assert visible_focus(page), "the focused element shows it"
    page.keyboard.press("Enter")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "email":
            break
    assert visible_focus(page)
    page.keyboard.type(KARIN)
    started = time.time_ns()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tjek din e-mail")
    page.goto(delivered_link(console, KARIN, after=started))
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Fortsæt":
            break
    assert visible_focus(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(console.url + "home")


def test_english_at_a_click_and_kept_with_the_person(page, own_console, engine):
    page.goto(own_console.url + "login")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("status")).to_have_text("The language has been changed.")
    assert_no_axe_violations(page)
    sign_in(page, own_console)  # Karin's own language is Danish: signed in, the console follows her
    expect(page.locator("html")).to_have_attribute("lang", "da")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Karin Koordinator")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT lang FROM people WHERE email = :e"), {"e": KARIN}).scalar() == "en"


def test_security_headers_on_pages_files_and_errors(page, console):
    sign_in(page, console)
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    answers = {
        "page": fetch(console.url + "home", cookie=cookies),
        "signed-out page": fetch(console.url + "login"),
        "static file": fetch(console.url + "static/dkfds/css/dkfds.min.css"),
        "not found": fetch(console.url + "no/such/page"),
        "refused POST": fetch(console.url + "logout", data=b""),
        "redirect": fetch(console.url + "home"),
    }
    for what, (status, headers, body) in answers.items():
        for name, needle in SECURITY_HEADERS.items():
            assert needle in headers.get(name, ""), (what, status, name, headers)
        assert "'unsafe-inline'" not in headers["content-security-policy"], what
        assert "Traceback" not in body, what
    assert answers["not found"][0] == 404 and "Siden blev ikke fundet" in answers["not found"][2]
    assert answers["page"][1]["cache-control"] == "no-store"
    for cookie in page.context.cookies():
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie


def test_a_body_over_the_limit_gets_a_page_not_a_crash(web_server, db_url, engine, people):
    console = web_server(db_url, max_body_bytes=4096)
    status, headers, body = fetch(console.url + "login", data=b"email=" + b"x" * 10_000)
    assert status == 413 and "Det, du sendte, er for stort" in body
    assert "nosniff" in headers["x-content-type-options"]


def test_too_many_links_for_one_address(page, web_server, db_url, engine, people):
    console = web_server(db_url, signin_per_address=2, signin_repeat_seconds=0)  # each link mailed, none used
    for _ in range(2):
        ask_for_link(page, console, KARIN)
    page.goto(console.url + "login")
    page.get_by_label("E-mailadresse").fill(KARIN.upper())
    with page.expect_response(console.url + "login") as answer:
        page.get_by_role("button", name="Send mig et link").click()
    assert answer.value.status == 429
    expect(page.get_by_role("heading", level=1)).to_have_text("For mange links til at logge ind")
    assert_no_axe_violations(page)


@pytest.mark.parametrize("locale, width", [("da-DK", 1280), ("da-DK", 320), ("en-GB", 1280), ("en-GB", 320)])
def test_no_wcag_violation_on_the_sign_in_pages(browser, console, locale, width):
    context = browser.new_context(locale=locale, viewport={"width": width, "height": 700})
    try:
        page = context.new_page()
        page.goto(console.url + "login")
        if locale == "en-GB":
            page.get_by_role("button", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
        checked = []

        def check(name: str) -> None:
            assert_reflows(page, width)
            assert_no_axe_violations(page)
            checked.append(name)

        check("login")
        page.get_by_role("button", name=re.compile("Send mig et link|Send me a link")).click()
        expect(page.get_by_role("alert")).to_be_visible()  # the answer has replaced the page
        check("login with an error")
        # Signed in, the console speaks the person's own language: Karin's is Danish, Bent's English
        # (clicking English on the console would change Karin's for the tests after this one).
        link = ask_for_link(page, console, KARIN if locale == "da-DK" else "reviewer@kommune.dk")
        check("link sent")
        page.goto(link)
        check("continue")
        page.get_by_role("button", name=re.compile("Fortsæt|Continue")).click()
        expect(page).to_have_url(re.compile(r"/home$"))
        expect(page.locator("html")).to_have_attribute("lang", locale[:2])
        check("home")
        page.goto(link)
        check("link used")
        page.goto(console.url + "no/such/page")
        check("not found")
        page.get_by_role("button", name=re.compile("Log ud|Sign out")).click()
        expect(page).to_have_url(re.compile(r"status=signed_out"))
        check("signed out")
        assert len(checked) == 8
    finally:
        context.close()


@pytest.mark.parametrize("claims_in_userinfo_only", [False, True], ids=["email-in-id-token", "email-from-userinfo"])
def test_single_sign_on_against_the_oidc_provider_on_loopback(page, web_server, db_url, engine, people, oidc_providers,
                                                              claims_in_userinfo_only):
    oidc_provider = oidc_providers(claims_in_userinfo_only=claims_in_userinfo_only)
    client = oidc_provider.client
    console = web_server(db_url, oidc_issuer=oidc_provider.issuer, oidc_client_id=client.client_id,
                         oidc_client_secret=client.client_secret)
    page.goto(console.url + "home")
    expect(page).to_have_url(console.url + "login?next=/home")
    assert_no_axe_violations(page)
    page.get_by_role("link", name="Log ind med din arbejdskonto").click()
    expect(page).to_have_url(re.compile("^" + re.escape(oidc_provider.issuer)))
    callbacks = []
    page.on("request", lambda request: callbacks.append(request.url) if "/auth/oidc/callback" in request.url else None)
    oidc_provider.sign_in(page, "Koordinator@Kommune.dk")
    expect(page).to_have_url(console.url + "home")
    expect(page.get_by_role("heading", level=1)).to_have_text("Velkommen, Karin Koordinator")
    assert session_cookie(page) and len(callbacks) == 1
    # The provider's answer works once: replayed, even with the browser's state cookie, it signs nobody in.
    state = parse_qs(urlsplit(callbacks[0]).query)["state"][0]
    status, headers, body = fetch(callbacks[0], cookie=f"ideaflow_oidc_state={state}")
    assert status == 400 and "Det lykkedes ikke at logge ind" in body
    assert "ideaflow_session" not in headers.get("set-cookie", "")
    assert console.logged("unknown, was already used"), console.output


def test_single_sign_on_for_an_address_nobody_has_signs_nobody_in(page, web_server, db_url, engine, people,
                                                                   oidc_provider):
    client = oidc_provider.client
    console = web_server(db_url, oidc_issuer=oidc_provider.issuer, oidc_client_id=client.client_id,
                         oidc_client_secret=client.client_secret)
    page.goto(console.url + "login")
    page.get_by_role("link", name="Log ind med din arbejdskonto").click()
    oidc_provider.sign_in(page, "stranger@kommune.dk")
    expect(page.get_by_role("heading", level=1)).to_have_text("ideaflow kender dig ikke endnu")
    assert session_cookie(page) is None
    assert_no_axe_violations(page)


def test_single_sign_on_refuses_an_issuer_other_than_the_discovered_one(page, web_server, db_url, engine, people,
                                                                        oidc_provider):
    """Entra ID's `common` endpoint publishes a placeholder issuer; a mismatch must fail at once, visibly."""
    client = oidc_provider.client
    console = web_server(db_url, oidc_issuer=oidc_provider.issuer + "/", oidc_client_id=client.client_id,
                         oidc_client_secret=client.client_secret)
    page.goto(console.url + "login")
    page.get_by_role("link", name="Log ind med din arbejdskonto").click()
    expect(page).to_have_url(re.compile("^" + re.escape(oidc_provider.issuer)))  # trailing slash only: same issuer
    console_wrong = web_server(db_url, oidc_issuer=oidc_provider.issuer.replace("127.0.0.1", "localhost"),
                               oidc_client_id=client.client_id, oidc_client_secret=client.client_secret)
    page.goto(console_wrong.url + "auth/oidc")
    expect(page.get_by_role("heading", level=1)).to_have_text("Det lykkedes ikke at logge ind med din arbejdskonto")
    assert console_wrong.logged("discovery names issuer"), console_wrong.output


def test_a_server_error_shows_a_page_never_a_stack_trace(page, own_console, engine):
    sign_in(page, own_console)
    with engine.begin() as connection:  # the database breaks under the running console
        connection.execute(text("DROP TABLE web_sessions"))
    response = page.goto(own_console.url + "home")
    assert response.status == 500
    expect(page.get_by_role("heading", level=1)).to_have_text("Der gik noget galt hos os")
    assert "Traceback" not in page.content() and "web_sessions" not in page.content()
    for name, needle in SECURITY_HEADERS.items():
        assert needle in response.headers.get(name, ""), name
    assert own_console.logged("Traceback"), "the server's log keeps what went wrong"
    assert_no_axe_violations(page)


def test_preferences_keep_the_language_with_the_person(page, own_console, engine):
    page.goto(own_console.url + "preferences")
    expect(page).to_have_url(own_console.url + "login?next=/preferences")
    sign_in(page, own_console)
    page.get_by_role("link", name="Indstillinger").click()
    expect(page.get_by_role("radio", name="Dansk")).to_be_checked()
    assert_no_axe_violations(page)
    page.get_by_role("radio", name="English").check()
    page.get_by_role("button", name="Gem").click()
    expect(page).to_have_url(own_console.url + "preferences?status=saved")
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(page.get_by_role("radio", name="English")).to_be_checked()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT lang FROM people WHERE email = :e"), {"e": KARIN}).scalar() == "en"
    # A forged choice comes back as a form error, not a crash.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    status, _, body = fetch(own_console.url + "preferences", data=f"csrf_token={token}&lang=xx".encode(),
                            cookie=cookies)
    assert status == 422 and "Choose a language." in body and 'href="#lang"' in body
