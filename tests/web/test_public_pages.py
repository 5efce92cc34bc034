"""The public pages over HTTP, in-process (Starlette's test client) on a real database (SQLite and
PostgreSQL) with mail written to a folder: what each page answers, and what reaches the database.

The browser tests (tests/web/test_public_browser.py) walk the same pages in Chromium, by keyboard;
these check every branch quickly, including the ones a browser cannot reach (a forged POST, a
token typed by hand, a 30 MB body).
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from states.criteria import TAARNBY_CRITERIA
from states.form_keys import new_form_key
from states.intake import Submission
from states.model import local_midnight
from states.vocabulary import Decision, Language, Role
from storage.tables import IdeaRow, PersonRow, RefusalRow, SubmissionRow
from web.app import create_app

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
SECRET = b"public pages tests' secret key!!"
POOL = "Borgerpuljen"
COORDINATOR = "koordinator@kommune.dk"


class Site:
    """The console on the test database (built by the composition root, as `ideaflow web` builds it), a
    browser-like client, and the folder the mail goes to."""

    def __init__(self, engine, tmp_path: Path, **overrides) -> None:
        self.mail_dir = tmp_path / "mail"
        self.settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False),
                                 mail_dir=self.mail_dir, public_url="http://testserver/",
                                 secret_key=SECRET.decode(), **overrides)
        self.container = bootstrap(self.settings)
        self.services, self.intake = self.container.services, self.container.intake
        self.now = datetime.now(UTC)
        self.app = create_app(self.container, clock=lambda: self.now)
        self.client = TestClient(self.app)
        self.engine = engine

    def csrf(self) -> str:
        page = self.client.get("/privacy")
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def submit(self, pool_id: int, files=(), **fields):
        data = {"csrf_token": self.csrf(), "title": "Grønne skolegårde", "description": "Træer.\nOg bænke.",
                "name": "Åse Ærlig", "email": "aase@example.dk", "proposer_kind": "citizen", **fields}
        return self.client.post(f"/pools/{pool_id}/ideas/new", data=data,
                                files=[("attachments", f) for f in files] or None)

    def mails(self) -> list:
        """The delivered mail, oldest first (files are named by a random key, so by the time written)."""
        if not self.mail_dir.exists():
            return []
        files = sorted(self.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]

    def link(self, path: str, to: str | None = None) -> str:
        """The token of the newest mailed link to `path` (in mail to `to`, if given)."""
        for message in reversed(self.mails()):
            if to and message["To"].addresses[0].addr_spec != to:
                continue
            found = re.search(rf"http://testserver{re.escape(path)}\?token=([A-Za-z0-9_-]+)",
                              message.get_body(("plain",)).get_content())
            if found:
                return found.group(1)
        raise AssertionError(f"no mail links to {path}")

    def confirm_latest(self):
        token = self.link("/submissions/confirm")
        return self.client.post("/submissions/confirm", data={"csrf_token": self.csrf(), "token": token})

    def sign_in(self, address: str) -> None:
        self.client.post("/login", data={"csrf_token": self.csrf(), "email": address, "next": "/my-ideas"})
        answer = self.client.post("/login/continue", data={"csrf_token": self.csrf(),
                                                           "token": self.link("/login/continue", to=address)})
        assert answer.status_code == 200 and "<h1>" in answer.text, answer.text  # followed to the next page

    def browser_of(self, address: str) -> TestClient:
        """Another browser on the site, with its own cookies, signed in as `address` (another person's)."""
        own, self.client = self.client, TestClient(self.app)
        try:
            self.sign_in(address)
            return self.client
        finally:
            self.client = own

    def count(self, table) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(table))


@pytest.fixture
def site(engine, tmp_path):
    site = Site(engine, tmp_path)
    yield site
    site.container.close()


@pytest.fixture
def pool_id(site) -> int:
    pool = site.services.create_pool(POOL, 1_000_000, 2027, site.now)
    site.services.add_person(COORDINATOR, "Karin Koordinator", Role.COORDINATOR, site.now)
    site.intake.set_intake(POOL, site.now, description="Idéer fra borgerne", grant_max_dkk=200_000)
    return pool.id


def h1(page) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", page.text, re.S).group(1).strip()


def summary(page) -> list[tuple[str, str]]:
    return re.findall(r'<li><a href="#(\w+)">([^<]+)</a></li>', page.text)


def test_the_start_page_lists_the_open_pools_with_a_way_to_their_form(site, pool_id):
    site.services.create_pool("Lukket pulje", 1000, 2027, site.now)
    site.intake.set_intake("Lukket pulje", site.now, closes_at=site.now - timedelta(days=1))
    page = site.client.get("/")
    assert page.status_code == 200 and POOL in page.text and "Lukket pulje" not in page.text
    assert f'href="/pools/{pool_id}/ideas/new"' in page.text and "200.000\N{NO-BREAK SPACE}kr." in page.text
    english = site.client.get("/", cookies={"ideaflow_lang": "en"})
    assert "DKK\N{NO-BREAK SPACE}200,000" in english.text and 'lang="en"' in english.text


def test_the_whole_way_from_form_to_registered_idea(site, pool_id):
    form = site.client.get(f"/pools/{pool_id}/ideas/new")
    for name in ("title", "description", "name", "email"):  # the automation contract
        assert f'name="{name}"' in form.text
    receipt = site.submit(pool_id, files=[("plan.pdf", PDF, "application/pdf")], requested_dkk="150.000 kr.")
    assert receipt.status_code == 200 and h1(receipt) == "Tjek din e-mail" and "aase@example.dk" in receipt.text
    assert site.count(IdeaRow) == 0
    token = site.link("/submissions/confirm")
    for _ in range(2):  # a mail scanner opening the link first changes nothing
        page = site.client.get(f"/submissions/confirm?token={token}")
        assert page.status_code == 200 and "Bekræft idéen" in page.text
    assert site.count(IdeaRow) == 0
    done = site.confirm_latest()
    assert done.status_code == 200 and h1(done) == "Din idé er registreret"
    again = site.confirm_latest()
    assert "allerede registreret" in again.text or "var allerede registreret" in again.text
    assert site.count(IdeaRow) == 1
    with site.engine.connect() as connection:
        assert connection.scalar(select(IdeaRow.requested_dkk)) == 150_000


def test_a_mailed_link_opens_in_its_readers_language_also_in_a_browser_new_to_the_site(site, pool_id):
    """A proposer who wrote in English, and a person who reads English, open their mailed links in a
    browser that has never been here (another device, a mail app's own browser): the pages speak English,
    and so do the visit's next pages. A choice made in that browser still wins."""
    site.client.cookies.set("ideaflow_lang", "en")
    site.submit(pool_id, email="carl@example.com", name="Carl Citizen")
    token = site.link("/submissions/confirm")
    new_browser = TestClient(site.app)
    page = new_browser.get(f"/submissions/confirm?token={token}")
    assert 'lang="en"' in page.text and h1(page) == "Confirm your idea"
    assert h1(new_browser.get("/login")) == "Sign in"  # the visit goes on in English
    danish_browser = TestClient(site.app, cookies={"ideaflow_lang": "da"})
    assert h1(danish_browser.get(f"/submissions/confirm?token={token}")) == "Bekræft din idé"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = TestClient(site.app).post("/submissions/confirm", data={"csrf_token": csrf, "token": token},
                                     cookies=dict(new_browser.cookies))
    assert h1(done) == "Your idea is registered"

    site.services.add_person("rita@kommune.dk", "Rita Reviewer", Role.REVIEWER, site.now, Language.EN)
    site.client.cookies.set("ideaflow_lang", "da")
    site.client.post("/login", data={"csrf_token": site.csrf(), "email": "rita@kommune.dk"})
    link = f"/login/continue?token={site.link('/login/continue', to='rita@kommune.dk')}"
    assert h1(TestClient(site.app).get(link)) == "Sign in" and 'lang="en"' in TestClient(site.app).get(link).text
    assert TestClient(site.app).get("/login/continue?token=used-or-unknown").status_code == 410


def test_a_wrong_form_comes_back_with_its_values_and_every_error_linked(site, pool_id):
    page = site.submit(pool_id, title="", email="ikke en adresse", requested_dkk="mange penge",
                       description="<b>Mit forslag</b>", proposer_kind="",
                       files=[("setup.pdf", b"MZ\x90\x00" + bytes(64), "application/pdf")])
    assert page.status_code == 422 and page.text.count('role="alert"') == 1
    assert [name for name, _ in summary(page)] == ["title", "requested_dkk", "attachments", "email", "proposer_kind"]
    for name, _ in summary(page):
        assert f'id="{name}"' in page.text  # each link lands on its field
    assert 'value="ikke en adresse"' in page.text and 'value="mange penge"' in page.text
    assert "&lt;b&gt;Mit forslag&lt;/b&gt;</textarea>" in page.text  # kept, and shown as text
    assert "setup.pdf er hverken en PDF" in page.text
    assert site.count(SubmissionRow) == 0 and site.mails() == []


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
#: Five files, each wrong in its own way (each alone gets its own message).
WRONG_FILES = [("noter.txt", b"Mine noter om ideen.", "text/plain"), ("fake.pdf", PNG, "application/pdf"),
               ("tom.pdf", b"", "application/pdf"), ("big.pdf", PDF + bytes(6 * 1024 * 1024), "application/pdf"),
               ("x.html", b"<html><body>hej</body></html>", "text/html")]


def test_every_wrong_file_is_said_at_once_each_linked_to_the_attachments(site, pool_id):
    page = site.submit(pool_id, files=WRONG_FILES)
    assert page.status_code == 422 and page.text.count('role="alert"') == 1
    assert summary(page) == [
        ("attachments", "noter.txt er hverken en PDF, et billede (PNG, JPEG, GIF, WebP) eller et kontordokument "
                        "(Word, Excel, PowerPoint, OpenDocument)."),
        ("attachments", "fake.pdf er en anden slags fil, end navnet siger; giv den et navn, der ender på .png."),
        ("attachments", "tom.pdf er tom."),
        ("attachments", "big.pdf er større end 5 MB."),
        ("attachments", "x.html er hverken en PDF, et billede (PNG, JPEG, GIF, WebP) eller et kontordokument "
                        "(Word, Excel, PowerPoint, OpenDocument)."),
    ]
    field_messages = re.search(r'<span class="form-error-message" id="attachments-error">(.*?)</span>\s*<input',
                               page.text, re.S).group(1)
    for name in ("noter.txt", "fake.pdf", "tom.pdf", "big.pdf", "x.html"):  # and by the field itself
        assert name in field_messages, name
    assert 'aria-describedby="attachments-hint attachments-error"' in page.text
    # Six files: too many, and what is wrong with each, in one answer; in English as well.
    site.client.cookies.set("ideaflow_lang", "en")
    six = site.submit(pool_id, files=[*WRONG_FILES, ("plan.pdf", PDF, "application/pdf")])
    lines = [line for name, line in summary(six) if name == "attachments"]
    assert lines[0] == "Attach at most 5 files." and len(lines) == 6, lines
    assert "tom.pdf is empty." in lines and "big.pdf is larger than 5 MB." in lines
    assert site.count(SubmissionRow) == 0 and site.mails() == []


def test_a_form_that_comes_back_asks_for_its_files_again_and_the_receipt_names_those_received(site, pool_id):
    """No browser fills a file input: a form sent back for another mistake says, in its summary and on the
    field, to choose the files again; the receipt lists the files that came."""
    page = site.submit(pool_id, files=[("plan.pdf", PDF, "application/pdf")], proposer_kind="")
    assert page.status_code == 422
    assert summary(page) == [("attachments", "Filer gemmes ikke, når formularen kommer tilbage: vælg dem igen."),
                             ("proposer_kind", "Vælg, om du skriver som borger eller som medarbejder.")]
    without_files = site.submit(pool_id, proposer_kind="")
    assert [name for name, _ in summary(without_files)] == ["proposer_kind"]
    received = site.submit(pool_id, files=[("plan.pdf", PDF, "application/pdf"), ("kort.png", PNG, "image/png")])
    assert received.status_code == 200 and "Filer modtaget sammen med idéen: plan.pdf, kort.png" in received.text


def test_switching_language_on_the_receipt_shows_the_receipt_again(site, pool_id):
    """The receipt answers a POST; its language switch comes back to a signed address of its own that
    shows it again, not to the (empty) form, which invited sending the idea a second time."""
    received = site.submit(pool_id, files=[("plan.pdf", PDF, "application/pdf")])
    back = re.search(r'name="next" value="(/submissions/receipt\?ref=[^"]+)"', received.text).group(1)
    switched = site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": back})
    assert switched.status_code == 200 and h1(switched) == "Check your e-mail"
    assert "We have sent a mail to aase@example.dk." in switched.text and "plan.pdf" in switched.text
    assert html.unescape(back) in html.unescape(switched.text)  # and back again to Danish from there
    number, _, signed = html.unescape(back).partition("=")[2].partition(".")
    for forged in (f"{int(number) + 1}.{signed}", f"{number}.{'0' * len(signed)}", number, "x.y", ""):
        page = site.client.get(f"/submissions/receipt?ref={forged}")
        assert page.status_code == 410 and "aase@example.dk" not in page.text, forged
    site.confirm_latest()  # once confirmed, the receipt says so
    assert "Your idea is registered" in site.client.get(html.unescape(back)).text


def test_hostile_text_is_stored_exactly_and_shown_as_text(site, pool_id):
    title = '<script>alert("x")</script> \u202eævøl\u202c'
    description = "Linje ét\r\nLinje to\t<img src=x onerror=alert(1)>"
    assert site.submit(pool_id, title=title, description=description, name="O'Brien <b>").status_code == 200
    site.confirm_latest()
    site.sign_in("aase@example.dk")
    page = site.client.get("/my-ideas")
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "<img src=x" not in page.text
    with site.engine.connect() as connection:
        stored = tuple(connection.execute(select(IdeaRow.title, IdeaRow.description)).one())
    # A textarea's line breaks travel as CRLF (as browsers send them) and are kept as the LF that was typed.
    assert stored == (title, "Linje ét\nLinje to\t<img src=x onerror=alert(1)>")


@pytest.mark.parametrize("field, value", [("title", "a\x00b"), ("name", "x\x1b[31m"), ("title", "t" * 201),
                                          ("description", "d" * 20_001)])
def test_control_characters_and_overlong_fields_are_refused(site, pool_id, field, value):
    page = site.submit(pool_id, **{field: value})
    assert page.status_code == 422 and [name for name, _ in summary(page)] == [field]
    assert site.count(SubmissionRow) == 0
    if field == "description":  # the limit, in the hint and in the message, with Danish digit grouping
        assert "Højst 20.000 tegn." in page.text and dict(summary(page))[field] == (
            "Beskrivelse: Skriv højst 20.000 tegn.")  # the summary names the field


@pytest.mark.parametrize("amount", ["²", "1²", "12.50", "1,5", "250.000,50"])
def test_an_amount_that_is_no_whole_number_of_kroner_is_refused_on_its_field(site, pool_id, amount):
    """"²" passes `str.isdigit` and broke `int` (a server error); a decimal was read without its point
    (12.50 as 1250 kr.)."""
    page = site.submit(pool_id, requested_dkk=amount)
    assert page.status_code == 422 and summary(page) == [("requested_dkk", "Skriv beløbet som et helt antal kroner, "
                                                                             "for eksempel 250000.")]
    assert site.count(SubmissionRow) == 0


@pytest.mark.parametrize(("amount", "kroner"), [("150.000 kr.", 150_000), ("DKK 150,000", 150_000),
                                                ("150 000", 150_000)])
def test_an_amount_is_read_as_written_in_either_language(site, pool_id, amount, kroner):
    assert site.submit(pool_id, requested_dkk=amount).status_code == 200
    with site.engine.connect() as connection:
        assert connection.scalar(select(SubmissionRow.requested_dkk)) == kroner


def test_an_amount_outside_the_pools_grants_is_refused_in_a_sentence_of_its_own(site, pool_id):
    """The form says the pool gives between 10.000 kr. and 200.000 kr.: an amount outside is refused on its
    field, and the amount ending in "kr." does not end the sentence twice."""
    site.intake.set_intake(POOL, site.now, grant_min_dkk=10_000)
    below = site.submit(pool_id, requested_dkk="5000")
    assert below.status_code == 422 and summary(below) == [
        ("requested_dkk", "Puljen giver mindst 10.000 kr. til en idé.")]
    above = site.submit(pool_id, requested_dkk="200001")
    assert above.status_code == 422 and summary(above) == [
        ("requested_dkk", "Puljen giver højst 200.000 kr. til en idé.")]
    assert "kr.." not in below.text + above.text and site.count(SubmissionRow) == 0
    site.client.cookies.set("ideaflow_lang", "en")
    english = site.submit(pool_id, requested_dkk="5000")
    assert summary(english) == [("requested_dkk", "The pool gives at least DKK 10,000 to an idea.")]
    site.client.cookies.set("ideaflow_lang", "da")
    assert site.submit(pool_id, requested_dkk="10000").status_code == 200


def typed_back(page) -> list[str]:
    """The texts a page shows back to copy (`_forms.html` typed_back), unescaped."""
    return [html.unescape(text) for text in re.findall(r"<textarea[^>]*readonly>(.*?)</textarea>", page.text, re.S)]


def test_the_honeypot_refuses_and_stores_nothing(site, pool_id):
    page = site.submit(pool_id, website="http://spam.example")
    assert page.status_code == 400 and "Vi kunne ikke modtage idéen" in page.text
    assert site.count(SubmissionRow) == 0 and site.mails() == []
    # A person whose browser filled the field in gets what they wrote back, to copy.
    assert typed_back(page) == ["Grønne skolegårde", "Træer.\nOg bænke."]


def test_the_rate_limit_answers_with_a_page_saying_until_when(engine, tmp_path):
    site = Site(engine, tmp_path, submit_per_address=2)
    site.services.create_pool(POOL, 1000, 2027, site.now)
    pool_id = site.intake.pools(site.now)[0].id
    assert [site.submit(pool_id, email=f"p{n}@example.dk").status_code for n in range(3)] == [200, 200, 429]
    page = site.submit(pool_id, email="p9@example.dk", title="Min <b>idé</b>")
    assert page.status_code == 429 and "Prøv igen efter" in page.text
    assert typed_back(page)[0] == "Min <b>idé</b>" and "Min <b>" not in page.text  # as text, to copy
    assert site.count(SubmissionRow) == 2


def test_a_closed_pool_says_so_and_refuses(site, pool_id):
    site.intake.set_intake(POOL, site.now, closes_at=site.now - timedelta(minutes=1))
    page = site.client.get(f"/pools/{pool_id}/ideas/new")
    assert page.status_code == 409 and "Puljen lukkede for idéer" in page.text and 'name="title"' not in page.text
    posted = site.submit(pool_id)  # typed while it was open: shown back, to copy
    assert posted.status_code == 409 and site.count(SubmissionRow) == 0
    assert "Intet blev gemt." in posted.text and typed_back(posted)[0] == "Grønne skolegårde"
    assert typed_back(page) == []


def test_a_window_that_begins_or_ends_with_a_day_is_said_by_its_days(site, pool_id):
    """The intake form takes days: a pool closes as its last day ends, at the next Copenhagen midnight.
    Pages say that last day ("til og med 31. januar"), not the midnight after it ("1. februar kl. 00:00")."""
    site.intake.set_intake(POOL, site.now, closes_at=local_midnight(date(2030, 2, 1)))
    assert "Åben for idéer til og med 31. januar 2030." in site.client.get("/").text
    site.intake.set_intake(POOL, datetime(2019, 12, 1, tzinfo=UTC), closes_at=local_midnight(date(2020, 1, 1)))
    closed = site.client.get(f"/pools/{pool_id}/ideas/new")
    assert closed.status_code == 409 and "Puljen tog imod idéer til og med 31. december 2019." in closed.text
    site.intake.set_intake(POOL, site.now, opens_at=local_midnight(date(2030, 3, 1)), closes_at=None)
    assert "Puljen modtager idéer fra 1. marts 2030." in site.client.get(f"/pools/{pool_id}/ideas/new").text


def test_a_body_beyond_the_form_limit_is_refused_before_it_is_read(engine, tmp_path):
    site = Site(engine, tmp_path, attachment_max_bytes=1024 * 1024, attachment_max_count=2, max_body_bytes=65536)
    site.services.create_pool(POOL, 1000, 2027, site.now)
    pool_id = site.intake.pools(site.now)[0].id
    too_big = site.submit(pool_id, files=[("a.pdf", PDF + bytes(3 * 1024 * 1024), "application/pdf")])
    assert too_big.status_code == 413 and site.count(SubmissionRow) == 0
    one_file = site.submit(pool_id, files=[("a.pdf", PDF + bytes(1024 * 1024 - len(PDF)), "application/pdf")])
    assert one_file.status_code == 200  # above the console's general limit, within the form's
    huge_field = site.client.post("/login", data={"csrf_token": site.csrf(), "email": "x" * 100_000})
    assert huge_field.status_code == 413  # every other page keeps the general limit


def test_the_same_form_sent_twice_is_one_submission_with_one_mail(site, pool_id):
    """A double click or a browser retrying a slow answer sends the form again with the same key: the
    second answer is the first one's receipt. A form page shown anew has a new key and is a new idea."""
    page = site.client.get(f"/pools/{pool_id}/ideas/new")
    key = re.search(r'name="form_key" value="([A-Za-z0-9_-]{43})"', page.text).group(1)
    first, again = (site.submit(pool_id, form_key=key) for _ in range(2))
    assert first.status_code == again.status_code == 200 and h1(again) == "Tjek din e-mail"
    assert "aase@example.dk" in again.text
    assert site.count(SubmissionRow) == 1 and len(site.mails()) == 1
    assert site.confirm_latest().status_code == 200
    resent = site.submit(pool_id, form_key=key)  # the browser's "send the form again?", after confirming
    assert resent.status_code == 200 and h1(resent) == "Din idé er registreret" and "nummer" in resent.text
    assert site.count(IdeaRow) == 1 and len(site.mails()) == 1
    fresh = site.client.get(f"/pools/{pool_id}/ideas/new")
    new_key = re.search(r'name="form_key" value="([^"]+)"', fresh.text).group(1)
    assert new_key != key
    refused = site.submit(pool_id, form_key=new_key, title="")  # nothing stored: the key comes back for the next try
    assert refused.status_code == 422 and f'value="{new_key}"' in refused.text
    assert site.submit(pool_id, form_key=new_key).status_code == 200
    site.submit(pool_id, form_key="<not a key>")  # stored, only without the protection
    assert site.count(SubmissionRow) == 3 and len(site.mails()) == 3


def test_the_same_form_sent_by_racing_requests_is_stored_once(site, pool_id):
    form = Submission(title="Grønne skolegårde", description="Træer.", name="Åse Ærlig", email="aase@example.dk",
                      proposer_kind="citizen", form_key=new_form_key())
    with ThreadPoolExecutor(4) as pool:
        receipts = list(pool.map(lambda n: site.intake.submit(pool_id, form, client=f"10.0.0.{n}", lang=Language.DA,
                                                             now=site.now), range(4)))
    assert len({r.submission_id for r in receipts}) == 1
    assert site.count(SubmissionRow) == 1 and len(site.mails()) == 1


@pytest.mark.parametrize("foreign", ['prefs={"a":1,"b":2}', 'banner=a b', 'note="unclosed', 'odd name=1'])
def test_the_sites_other_cookies_do_not_cost_a_visitor_their_form(site, pool_id, foreign):
    """A municipality's other services share the domain's cookies (a consent tool's JSON, a value with a
    space): a cookie Python's `http.cookies` cannot read must not hide ideaflow's own CSRF cookie, or
    every form would be refused as forged."""
    browser = TestClient(site.app)  # sends only the Cookie header written here, as a browser would
    header = {"Cookie": f"{foreign}; ideaflow_csrf=the-visitors-own-csrf-cookie-value"}
    page = browser.get(f"/pools/{pool_id}/ideas/new", headers=header)
    assert page.status_code == 200 and "ideaflow_csrf" not in page.headers.get("set-cookie", "")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    sent = browser.post(f"/pools/{pool_id}/ideas/new", headers=header, data={
        "csrf_token": token, "title": "Grønne skolegårde", "description": "Træer.", "name": "Åse Ærlig",
        "email": "aase@example.dk", "proposer_kind": "citizen"})
    assert sent.status_code == 200 and h1(sent) == "Tjek din e-mail", sent.text[:500]
    assert site.count(SubmissionRow) == 1


def test_behind_https_the_cookies_are_secure_and_browsers_are_told_to_stay_on_https(engine, tmp_path):
    site = Site(engine, tmp_path, cookie_secure=True)  # as a public_url of https:// sets it
    page = site.client.get("/privacy")
    assert page.headers["strict-transport-security"] == "max-age=31536000"
    assert "; secure" in page.headers["set-cookie"].lower() and "httponly" in page.headers["set-cookie"].lower()
    plain = Site(engine, tmp_path / "plain").client.get("/privacy")
    assert "strict-transport-security" not in plain.headers and "secure" not in plain.headers["set-cookie"].lower()
    site.container.close()


def test_a_body_without_a_declared_length_is_cut_off_at_the_limit(engine, tmp_path):
    """A chunked POST (no Content-Length) is counted as it arrives and refused once past the limit."""
    site = Site(engine, tmp_path, max_body_bytes=65536)
    token = site.csrf()

    def chunks():
        yield f"csrf_token={token}&email=".encode()
        for _ in range(20):
            yield b"x" * 8192

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    refused = site.client.post("/login", content=chunks(), headers=form)
    assert "content-length" not in refused.request.headers  # sent in chunks, its length never declared
    assert refused.status_code == 413 and "Intet blev gemt" in refused.text
    site.container.close()


def test_unknown_and_expired_links_get_a_clear_page(site, pool_id):
    assert site.client.get("/submissions/confirm?token=nope").status_code == 410
    posted = site.client.post("/submissions/confirm", data={"csrf_token": site.csrf(), "token": "nope"})
    assert posted.status_code == 410
    site.submit(pool_id)
    site.now += timedelta(hours=73)
    page = site.client.get(f"/submissions/confirm?token={site.link('/submissions/confirm')}")
    assert page.status_code == 410 and "Dette link virker ikke" in page.text


def test_a_confirmation_without_the_forms_csrf_field_is_refused(site, pool_id):
    site.submit(pool_id)
    forged = site.client.post("/submissions/confirm", data={"token": site.link("/submissions/confirm")})
    assert forged.status_code == 403 and site.count(IdeaRow) == 0


def test_my_ideas_after_signing_in_by_the_mailed_link_withdraw_and_download(site, pool_id):
    assert site.client.get("/my-ideas", follow_redirects=False).headers["location"] == "/login?next=/my-ideas"
    # Somebody whose ideas all wait for confirmation is unknown: the sign-in page says why beforehand.
    assert "En idé står her, når du har bekræftet den med linket" in site.client.get("/login?next=/my-ideas").text
    site.submit(pool_id)
    site.confirm_latest()
    site.sign_in("aase@example.dk")
    page = site.client.get("/my-ideas")
    assert "Grønne skolegårde" in page.text and "Modtaget – venter på screening" in page.text
    idea_id = site.intake.my_ideas("aase@example.dk")[0].id
    assert site.client.get(f"/my-ideas/{idea_id}/withdraw").status_code == 200
    done = site.client.post(f"/my-ideas/{idea_id}/withdraw", data={"csrf_token": site.csrf(),
                                                                   "reason": "Vi flytter"})
    assert done.status_code == 200 and "Idéen er trukket tilbage." in done.text and "Trukket tilbage" in done.text
    download = site.client.get("/my-ideas/export")
    assert download.headers["content-disposition"].startswith("attachment")
    document = json.loads(download.content)
    assert document["email"] == "aase@example.dk" and document["ideas"][0]["stage"] == "withdrawn"


def test_my_ideas_asks_for_a_revision_only_while_the_idea_waits_for_one(site, pool_id):
    """Sent back: the warning with the coordinator's reason. Revised, then put on hold and resumed: no
    warning, no old reason; a plain link still lets the proposer revise it again until the decision."""
    site.submit(pool_id)
    site.confirm_latest()
    address = "aase@example.dk"
    idea_id = site.intake.my_ideas(address)[0].id
    site.services.decide(idea_id, Decision.RECYCLE, COORDINATOR, site.now, reason="Uddyb budgettet, tak.")
    site.sign_in(address)
    warning = "Sendt tilbage til dig til revision"
    page = site.client.get("/my-ideas")
    assert warning in page.text and "Uddyb budgettet, tak." in page.text
    [mine] = site.intake.my_ideas(address)
    assert (mine.may_revise, mine.awaiting_revision) == (True, True)

    site.services.revise(idea_id, address, site.now, title="Grønne skolegårde med budget")
    for decision in (Decision.HOLD, None):
        if decision:
            site.services.decide(idea_id, decision, COORDINATOR, site.now, reason="Afventer budgettet")
        else:
            site.services.resume(idea_id, COORDINATOR, site.now)
        page = site.client.get("/my-ideas")
        assert warning not in page.text and "Uddyb budgettet" not in page.text.split("<h3")[0], decision
    [mine] = site.intake.my_ideas(address)
    assert (mine.may_revise, mine.awaiting_revision) == (True, False)
    assert f'href="/my-ideas/{idea_id}/revise"' in page.text  # may revise again, not asked to
    assert site.client.get(f"/my-ideas/{idea_id}/revise").status_code == 200


def test_the_downloaded_data_explains_itself_in_the_readers_language(engine, tmp_path, pool_id):
    """GDPR art. 15: the download says, besides the data, why and how it is processed (the privacy notice),
    what each mail was and each file is, and how to get a copy of a file (only staff may download it)."""
    site = Site(engine, tmp_path, privacy_controller="Roskilde Kommune", privacy_contact="kommunen@roskilde.dk")
    site.submit(pool_id, files=[("plan æ.pdf", PDF, "application/pdf")])
    site.confirm_latest()
    site.sign_in("aase@example.dk")
    for lang, notice_title, confirm_subject, held in (
            ("da", "Sådan behandler vi dine oplysninger", "Bekræft din idé: Grønne skolegårde",
             "Vil du have en kopi, så skriv til kommunen (kommunen@roskilde.dk) og spørg puljens koordinator."),
            ("en", "How we process your data", "Confirm your idea: Grønne skolegårde",
             "To get a copy, write to the municipality (kommunen@roskilde.dk) and ask the pool's coordinator.")):
        site.client.post("/language", data={"csrf_token": site.csrf(), "lang": lang, "next": "/my-ideas"})
        document = json.loads(site.client.get("/my-ideas/export").content)
        about = document["about_this_data"]
        assert about["title"] == notice_title and about["lang"] == lang
        sections = {s["key"]: s for s in about["sections"]}
        assert sections["controller"]["text"].startswith("Roskilde Kommune")
        assert sections["dpo"]["missing"] and not sections["controller"]["missing"]  # the DPO is not given
        assert {"purpose", "recipients", "retention", "rights", "source"} <= set(sections)
        subjects = [m["subject"] for m in document["mail"]]
        assert subjects[0] == confirm_subject and all(subjects) and len(subjects) >= 3, subjects
        [file] = document["files"]
        assert (file["filename"], file["type"], file["size"]) == ("plan æ.pdf", "PDF", "1 kB")
        assert file["held_by_the_municipality"].endswith(held)
        assert file["idea_id"] == document["ideas"][0]["id"]
    [attachment] = document["ideas"][0]["attachments"]
    assert site.client.get(f"/attachments/{attachment['id']}").status_code == 403  # still staff only
    site.container.close()


def test_withdrawing_twice_says_it_was_already_done_and_a_refusal_is_said_in_the_pages_language(site, pool_id):
    site.submit(pool_id)
    site.confirm_latest()
    site.sign_in("aase@example.dk")
    idea_id = site.intake.my_ideas("aase@example.dk")[0].id
    form = {"csrf_token": site.csrf(), "reason": "Vi flytter"}
    assert 'name="reason"' in site.client.get(f"/my-ideas/{idea_id}/withdraw").text
    first = site.client.post(f"/my-ideas/{idea_id}/withdraw", data=form)
    again = site.client.post(f"/my-ideas/{idea_id}/withdraw", data=form)  # a double click, or a second tab
    assert first.status_code == again.status_code == 200
    assert "Idéen var allerede trukket tilbage; intet mere er ændret." in again.text
    history = site.intake.my_ideas("aase@example.dk")[0].history
    assert [h.text for h in history].count("Idéen blev trukket tilbage") == 1
    page = site.client.get(f"/my-ideas/{idea_id}/withdraw")  # the page again (Back): no form to send once more
    assert "Du har trukket idéen tilbage." in page.text and 'name="reason"' not in page.text

    # An idea that cannot be withdrawn (rejected): the refusal page says why, in the reader's language.
    site.submit(pool_id, title="Bænke ved stranden")
    site.confirm_latest()
    rejected = site.intake.my_ideas("aase@example.dk")[0].id
    site.services.decide(rejected, Decision.KILL, COORDINATOR, site.now, reason="Uden for puljens formål")
    page = site.client.get(f"/my-ideas/{rejected}/withdraw")
    assert "Idéen kan ikke længere trækkes tilbage: der er truffet afgørelse om den." in page.text
    assert 'name="reason"' not in page.text
    refused = site.client.post(f"/my-ideas/{rejected}/withdraw", data=form)
    assert refused.status_code == 409
    assert "En idé, der er afvist, kan ikke trækkes tilbage." in refused.text, refused.text
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": "/my-ideas"})
    refused = site.client.post(f"/my-ideas/{rejected}/withdraw", data=form)
    assert refused.status_code == 409 and "Cannot withdraw an idea that is rejected." in refused.text


def test_somebody_elses_idea_cannot_be_withdrawn(site, pool_id):
    site.submit(pool_id)
    site.confirm_latest()
    idea_id = site.intake.my_ideas("aase@example.dk")[0].id
    site.submit(pool_id, email="bo@example.dk", name="Bo")
    site.confirm_latest()
    site.sign_in("bo@example.dk")
    assert site.client.get(f"/my-ideas/{idea_id}/withdraw").status_code == 404
    refused = site.client.post(f"/my-ideas/{idea_id}/withdraw", data={"csrf_token": site.csrf(), "reason": ""})
    assert refused.status_code == 404 and site.intake.my_ideas("aase@example.dk")[0].stage == "submitted"


def test_attachments_are_downloads_for_staff_only(site, pool_id):
    site.submit(pool_id, files=[("plan æ.pdf", PDF, "application/pdf")])
    site.confirm_latest()
    [mine] = site.intake.my_ideas("aase@example.dk")
    [file] = mine.attachments
    site.sign_in("aase@example.dk")
    assert site.client.get(f"/attachments/{file.id}").status_code == 403  # the proposer is no staff
    site.sign_in(COORDINATOR)
    download = site.client.get(f"/attachments/{file.id}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == \
        "attachment; filename=\"plan _.pdf\"; filename*=UTF-8''plan%20%C3%A6.pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    with site.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(RefusalRow)) == 1
    # A reviewer of the pool finds it on the review form too, and may download it.
    site.services.add_person("bent@kommune.dk", "Bent Bedømmer", Role.REVIEWER, site.now)
    site.sign_in("bent@kommune.dk")
    form = site.client.get(f"/ideas/{mine.id}/review")
    assert f'<a href="/attachments/{file.id}">plan æ.pdf</a> (1 kB)' in form.text
    assert site.client.get(f"/attachments/{file.id}").content == PDF


def test_the_privacy_and_accessibility_pages(engine, tmp_path, site):
    privacy = site.client.get("/privacy")
    assert privacy.status_code == 200 and "artikel 6, stk. 1, litra e" in privacy.text
    statement = site.client.get("/accessibility")
    assert statement.status_code == 200  # where to write: not given, and said so, marked apart
    assert '<p class="missing-detail"><strong>Kommunen har ikke oplyst sine kontaktoplysninger her.' in statement.text
    pool = site.services.create_pool(POOL, 1000, 2027, site.now)
    assert "Kommunen registrerer din idé" in site.client.get(f"/pools/{pool.id}/ideas/new").text
    named = Site(engine, tmp_path, privacy_controller="Hvidovre Kommune")  # the controller by name once given
    assert "Hvidovre Kommune registrerer din idé" in named.client.get(f"/pools/{pool.id}/ideas/new").text
    told = Site(engine, tmp_path, privacy_contact="tilgaengelighed@kommune.dk").client.get("/accessibility")
    assert "skriv til kommunen: tilgaengelighed@kommune.dk." in told.text and "missing-detail" not in told.text
    elsewhere = Site(engine, tmp_path, accessibility_url="https://www.was.digst.dk/ideaflow-kommune")
    moved = elsewhere.client.get("/accessibility", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "https://www.was.digst.dk/ideaflow-kommune"
    assert 'href="https://www.was.digst.dk/ideaflow-kommune"' in elsewhere.client.get("/").text


def test_the_privacy_page_marks_the_contact_details_the_municipality_has_not_given(engine, tmp_path, site, pool_id):
    """GDPR art. 13(1)(a)-(b): without IDEAFLOW_PRIVACY_CONTACT and _DPO the notice says, marked apart, that
    they are missing, on the privacy page and with the form, instead of a sentence that reads as complete."""
    marked = re.compile(r'<p class="missing-detail"><strong>([^<]+)</strong></p>')
    for page in (site.client.get("/privacy"), site.client.get(f"/pools/{pool_id}/ideas/new")):
        assert marked.findall(page.text) == [
            "Kommunen har ikke oplyst sine kontaktoplysninger her.",
            "Kommunen har ikke oplyst, hvordan du kontakter dens databeskyttelsesrådgiver."]
        assert "Kontakt kommunen for at komme i kontakt" not in page.text
    english = site.client.get("/privacy", cookies={"ideaflow_lang": "en"})
    assert marked.findall(english.text)[0] == "The municipality has not given its contact details here."
    given = Site(engine, tmp_path / "given", privacy_controller="Roskilde Kommune",
                 privacy_contact="kommunen@roskilde.dk, tlf. 46 31 30 00", privacy_dpo="dpo@roskilde.dk")
    page = given.client.get("/privacy")
    assert marked.findall(page.text) == [] and 'class="missing-detail"' not in page.text
    assert "Roskilde Kommune er dataansvarlig" in page.text and "Kontakt: kommunen@roskilde.dk, tlf. 46 31 30 00." \
        in page.text and "databeskyttelsesrådgiver: dpo@roskilde.dk." in page.text


def test_my_ideas_shows_decisions_reasons_and_the_pilot_but_nothing_internal(site, pool_id):
    """The page, not only the read model: what the template prints of a decided idea with a pilot."""
    site.services.add_person("bent@kommune.dk", "Bent Bedømmer", Role.REVIEWER, site.now)
    site.submit(pool_id)
    site.confirm_latest()
    [idea] = site.intake.my_ideas("aase@example.dk")
    scores = {c.name: 4 for c in TAARNBY_CRITERIA}
    site.services.review(idea.id, "bent@kommune.dk", scores, site.now, comment="INTERN bemærkning")
    site.services.decide(idea.id, Decision.GO, COORDINATOR, site.now, reason="Passer til puljen")
    site.services.review(idea.id, "bent@kommune.dk", scores, site.now, comment="INTERN igen")
    site.services.decide(idea.id, Decision.GO, COORDINATOR, site.now, amount_dkk=120_000, reason="Billig & god")
    start = site.now.date() + timedelta(days=10)
    site.services.plan_pilot(idea.id, start=start, end=start + timedelta(days=90), sites=("Viby <Skole>",),
                             now=site.now, measures=("Trivsel",), by=COORDINATOR)
    site.sign_in("aase@example.dk")
    page = site.client.get("/my-ideas").text
    for shown in ("Passer til puljen", "Billig &amp; god", "120.000\N{NO-BREAK SPACE}kr.", "Viby &lt;Skole&gt;",
                  "Trivsel", "Har fået støtte"):
        assert shown in page, shown
    decisions = re.findall(r"<li><strong>(Godkendt)</strong> ([^,]*),", page)  # each says where it was taken
    assert decisions == [("Godkendt", "ved screeningen"), ("Godkendt", "ved bevillingsbeslutningen")]
    for internal in ("INTERN", "Bent", "bent@kommune.dk", "Karin", COORDINATOR, "effektivitet"):
        assert internal not in page, internal


def test_the_digests_stop_link_asks_for_a_click_and_a_mail_clients_one_click_post_stops_it(site, pool_id):
    """The link in every digest (`List-Unsubscribe`) opens a page whose button stops the digest (opening
    it changes nothing: mail scanners open links); a mail client's one-click POST (RFC 8058) carries no
    form of this site and stops it too. An unknown token changes nothing and says so."""
    with site.engine.connect() as connection:
        token = connection.scalar(select(PersonRow.digest_token).where(PersonRow.email == COORDINATOR))
    page = site.client.get(f"/preferences/unsubscribe?token={token}")
    assert page.status_code == 200 and h1(page) == "Stop ugens overblik"
    assert site.services.digest_opted_out(COORDINATOR) is None
    one_click = TestClient(site.app).post(f"/preferences/unsubscribe?token={token}",
                                          data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "Ugens overblik er stoppet" in one_click.text
    assert site.services.digest_opted_out(COORDINATOR) == site.now
    unknown = TestClient(site.app).post("/preferences/unsubscribe?token=" + "x" * 43)
    assert unknown.status_code == 404 and "Linket gælder ikke" in unknown.text
    assert TestClient(site.app).post("/pools/1/ideas/new", data={}).status_code == 403  # CSRF still everywhere else


def test_preferences_start_and_stop_the_digest(site, pool_id):
    site.sign_in(COORDINATOR)
    page = site.client.get("/preferences")
    assert re.search(r'name="digest" value="on" checked', page.text)
    saved = site.client.post("/preferences", data={"csrf_token": site.csrf(), "lang": "da", "digest": "off"})
    assert saved.status_code == 200 and site.services.digest_opted_out(COORDINATOR) == site.now
    assert re.search(r'name="digest" value="off" checked', saved.text)
    site.client.post("/preferences", data={"csrf_token": site.csrf(), "lang": "en", "digest": "on"})
    assert site.services.digest_opted_out(COORDINATOR) is None
    wrong = site.client.post("/preferences", data={"csrf_token": site.csrf(), "lang": "en", "digest": "maybe"})
    assert wrong.status_code == 422 and "Choose whether you want the weekly digest." in wrong.text


def test_switching_language_on_a_form_shown_again_goes_back_to_the_forms_page(site, pool_id):
    """A form shown again with its errors answers a POST: its own address takes no GET (a 405 page), so
    the language switch leads to the page the form was on, this site's Referer, or else the front page."""
    form_page = f"/pools/{pool_id}/ideas/new"
    data = {"csrf_token": site.csrf(), "title": "", "description": "", "name": "", "email": ""}

    def next_after(**headers: str) -> str:
        page = site.client.post(form_page, data=data, headers=headers)
        assert page.status_code == 422
        return re.search(r'name="next" value="([^"]*)"', page.text).group(1)

    assert next_after(referer=f"http://testserver{form_page}?status=x") == form_page
    assert next_after() == "/"
    assert next_after(referer=f"https://elsewhere.example{form_page}") == "/"
    assert site.client.get(next_after(referer=f"http://testserver{form_page}")).status_code == 200


def revision_form(site, idea_id: int, **fields) -> dict:
    """The revision form as its page shows it (filled in, with the version it was shown at), changed by `fields`."""
    page = site.client.get(f"/my-ideas/{idea_id}/revise")
    assert page.status_code == 200, page.text
    shown = {name: re.search(rf'id="{name}" name="{name}" value="([^"]*)"', page.text).group(1)
             for name in ("title", "department", "requested_dkk")}
    shown["description"] = re.search(r'<textarea[^>]*id="description"[^>]*>(.*?)</textarea>', page.text, re.S).group(1)
    shown["seen_version"] = re.search(r'name="seen_version" value="(\d+)"', page.text).group(1)
    return {"csrf_token": site.csrf(), **shown, **fields}


def test_revising_an_idea_sent_back_over_http(site, pool_id):
    site.submit(pool_id)
    site.confirm_latest()
    idea_id = site.intake.my_ideas("aase@example.dk")[0].id
    site.sign_in("aase@example.dk")
    assert "/revise" not in site.client.get("/my-ideas").text  # not sent back: nothing to revise
    assert site.client.get(f"/my-ideas/{idea_id}/revise").status_code == 409
    site.services.decide(idea_id, Decision.RECYCLE, COORDINATOR, site.now, reason="Hvad koster bænkene?")
    site.services.revise(idea_id, "aase@example.dk", site.now, departments=("Skoler", "Veje"))  # as by the CLI
    mine = site.client.get("/my-ideas").text
    assert f'href="/my-ideas/{idea_id}/revise"' in mine and "Hvad koster bænkene?" in mine

    form = revision_form(site, idea_id)
    assert (form["title"], form["description"], form["department"], form["requested_dkk"]) == (
        "Grønne skolegårde", "Træer.\nOg bænke.", "Skoler, Veje", "")
    # An amount above the pool's largest grant is refused on its field, in the page's words.
    refused = site.client.post(f"/my-ideas/{idea_id}/revise", data={**form, "requested_dkk": "250.000"})
    assert refused.status_code == 422 and summary(refused)[0][0] == "requested_dkk"
    assert "over det største beløb" in refused.text and 'value="250.000"' in refused.text

    sent = {**form, "description": "Træer.\r\nOg bænke til 40.000 kr.", "requested_dkk": "40.000 kr."}
    done = site.client.post(f"/my-ideas/{idea_id}/revise", data=sent, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/my-ideas?status=revised"
    again = site.client.post(f"/my-ideas/{idea_id}/revise", data=sent)  # a double click: already done
    assert again.status_code == 200 and "Din revision er gemt." in again.text
    mine = site.intake.my_ideas("aase@example.dk")[0]
    assert (mine.description, mine.requested_dkk, mine.departments) == (
        "Træer.\nOg bænke til 40.000 kr.", 40_000, ["Skoler", "Veje"])  # the departments, untouched, kept
    assert [(h.text, h.note) for h in mine.history if h.action == "revise"] == [
        ("Du reviderede idéen", "område eller afdeling"), ("Du reviderede idéen", "beskrivelse, ansøgt beløb")]

    # A form shown before that change, with other values: 409, what was typed kept, to look at again.
    stale = site.client.post(f"/my-ideas/{idea_id}/revise", data={**form, "title": "Min nye titel"})
    assert stale.status_code == 409 and "Idéen blev ændret, mens du havde siden åben." in stale.text
    assert 'value="Min nye titel"' in stale.text
    assert f'name="seen_version" value="{mine.version}"' in stale.text  # a new attempt acts on the idea as it is
    unchanged = site.client.post(f"/my-ideas/{idea_id}/revise", data=revision_form(site, idea_id))
    assert "Sådan stod idéen allerede; intet er ændret." in unchanged.text

    # Put on hold: no revision, said in the page's words.
    site.services.decide(idea_id, Decision.HOLD, COORDINATOR, site.now)
    assert "kan ikke revideres nu" in site.client.get(f"/my-ideas/{idea_id}/revise").text
    on_hold = site.client.post(f"/my-ideas/{idea_id}/revise", data={**form, "title": "I bero",
                                                                     "seen_version": str(mine.version + 1)})
    assert on_hold.status_code == 409 and "kan kun revideres, mens den er sendt tilbage" in on_hold.text
    forged = site.client.post(f"/my-ideas/{idea_id}/revise", data={k: v for k, v in form.items() if k != "csrf_token"})
    assert forged.status_code == 403
    assert site.intake.my_ideas("aase@example.dk")[0].title == "Grønne skolegårde"


def test_somebody_elses_idea_cannot_be_revised(site, pool_id):
    site.submit(pool_id)
    site.confirm_latest()
    idea_id = site.intake.my_ideas("aase@example.dk")[0].id
    site.services.decide(idea_id, Decision.RECYCLE, COORDINATOR, site.now, reason="Uddyb")
    site.submit(pool_id, email="bo@example.dk", name="Bo")
    site.confirm_latest()
    site.sign_in("bo@example.dk")
    assert site.client.get(f"/my-ideas/{idea_id}/revise").status_code == 404
    refused = site.client.post(f"/my-ideas/{idea_id}/revise", data={
        "csrf_token": site.csrf(), "title": "Kapret", "description": "D", "department": "", "requested_dkk": ""})
    assert refused.status_code == 404 and site.intake.my_ideas("aase@example.dk")[0].title == "Grønne skolegårde"


def test_the_coordinators_idea_page_says_the_revision_in_its_words(site, pool_id):
    site.submit(pool_id)
    site.confirm_latest()
    idea_id = site.intake.my_ideas("aase@example.dk")[0].id
    site.services.decide(idea_id, Decision.RECYCLE, COORDINATOR, site.now, reason="Uddyb")
    site.services.revise(idea_id, "aase@example.dk", site.now, title="Grønne skolegårde 2", description="Mere")
    site.sign_in(COORDINATOR)
    history = re.search(r'<ol class="history">(.*?)</ol>', site.client.get(f"/ideas/{idea_id}").text, re.S).group(1)
    line = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", history.split("<li>")[-1]))
    assert "Revideret af forslagsstilleren" in line and "titel, beskrivelse" in line and "Åse Ærlig" in line
    assert "revised by the proposer" not in history


def test_my_ideas_and_the_export_keep_the_text_a_revision_replaced(site, pool_id):
    site.submit(pool_id, description="Træer.\nOg <b>bænke</b>.", department="Skoler", requested_dkk="60.000")
    site.confirm_latest()
    idea_id = site.intake.my_ideas("aase@example.dk")[0].id
    site.sign_in("aase@example.dk")
    assert "Tidligere udgave" not in site.client.get("/my-ideas").text  # never revised: nothing earlier
    site.services.decide(idea_id, Decision.RECYCLE, COORDINATOR, site.now, reason="Hvad koster bænkene?")
    site.services.revise(idea_id, "aase@example.dk", site.now, title="Grønne skolegårde med bænke",
                         description="Træer og 12 bænke.", requested_dkk=90_000)

    page = site.client.get("/my-ideas").text
    (earlier,) = re.findall(r'<details class="details earlier-version">(.*?)</details>', page, re.S)
    assert '<summary class="details-summary">Tidligere udgave (runde 1)</summary>' in earlier
    facts = dict(re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", earlier, re.S))
    assert (facts["Titel"], facts["Område eller forvaltning"], facts["Søgt beløb"]) == (
        "Grønne skolegårde", "Skoler", "60.000\N{NO-BREAK SPACE}kr.")
    assert facts["Din beskrivelse"] == "Træer.\nOg &lt;b&gt;bænke&lt;/b&gt;."  # as text, its lines kept
    assert '<dd class="keep-lines">Træer.' in earlier and facts["Erstattet af din revision"]
    assert "Grønne skolegårde med bænke" in page and "Træer og 12 bænke." in page  # the idea as it is now

    document = json.loads(site.client.get("/my-ideas/export").content)
    (idea,) = document["ideas"]
    assert (idea["title"], idea["description"]) == ("Grønne skolegårde med bænke", "Træer og 12 bænke.")
    (version,) = idea["earlier_versions"]
    assert {k: v for k, v in version.items() if k != "replaced_at"} == {
        "round": 1, "title": "Grønne skolegårde", "description": "Træer.\nOg <b>bænke</b>.", "requested_dkk": 60_000,
        "departments": ["Skoler"]}
    assert datetime.fromisoformat(version["replaced_at"]) == site.now
