"""The administrator's and coordinator's pages over HTTP, in-process (Starlette's test client) on a real
database (SQLite and PostgreSQL), mail written to a folder: what the forms answer to what a browser
may send (a date typed without a date picker, a new criterion without a name), what the error
summary names, and what "try again now" delivers.

The browser walks the same pages in tests/web/test_administration_browser.py.
"""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from test_public_pages import Site

from states.criteria import TAARNBY_CRITERIA, Criterion
from states.vocabulary import COPENHAGEN, Role
from storage.tables import OutboxRow

from webtest import free_port

ADMIN, KARIN, OLE = "ida@kommune.dk", "karin@taarnby.dk", "ole@roskilde.dk"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> Åse'
TAARNBY, ROSKILDE = "Tårnby innovationspulje", "Roskilde puljen"


@pytest.fixture
def site(engine, tmp_path):
    site = Site(engine, tmp_path)
    site.services.add_person(ADMIN, "Ida Administrator", Role.ADMINISTRATOR, site.now)
    site.pools = {name: site.services.create_pool(name, 2_000_000, 2027, site.now).id for name in (TAARNBY, ROSKILDE)}
    yield site
    site.container.close()


def summary(page) -> list[tuple[str, str]]:
    """The error summary's lines: (the field it links to, its text)."""
    return [(field, html.unescape(text)) for field, text in
            re.findall(r'<li><a href="#([\w-]+)">([^<]+)</a></li>', page.text)]


def field_tag(page, name: str) -> str:
    return re.search(rf'<(?:input|textarea)[^>]* name="{name}"[^>]*>', page.text).group(0)


def criteria_form(site, **changes: str) -> dict[str, str]:
    """The criteria form as the page fills it in for Tårnby's six criteria, two empty rows, and `changes`."""
    values = {"csrf_token": site.csrf(), "rows": str(len(TAARNBY_CRITERIA) + 2)}
    for n, c in enumerate(TAARNBY_CRITERIA):
        values |= {f"name-{n}": c.name, f"weight-{n}": f"{c.weight:g}", f"description-{n}": c.description}
    return values | changes


def test_a_new_criterion_with_content_but_no_name_is_not_thrown_away(site):
    site.sign_in(ADMIN)
    url = f"/pools/{site.pools[TAARNBY]}/criteria"
    page = site.client.post(url, data=criteria_form(site, **{"weight-6": "xyz", "description-6": "Overholder loven",
                                                           "must-6": "yes"}))
    assert page.status_code == 422
    assert summary(page) == [
        ("name-6", "Kriterium 7, navn: Udfyld feltet."),
        ("weight-6", "Kriterium 7, vægt: Skriv en vægt over 0 og højst 100, for eksempel 2 eller 1,5.")]
    assert 'value="xyz"' in field_tag(page, "weight-6") and "Overholder loven</textarea>" in page.text
    assert "checked" in field_tag(page, "must-6")
    # An existing criterion whose name is emptied is removed, as the form says; empty rows are left out.
    removed = site.client.post(url, data=criteria_form(site, **{"name-5": ""}))
    assert removed.status_code == 200 and "criteria_saved" in str(removed.url)
    assert "<td>omtale</td>" not in site.client.get(f"/pools/{site.pools[TAARNBY]}").text


def test_each_error_of_the_criteria_form_names_its_criterion(site):
    site.sign_in(ADMIN)
    url = f"/pools/{site.pools[TAARNBY]}/criteria"
    page = site.client.post(url, data=criteria_form(site, **{"weight-0": "0", "weight-2": "abc", "weight-3": "",
                                                           "description-1": "x" * 2001}))
    assert page.status_code == 422 and summary(page) == [
        ("weight-0", "Kriterium 1, vægt: Skriv en vægt over 0 og højst 100, for eksempel 2 eller 1,5."),
        ("description-1", "Kriterium 2, beskrivelse: Skriv højst 2.000 tegn."),
        ("weight-2", "Kriterium 3, vægt: Skriv en vægt over 0 og højst 100, for eksempel 2 eller 1,5."),
    ]
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": "/pools"})
    english = site.client.post(url, data=criteria_form(site, **{"weight-2": "abc"}))
    assert summary(english) == [
        ("weight-2", "Criterion 3, weight: Write a weight above 0 and at most 100, for example 2 or 1.5.")]


def test_a_criterions_weight_is_what_a_criteria_file_takes_and_empty_is_1(site):
    """The weight is "optional": empty counts as 1, as in a criteria file; a half is a weight there too."""
    site.sign_in(ADMIN)
    url = f"/pools/{site.pools[TAARNBY]}/criteria"
    saved = site.client.post(url, data=criteria_form(site, **{"weight-0": "0,5", "name-6": "lovlig",
                                                            "weight-6": ""}))
    assert saved.status_code == 200 and "criteria_saved" in str(saved.url)
    with site.engine.connect() as connection:
        weights = dict(connection.execute(text("SELECT name, weight FROM criteria WHERE pool_id = :pool"),
                                          {"pool": site.pools[TAARNBY]}).all())
    assert (weights[TAARNBY_CRITERIA[0].name], weights["lovlig"]) == (0.5, 1.0)
    # The pool page's list of changes says each criterion's weight (and must-meet), not only its name.
    change = re.search(r"<h3>Ændringer af kriterierne</h3>\s*<ul>\s*<li>(.*?)</li>",
                       site.client.get(f"/pools/{site.pools[TAARNBY]}").text, re.S).group(1)
    before, after = html.unescape(change).split(" → ")
    first = TAARNBY_CRITERIA[0]
    assert f"{first.name} (vægt {first.weight:g})" in before and f"{first.name} (vægt 0,5)" in after
    assert "lovlig" not in before and after.endswith("lovlig (vægt 1)")


def test_two_criteria_named_alike_but_for_capital_letters_are_refused_on_the_second(site):
    """Reviewers name criteria in any case: "Kvalitet" beside "kvalitet" could not be told apart."""
    site.sign_in(ADMIN)
    pool = site.pools[TAARNBY]
    page = site.client.post(f"/pools/{pool}/criteria", data=criteria_form(site, **{"name-6": "KVALITET",
                                                                                 "weight-6": "1"}))
    assert page.status_code == 422
    assert summary(page) == [("name-6", "Et andet kriterium hedder allerede kvalitet (uden hensyn til store og små "
                                        "bogstaver): giv hvert kriterium sit eget navn.")]
    assert 'value="KVALITET"' in field_tag(page, "name-6")
    assert "KVALITET" not in site.client.get(f"/pools/{pool}").text


def test_a_pools_deadlines_take_what_the_command_line_takes(site):
    """`pool create --screening-days` takes 1 to 3650 days: so does the console's form."""
    site.sign_in(ADMIN)
    form = {"csrf_token": site.csrf(), "name": "Lang screening", "year": "2027", "budget_dkk": "100000",
            "screening_days": "400", "funding_days": "45", "evaluation_days": "30", "reminder_days": "5",
            "on_screening_deadline": "escalate"}
    assert site.client.post("/pools/new", data=form, follow_redirects=False).status_code == 303
    too_long = site.client.post("/pools/new", data={**form, "name": "For lang", "screening_days": "3651"})
    assert too_long.status_code == 422 and summary(too_long) == [
        ("screening_days", "Skriv et tal på højst 3.650.")]


@pytest.mark.parametrize("budget", ["0", "-5", "−250.000"])
def test_a_pool_without_a_positive_budget_is_refused_on_its_budget(site, budget):
    site.sign_in(ADMIN)
    form = {"csrf_token": site.csrf(), "name": "Nul-puljen", "year": "2027", "budget_dkk": budget,
            "screening_days": "30", "funding_days": "45", "evaluation_days": "30", "reminder_days": "5",
            "on_screening_deadline": "escalate"}
    page = site.client.post("/pools/new", data=form)
    assert page.status_code == 422 and summary(page) == [
        ("budget_dkk", "Budget skal være mindst 1 kr.: en pulje uden budget kan ikke støtte nogen idé.")]
    assert f'value="{budget}"' in field_tag(page, "budget_dkk")
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": "/pools"})
    english = site.client.post("/pools/new", data={**form, "csrf_token": site.csrf()})
    assert summary(english) == [
        ("budget_dkk", "Budget must be at least DKK 1: a pool without a budget cannot fund any idea.")]
    assert "Nul-puljen" not in site.client.get("/pools").text
    created = site.client.post("/pools/new", data={**form, "csrf_token": site.csrf(), "budget_dkk": "1"})
    assert created.status_code == 200 and "pool_created" in str(created.url)


def test_a_reviewed_pools_description_errors_name_their_criterion(site):
    """Once reviewed on, a criterion is shown by its name, and only its description is a field."""
    now = site.now
    pool = site.services.create_pool("Lille pulje", 100_000, 2027, now, (Criterion("effekt"), Criterion("pris")))
    site.services.add_person("rikke@kommune.dk", "Rikke", Role.REVIEWER, now)
    idea = site.services.submit(title="Idé", description="…", proposer="p@example.dk", pool=pool.name, now=now)
    site.services.review(idea, "rikke@kommune.dk", {"effekt": 3, "pris": 4}, now)
    site.sign_in(ADMIN)
    values = {"csrf_token": site.csrf(), "rows": "2", "name-0": "effekt", "weight-0": "1", "description-0": "",
              "name-1": "pris", "weight-1": "1", "description-1": "x" * 2001}
    page = site.client.post(f"/pools/{pool.id}/criteria", data=values)
    assert page.status_code == 422
    assert summary(page) == [("description-1", "pris, beskrivelse: Skriv højst 2.000 tegn.")]


def test_a_date_typed_another_way_is_named_by_its_field_and_kept_as_typed(site):
    """A browser without a date picker sends what was typed; a date field would show it empty again."""
    site.sign_in(ADMIN)
    url = f"/pools/{site.pools[TAARNBY]}/intake"
    page = site.client.post(url, data={"csrf_token": site.csrf(), "opens": "1/2/2027", "closes": "2027-W09-7",
                                       "description": "Nye måder", "grant_max_dkk": "500000"})
    assert page.status_code == 422 and summary(page) == [
        ("opens", "Første dag for idéer: Skriv en dato som år-måned-dag, for eksempel 2027-02-01."),
        ("closes", "Sidste dag for idéer: Skriv en dato som år-måned-dag, for eksempel 2027-02-01.")]
    assert 'type="text"' in field_tag(page, "opens") and 'value="1/2/2027"' in field_tag(page, "opens")
    assert 'type="text"' in field_tag(page, "closes") and 'value="2027-W09-7"' in field_tag(page, "closes")
    assert 'value="500000"' in field_tag(page, "grant_max_dkk") and "Nye måder</textarea>" in page.text
    assert 'type="date"' in field_tag(site.client.get(url), "opens")  # a date picker where there is one


def test_the_intake_form_refuses_what_the_domain_refuses_on_the_field_concerned(site):
    site.sign_in(ADMIN)
    url = f"/pools/{site.pools[TAARNBY]}/intake"

    def post(**values):
        return site.client.post(url, data={"csrf_token": site.csrf(), **values})

    reversed_days = post(opens="2027-05-01", closes="2027-03-01")
    assert reversed_days.status_code == 422 and summary(reversed_days) == [
        ("closes", "Sidste dag (1. marts 2027) ligger før første dag (1. maj 2027).")]
    assert 'value="2027-05-01"' in field_tag(reversed_days, "opens")
    above_budget = post(grant_max_dkk="999999999")
    assert summary(above_budget) == [
        ("grant_max_dkk", "Største beløb der gives (999.999.999 kr.) er mere end puljens samlede budget "
                          "(2.000.000 kr.).")]
    out_of_order = post(grant_min_dkk="20000", grant_max_dkk="10000")
    assert [name for name, _ in summary(out_of_order)] == ["grant_min_dkk"]
    yesterday = (site.now.astimezone(COPENHAGEN) - timedelta(days=1)).date()
    passed = post(closes=yesterday.isoformat())
    assert [name for name, _ in summary(passed)] == ["closes"] and "er allerede passeret" in summary(passed)[0][1]
    today = post(closes=site.now.astimezone(COPENHAGEN).date().isoformat(), grant_max_dkk="2000000")
    assert "intake_saved" in str(today.url)


def test_try_again_now_delivers_only_the_mail_the_person_sees(site):
    """A coordinator of one pool flushes their pool's mail, not another pool's (they cannot see it)."""
    now = site.now
    for email, name, pool in ((KARIN, "Karin Koordinator", TAARNBY), (OLE, "Ole Olsen", ROSKILDE)):
        site.services.add_person(email, name, Role.PROPOSER, now)
        site.services.grant_role(email, Role.COORDINATOR, now, pool=pool)
    ideas = {pool: site.services.submit(title=f"Idé i {pool}", description="…", proposer="borger@example.dk",
                                        pool=pool, now=now)
             for pool in (TAARNBY, ROSKILDE)}  # each pool's coordinator is told, and the proposer gets a receipt
    site.sign_in(KARIN)
    outbox = site.client.get("/outbox")
    assert KARIN in outbox.text and OLE not in outbox.text
    tried = site.client.post("/outbox/flush", data={"csrf_token": site.csrf()}, follow_redirects=False)
    # Back to the page (a reload delivers nothing again), which says where the mail went.
    assert tried.status_code == 303 and tried.headers["location"] == "/outbox?status=mail_tried"
    written = (f"2 breve blev ikke sendt, men skrevet som .eml-filer i mappen {site.mail_dir}/: der er ikke sat "
               "nogen mailserver op (IDEAFLOW_SMTP_HOST).")
    for _ in range(2):  # shown, and reloaded
        assert status_of(site.client.get("/outbox?status=mail_tried")) == written
    delivered = [m["To"].addresses[0].addr_spec for m in site.mails()]
    assert delivered.count(KARIN) == 2 and OLE not in delivered  # her sign-in link and the notice
    assert delivered.count("borger@example.dk") == 1  # the receipt for the idea in her pool
    with site.engine.connect() as connection:
        waiting = connection.execute(select(OutboxRow.kind, OutboxRow.idea_id, OutboxRow.attempts)
                                     .where(OutboxRow.status == "pending").order_by(OutboxRow.kind)).all()
    # Roskilde's mail (Ole's notice, the proposer's receipt) was not even tried.
    assert waiting == [("idea_received", ideas[ROSKILDE], 0), ("idea_submitted", ideas[ROSKILDE], 0)]
    site.sign_in(ADMIN)
    site.client.post("/outbox/flush", data={"csrf_token": site.csrf()})
    assert OLE in [m["To"].addresses[0].addr_spec for m in site.mails()]  # an administrator's: all the mail


def status_of(page) -> str:
    """The text of the page's status region (a live region)."""
    found = re.search(r'<div role="status" class="status-region">\s*(?:<div class="alert [^"]*">'
                      r'<div class="alert-body"><p class="alert-text">(.*?)</p>)?', page.text, re.S)
    return html.unescape(found.group(1) or "")


def test_what_a_delivery_said_reaches_only_the_page_after_it_in_the_same_browser(site):
    """The words after "try again now" come with the redirect, signed for the browser's session and the
    status: a link with ?status=mail_tried, another browser, or an altered cookie shows only the plain line."""
    site.services.submit(title="Cykelsti", description="En god idé.", proposer="borger@example.dk", pool=TAARNBY,
                         now=site.now)
    site.sign_in(ADMIN)
    site.client.post("/outbox/flush", data={"csrf_token": site.csrf()})
    said = status_of(site.client.get("/outbox?status=mail_tried"))
    assert "skrevet som .eml-fil" in said
    assert "skrevet som" not in status_of(site.client.get("/outbox?status=mail_resent"))  # not for another status
    assert status_of(site.client.get("/outbox")) == ""  # nor without one
    plain = "Afsendelsen er forsøgt nu. Det, der stadig venter eller mislykkedes, står nedenfor."
    cookie = site.client.cookies.get("ideaflow_said")
    mac = cookie.partition(".")[2]
    forged = base64.urlsafe_b64encode(json.dumps(
        {"status": "mail_tried", "failed": "retrying", "cause": "ring 12 34 56 78"}).encode()).decode()
    for altered in (f"{forged}.{mac}", "%%%.%%%", cookie.replace(".", "x", 1)):
        site.client.cookies.set("ideaflow_said", altered, path="/outbox")
        assert status_of(site.client.get("/outbox?status=mail_tried")) == plain
    other = TestClient(site.app)  # another browser, signed in as the same person, given the cookie
    own, site.client = site.client, other
    site.sign_in(ADMIN)
    site.client = own
    other.cookies.set("ideaflow_said", cookie, path="/outbox")
    assert status_of(other.get("/outbox?status=mail_tried")) == plain


def label_tag(page, text: str) -> str:
    return re.search(rf"<label [^>]*>{re.escape(text)}</label>", page.text).group(0)


def test_a_language_offered_by_its_own_name_is_marked_as_that_language(site):
    """WCAG 3.1.2: "English" on a Danish page is English, "Dansk" on an English page Danish."""
    site.sign_in(ADMIN)
    for path in ("/people", "/preferences"):
        danish = site.client.get(path)
        assert 'lang="en"' in label_tag(danish, "English") and "lang=" not in label_tag(danish, "Dansk")
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": "/people"})
    for path in ("/people", "/preferences"):
        english = site.client.get(path)
        assert 'lang="da"' in label_tag(english, "Dansk") and "lang=" not in label_tag(english, "English")


def test_the_people_page_says_what_to_do_on_the_page_not_on_the_command_line(site):
    site.sign_in(ADMIN)
    everywhere = site.client.post("/people/roles", data={"csrf_token": site.csrf(), "change": "grant",
                                                         "grant_email": ADMIN, "grant_role": "administrator",
                                                         "grant_pool": TAARNBY})
    assert everywhere.status_code == 422 and summary(everywhere) == [
        ("grant_pool", "Administratorrollen gælder alle puljer: vælg 'Alle puljer' under Pulje.")]
    known = site.client.post("/people", data={"csrf_token": site.csrf(), "email": "IDA@kommune.dk",
                                              "name": "Ida igen", "lang": "da"})
    assert known.status_code == 422 and summary(known) == [
        ("email", f"{ADMIN} findes allerede; giv vedkommende en rolle under 'Giv en rolle'.")]
    assert "ideaflow person" not in known.text
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": "/people"})
    english = site.client.post("/people/roles", data={"csrf_token": site.csrf(), "change": "grant",
                                                      "grant_email": ADMIN, "grant_role": "administrator",
                                                      "grant_pool": TAARNBY})
    assert summary(english) == [
        ("grant_pool", "The administrator role holds for every pool: choose 'Every pool' under Pool.")]


def test_the_pool_page_says_an_amount_given_alone_as_at_least_or_at_most(site):
    site.sign_in(ADMIN)
    url = f"/pools/{site.pools[TAARNBY]}"

    def amounts() -> str:
        return re.search(r"<dt>Beløb der gives</dt>\s*<dd>(.*?)</dd>", site.client.get(url).text, re.S).group(1)

    site.intake.set_intake(TAARNBY, site.now, grant_min_dkk=1_000)
    assert re.sub("<[^>]+>", "", amounts()) == "Mindst 1.000 kr."
    site.intake.set_intake(TAARNBY, site.now, grant_min_dkk=None, grant_max_dkk=500_000)
    assert re.sub("<[^>]+>", "", amounts()) == "Højst 500.000 kr."
    site.intake.set_intake(TAARNBY, site.now, grant_min_dkk=1_000)
    assert re.sub("<[^>]+>", "", amounts()) == "1.000 kr. – 500.000 kr."
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": url})
    assert "A pool with no dates is always open for ideas." in site.client.get(url + "/intake").text


def test_a_pool_named_like_another_but_for_capital_letters_is_refused_on_its_name(site):
    site.sign_in(ADMIN)
    page = site.client.post("/pools/new", data={
        "csrf_token": site.csrf(), "name": "TÅRNBY innovationspulje", "year": "2027", "budget_dkk": "1000000",
        "screening_days": "30", "funding_days": "45", "evaluation_days": "30", "reminder_days": "5",
        "on_screening_deadline": "escalate"})
    assert page.status_code == 422 and summary(page) == [
        ("name", f"Puljen '{TAARNBY}' findes allerede: Navn skal adskille sig fra den med mere end store og små "
                 "bogstaver.")]
    assert 'value="TÅRNBY innovationspulje"' in field_tag(page, "name")


def test_an_administrator_sends_failed_mail_again_from_the_outbox_page_and_a_coordinator_may_not(site):
    site.sign_in(ADMIN)
    site.services.submit(title="Cykelsti", description="En god idé.", proposer="borger@example.dk",
                         pool=TAARNBY, now=site.now)
    with site.engine.begin() as connection:  # the receipt failed for good (say, a mistyped address since fixed)
        connection.execute(update(OutboxRow).where(OutboxRow.kind == "idea_received")
                           .values(status="failed", attempts=8, last_error="550 5.1.1 no such user"))
    page = site.client.get("/outbox")
    assert 'action="/outbox/resend"' in page.text and "Send igen" in page.text
    answer = site.client.post("/outbox/resend", data={"csrf_token": site.csrf()}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/outbox?status=mail_resent"
    sent = site.client.get(answer.headers["location"])
    assert "De mislykkede breve er sendt igen" not in sent.text  # only written
    assert status_of(sent) == (f"1 brev blev ikke sendt, men skrevet som .eml-fil i mappen {site.mail_dir}/: der "
                               "er ikke sat nogen mailserver op (IDEAFLOW_SMTP_HOST).")
    assert "borger@example.dk" in [m["To"].addresses[0].addr_spec for m in site.mails()]
    mails = len(site.mails())
    assert status_of(site.client.get(answer.headers["location"])) == status_of(sent)  # a reload sends nothing
    assert len(site.mails()) == mails
    with site.engine.connect() as connection:
        row = connection.execute(select(OutboxRow).where(OutboxRow.kind == "idea_received")).one()
    assert (row.status, row.attempts) == ("sent", 1)
    assert 'action="/outbox/resend"' not in site.client.get("/outbox").text  # nothing failed is left

    site.services.add_person(KARIN, "Karin", Role.COORDINATOR, site.now)
    with site.engine.begin() as connection:
        connection.execute(update(OutboxRow).where(OutboxRow.kind == "idea_received").values(status="failed"))
    site.sign_in(KARIN)
    assert 'action="/outbox/resend"' not in site.client.get("/outbox").text
    assert site.client.post("/outbox/resend", data={"csrf_token": site.csrf()}).status_code == 403
    with site.engine.connect() as connection:
        status = connection.execute(select(OutboxRow.status).where(OutboxRow.kind == "idea_received")).scalar()
    assert status == "failed"


def test_try_again_now_during_a_mail_server_outage_says_it_failed_and_why(site):
    for title in ("Cykelsti", "Bænke"):  # a receipt to the proposer for each
        site.services.submit(title=title, description="En god idé.", proposer="borger@example.dk", pool=TAARNBY,
                             now=site.now)
    site.sign_in(ADMIN)
    site.container.settings = site.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port(),
                                                                  "mail_from": "ideer@kommune.dk"})

    def caption() -> str:
        return re.search(r"<caption[^>]*>(.*?)</caption>", site.client.get("/outbox").text).group(1)

    assert caption() == "2 breve"
    tried = site.client.post("/outbox/flush", data={"csrf_token": site.csrf()})
    assert str(tried.url).endswith("/outbox?status=mail_tried")
    status = re.search(r'<div class="alert alert-warning"[^>]*>.*?<p class="alert-text">(.*?)</p>', tried.text, re.S)
    assert status, tried.text
    assert re.fullmatch(r"Afsendelsen mislykkedes: cannot connect to 127\.0\.0\.1:\d+: .+\. Brevene venter og "
                        r"prøves igen senere\.", html.unescape(status.group(1).strip())), status.group(1)
    attempts = [row.attempts for row in site.container.administration.outbox(ADMIN, site.now)]
    reloaded = site.client.get(str(tried.url))  # says it again, and tries nothing again
    assert status_of(reloaded) == html.unescape(status.group(1).strip())
    assert [row.attempts for row in site.container.administration.outbox(ADMIN, site.now)] == attempts
    with site.engine.begin() as connection:
        assert set(connection.execute(select(OutboxRow.status)).scalars()) == {"pending", "sent"}  # + the link
        first = connection.execute(select(OutboxRow.id).where(OutboxRow.status == "pending")).scalars().first()
        connection.execute(update(OutboxRow).where(OutboxRow.id == first).values(status="sent"))
    assert caption() == "1 brev"


def revoke_link(page, email: str, role: str, pool: str = "") -> str:
    """The address of the "Revoke" link beside a grant on /people."""
    links = [html.unescape(href) for href in re.findall(r'<a href="(/people/roles/revoke\?[^"]+)"', page.text)]
    wanted = [link for link in links if parse_qs(urlsplit(link).query, keep_blank_values=True) ==
              {"email": [email], "role": [role], "pool": [pool]}]
    assert len(wanted) == 1, links
    return wanted[0]


def holds(site, email: str, role: Role, pool: str | None = None) -> bool:
    return any(g.role == role and g.pool == pool for line in site.container.administration.people(ADMIN, site.now)
               if line.email == email for g in line.grants)


def test_revoking_a_role_asks_first_naming_the_person_the_role_the_pool_and_what_they_lose(site):
    now = site.now
    site.services.add_person("lars@taarnby.dk", "Lars " + HOSTILE, Role.REVIEWER, now)  # every pool
    site.services.revoke_role("lars@taarnby.dk", Role.REVIEWER, now)
    site.services.grant_role("lars@taarnby.dk", Role.REVIEWER, now, pool=TAARNBY)
    for title in ("Cykelsti", "Bænke"):  # two ideas ask for his review; he has submitted his review of one
        idea = site.services.submit(title=title, description="…", proposer="borger@example.dk", pool=TAARNBY,
                                    now=now)
    site.services.review(idea, "lars@taarnby.dk", {c.name: 3 for c in TAARNBY_CRITERIA}, now,
                         must_meet={c.name: True for c in TAARNBY_CRITERIA if c.must_meet})
    site.sign_in(ADMIN)
    people = site.client.get("/people")
    assert 'value="revoke"' not in people.text  # no form beside a grant revokes in one click
    confirm = site.client.get(revoke_link(people, "lars@taarnby.dk", "reviewer", TAARNBY))
    assert confirm.status_code == 200 and holds(site, "lars@taarnby.dk", Role.REVIEWER, TAARNBY)
    words = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", confirm.text)))
    assert f"Fratag Lars {HOSTILE} en rolle" in words  # the name as text: escaped in the page
    assert HOSTILE not in confirm.text
    assert f"Lars {HOSTILE} (lars@taarnby.dk) mister rollen som bedømmer i {TAARNBY}." in words
    assert "Puljens idéer venter ikke længere på vedkommendes bedømmelse" in words
    assert "1 idé venter på vedkommendes bedømmelse nu." in words  # the other one he has reviewed
    form = re.search(r'<form method="post" action="/people/roles/revoke">(.*?)</form>', confirm.text, re.S).group(1)
    assert 'name="csrf_token"' in form and '<button type="submit"' in form and "Fratag rollen" in form
    assert '<a href="/people" class="button button-secondary">Fortryd</a>' in form

    # The one-click POST of the old page revokes nothing: it leads to the page that asks.
    old = site.client.post("/people/roles", follow_redirects=False, data={
        "csrf_token": site.csrf(), "change": "revoke", "grant_email": "lars@taarnby.dk", "grant_role": "reviewer",
        "grant_pool": TAARNBY})
    assert old.status_code == 303 and old.headers["location"] == revoke_link(people, "lars@taarnby.dk", "reviewer",
                                                                              TAARNBY)
    assert holds(site, "lars@taarnby.dk", Role.REVIEWER, TAARNBY)
    values = {"email": "lars@taarnby.dk", "role": "reviewer", "pool": TAARNBY}
    assert site.client.post("/people/roles/revoke", data=values).status_code == 403  # no CSRF field
    assert holds(site, "lars@taarnby.dk", Role.REVIEWER, TAARNBY)
    done = site.client.post("/people/roles/revoke", data={"csrf_token": site.csrf(), **values},
                            follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/people?status=role_revoked"
    assert not holds(site, "lars@taarnby.dk", Role.REVIEWER, TAARNBY)
    assert site.container.reviewing.inbox("lars@taarnby.dk", now).total == 0  # no longer asked
    again = site.client.get(revoke_link(people, "lars@taarnby.dk", "reviewer", TAARNBY))  # an old tab
    assert "har ikke (længere) rollen som bedømmer" in html.unescape(again.text) and "Fratag rollen" not in again.text


def test_the_revoke_page_says_what_another_grant_keeps_and_speaks_english(site):
    now = site.now
    site.services.add_person(KARIN, "Karin Koordinator", Role.COORDINATOR, now)  # every pool
    site.services.grant_role(KARIN, Role.COORDINATOR, now, pool=ROSKILDE)
    site.sign_in(ADMIN)
    people = site.client.get("/people")
    one_pool = site.client.get(revoke_link(people, KARIN, "coordinator", ROSKILDE))
    assert ("Vedkommende har stadig rollen som koordinator i alle puljer, så det ændrer intet i, hvad vedkommende "
            "må.") in one_pool.text
    every = site.client.get(revoke_link(people, KARIN, "coordinator"))
    assert "Karin Koordinator (karin@taarnby.dk) mister rollen som koordinator i alle puljer." in every.text
    assert "Puljens idéer forsvinder fra vedkommendes portefølje" in html.unescape(every.text)
    assert f"Vedkommende beholder rollen som koordinator i {ROSKILDE}: den er også givet dér." in every.text
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "en", "next": "/people"})
    english = site.client.get(revoke_link(people, KARIN, "coordinator"))
    assert "Karin Koordinator (karin@taarnby.dk) loses the role coordinator of every pool." in english.text
    assert ">Revoke the role</button>" in english.text and ">Cancel</a>" in english.text


def test_the_last_administrator_is_offered_no_revocation_and_others_may_not_open_it(site):
    """The page asks the domain what may be done: the last administrator's role has no "Fratag" beside it,
    and its revoke page (an address kept from before) says why instead of offering the button."""
    site.sign_in(ADMIN)
    people = site.client.get("/people")
    assert not [link for link in re.findall(r'href="(/people/roles/revoke\?[^"]+)"', people.text)
                if "administrator" in link]
    assert "(den sidste administrator)" in people.text
    address = f"/people/roles/revoke?{urlencode({'email': ADMIN, 'role': 'administrator', 'pool': ''})}"
    page = site.client.get(address)
    assert page.status_code == 200 and "er den sidste administrator. Giv rollen til en anden først" in page.text
    assert "Fratag rollen" not in page.text and "Vedkommende kan ikke længere oprette puljer" not in page.text
    refused = site.client.post("/people/roles/revoke", data={"csrf_token": site.csrf(), "email": ADMIN,
                                                            "role": "administrator", "pool": ""})
    assert refused.status_code == 422 and f"{ADMIN} er den sidste administrator" in refused.text
    assert holds(site, ADMIN, Role.ADMINISTRATOR)
    # with a second administrator named, either may lose the role
    site.services.add_person("ole@kommune.dk", "Ole Olsen", Role.ADMINISTRATOR, site.now)
    people = site.client.get("/people")
    assert "(den sidste administrator)" not in people.text
    assert "Fratag rollen" in site.client.get(revoke_link(people, ADMIN, "administrator")).text
    revoke_link(people, "ole@kommune.dk", "administrator")
    assert site.client.get("/people/roles/revoke?email=ida@kommune.dk&role=operator").status_code == 404

    site.services.add_person(KARIN, "Karin Koordinator", Role.COORDINATOR, site.now)
    site.sign_in(KARIN)
    assert site.client.get(f"/people/roles/revoke?email={ADMIN}&role=administrator").status_code == 403
    assert site.client.get("/people/roles/revoke?email=nobody@example.dk&role=reviewer").status_code == 403
    assert site.client.post("/people/roles/revoke", data={"csrf_token": site.csrf(), "email": ADMIN,
                                                         "role": "administrator", "pool": ""}).status_code == 403
    assert holds(site, ADMIN, Role.ADMINISTRATOR)
    with site.engine.connect() as connection:
        commands = connection.execute(text(
            "SELECT r.command FROM refusals r JOIN people p ON p.id = r.person_id WHERE p.email = :email "
            "ORDER BY r.id"), {"email": KARIN}).scalars().all()
    assert commands == ["revoke_roles", "revoke_roles", "person revoke"]


def test_a_new_installations_administrator_finds_an_empty_portfolio_on_the_home_page(engine, tmp_path):
    """Before the first pool: the portfolio is linked from the home page and shows an empty list, not a 403."""
    site = Site(engine, tmp_path)
    try:
        site.services.add_person(ADMIN, "Ida Administrator", Role.ADMINISTRATOR, site.now)
        site.sign_in(ADMIN)
        assert 'href="/portfolio"' in site.client.get("/home").text
        empty = site.client.get("/portfolio")
        assert empty.status_code == 200 and "<h1>" in empty.text
        site.services.create_pool(TAARNBY, 2_000_000, 2027, site.now)
        site.services.submit(title="Grønne skolegårde", description="Træer.", proposer="aase@example.dk",
                             pool=TAARNBY, now=site.now)
        listed = site.client.get("/portfolio").text
        assert "Grønne skolegårde" in listed, "the new pool's ideas are the administrator's to see too"
        # Only a pool's coordinator asks reviewers: an administrator is not offered what would be refused.
        assert 'value="csv"' in listed and 'value="assign"' not in listed
        site.services.grant_role(ADMIN, Role.COORDINATOR, site.now, pool=TAARNBY)
        assert 'value="assign"' in site.client.get("/portfolio").text
    finally:
        site.container.close()


# -- two people saving a pool's settings at once -----------------------------------------------------------------


def form_fields(page) -> dict[str, str]:
    """What a browser sends from the page's settings form as it stands: its fields' values (hidden ones too),
    the ticked checkboxes only."""
    form = re.search(r'<form method="post" action="/pools/\d+/(?:intake|criteria)".*?</form>', page.text, re.S).group(0)
    values = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and ('type="checkbox"' not in tag or "checked" in tag):
            values[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, value in re.findall(r'<textarea[^>]* name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        values[name] = html.unescape(value).removeprefix("\n")
    return values


def stored_intake(site, pool: int) -> dict:
    with site.engine.connect() as connection:
        row = connection.execute(text("SELECT description, criteria_text, grant_max_dkk FROM pool_intakes "
                                      "WHERE pool_id = :pool"), {"pool": pool}).mappings().one_or_none()
    return dict(row) if row else {}


INTAKE_CHANGED = ("En anden gemte modtagelsen af idéer, mens du havde siden åben, så intet blev gemt. Det, du skrev, "
                  "står stadig nedenfor, og det, der er gemt nu, vises, hvor det er anderledes. Se det igennem, og gem "
                  "så igen.")
CRITERIA_CHANGED = ("En anden gemte kriterierne, mens du havde siden åben, så intet blev gemt. Det, du skrev, står "
                    "stadig nedenfor; kriterierne, som de er gemt nu, står på puljens side. Se dem igennem, og gem "
                    "så igen.")


def test_two_coordinators_saving_the_intake_at_once_the_second_is_refused_and_wipes_out_nothing(site):
    """Mette and Kim open the intake form; Mette saves the public texts; Kim, on his older copy, changes only
    the largest amount: his save is refused (409) with what he typed kept and Mette's texts shown, nothing
    saved, instead of emptying her texts. Saved again from that page, it is his to save."""
    pool = site.pools[TAARNBY]
    for email, name in (("mette@taarnby.dk", "Mette"), ("kim@taarnby.dk", "Kim")):
        site.services.add_person(email, name, Role.PROPOSER, site.now)
        site.services.grant_role(email, Role.COORDINATOR, site.now, pool=TAARNBY)
    mette, kim = site.browser_of("mette@taarnby.dk"), site.browser_of("kim@taarnby.dk")
    url = f"/pools/{pool}/intake"
    mettes_copy, kims_copy = form_fields(mette.get(url)), form_fields(kim.get(url))
    texts = {"description": "Nye måder at løse kommunens opgaver på", "criteria_text": "Idéen skal spare tid"}
    saved = mette.post(url, data=mettes_copy | texts, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("status=intake_saved")
    again = mette.post(url, data=mettes_copy | texts, follow_redirects=False)  # a double click: done, no conflict
    assert again.status_code == 303

    refused = kim.post(url, data=kims_copy | {"grant_max_dkk": "300000"})
    assert refused.status_code == 409
    assert INTAKE_CHANGED in html.unescape(refused.text)
    assert 'value="300000"' in field_tag(refused, "grant_max_dkk")  # what he typed is kept
    saved_now = re.search(r"<dl class=\"facts alert-text\">(.*?)</dl>", refused.text, re.S).group(1)
    assert [html.unescape(m) for m in re.findall(r"<dt>([^<]*)</dt>", saved_now)] == [
        "Hvad puljen støtter", "Kriterierne med almindelige ord", "Største beløb der gives"]
    assert texts["description"] in html.unescape(saved_now) and "(tom)" in saved_now
    assert stored_intake(site, pool) == {**texts, "grant_max_dkk": None}  # nothing of his saved

    # From the page the refusal showed (its fingerprint is of the settings now), with Mette's texts copied in.
    resaved = kim.post(url, data=form_fields(refused) | texts, follow_redirects=False)
    assert resaved.status_code == 303 and resaved.headers["location"].endswith("status=intake_saved")
    assert stored_intake(site, pool) == {**texts, "grant_max_dkk": 300_000}
    # The command line changes only the settings it names, as before; the pool's page says who changed what.
    site.intake.set_intake(TAARNBY, site.now, grant_min_dkk=1_000)
    assert stored_intake(site, pool) == {**texts, "grant_max_dkk": 300_000}
    changes = re.search(r"Ændringer af modtagelsen af idéer</h3>\s*<ul>(.*?)</ul>", kim.get(f"/pools/{pool}").text,
                        re.S).group(1)
    lines = [re.sub(r"\s+", " ", html.unescape(line)).split(" af ", 1)[1]
             for line in re.findall(r"<li>(.*?)</li>", changes, re.S)]
    assert lines == ["mette@taarnby.dk: Hvad puljen støtter, Kriterierne med almindelige ord",
                     "kim@taarnby.dk: Største beløb der gives", "operator@ideaflow.invalid: Mindste beløb der gives"]


def test_two_administrators_saving_the_criteria_at_once_the_second_is_refused_and_wipes_out_nothing(site):
    pool = site.pools[TAARNBY]
    site.services.add_person("jens@kommune.dk", "Jens Administrator", Role.ADMINISTRATOR, site.now)
    ida, jens = site.browser_of(ADMIN), site.browser_of("jens@kommune.dk")
    url = f"/pools/{pool}/criteria"
    idas_copy, jens_copy = form_fields(ida.get(url)), form_fields(jens.get(url))
    saved = ida.post(url, data=idas_copy | {"description-0": "Færre timer på samme opgave"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("status=criteria_saved")

    refused = jens.post(url, data=jens_copy | {"weight-1": "3"})
    assert refused.status_code == 409 and CRITERIA_CHANGED in html.unescape(refused.text)
    assert 'value="3"' in field_tag(refused, "weight-1")  # what he typed is kept
    with site.engine.connect() as connection:
        weights = dict(connection.execute(text("SELECT name, weight FROM criteria WHERE pool_id = :pool"),
                                          {"pool": pool}).all())
        descriptions = dict(connection.execute(text("SELECT name, description FROM criteria WHERE pool_id = :pool"),
                                               {"pool": pool}).all())
    assert weights["kvalitet"] == 2.0 and descriptions["effektivitet"] == "Færre timer på samme opgave"

    resaved = jens.post(url, data=form_fields(refused), follow_redirects=False)  # after looking: his to save
    assert resaved.status_code == 303 and resaved.headers["location"].endswith("status=criteria_saved")
    with site.engine.connect() as connection:
        weights = dict(connection.execute(text("SELECT name, weight FROM criteria WHERE pool_id = :pool"),
                                          {"pool": pool}).all())
    assert weights["kvalitet"] == 3.0
