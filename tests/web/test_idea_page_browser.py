"""A coordinator's day on the idea page, in Chromium against one `ideaflow web` process.

One console and one database (seeded through the service layer) serve the whole module; each person
signs in once, through the link in the mail the console delivered, and keeps their browser context.
The record is read back as a coordinator's script reads it, with `ideaflow show ID --json`.

What would fail without the feature: a decision, allocation, pilot plan or evaluation recorded
otherwise than clicked (or not at all); a form that cannot be completed with the keyboard; a kill
without a reason accepted, or refused without the field marked; the second of two coordinators
deciding one gate at once recording a decision on a page they no longer saw, or getting an error page
instead of the idea and a message; a reviewer of another pool reading the idea (or leaving no audit
row); a follower kept on the staff's page; a coordinator judging her own idea or reading its reviews, or
her withdrawal not recorded with its reason; hostile text run as markup; any axe-core violation at 1280
or 320 px in Danish or English.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from ideaflow.intake import Intake, IntakeSettings
from ideaflow.views import pool_view
from notifications.handlers import queue_mail
from states.criteria import Criterion
from states.intake import Submission, Upload
from states.vocabulary import Decision, Language, Role

from consoleweb import post_status, running_console, signed_in_people, tab_to
from signinweb import HOSTILE
from webtest import assert_no_axe_violations, assert_reflows

pytestmark = pytest.mark.slow

POOL, OTHER_POOL = "Tårnby innovationspulje", "Roskilde puljen"
CRITERIA = (
    Criterion("effekt", 2.0, description="Mere effektiv opgaveløsning"),
    Criterion("kvalitet", 1.0, description="Kvalitet efter en anerkendt faglig standard"),
    Criterion("lovlig", 1.0, must_meet=True, description="Overholder gældende regler"),
)
KARIN, KNUD, BENT, RIKKE, OLE = ("karin@taarnby.dk", "knud@taarnby.dk", "bent@taarnby.dk", "rikke@taarnby.dk",
                                 "ole@roskilde.dk")
FRIDA, PIA = "frida@byraad.dk", "pia@borger.dk"
FULL = {"effekt": 4, "kvalitet": 3, "lovlig": 5}
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _submitted_with_a_file(engine, title: str) -> int:
    """An idea as a citizen sends it through the public form, with an attachment, confirmed by the link."""
    intake = Intake(engine, IntakeSettings(), lambda: b"test key", None, subscriber=queue_mail)
    pool_id = pool_view(engine, POOL).id
    intake.submit(pool_id, Submission(title=title, description="Droner bringer medicin ud.", name="Åse Ærlig",
                                      email="aase@example.dk", proposer_kind="citizen",
                                      attachments=(Upload("plan.pdf", PDF),)),
                  client="192.0.2.1", lang=Language.DA, now=datetime.now(UTC))
    with engine.connect() as connection:  # the confirmation link's token waits beside its unsent mail
        token = connection.execute(text("SELECT secret FROM outbox WHERE secret IS NOT NULL")).scalar_one()
    return intake.confirm(token, datetime.now(UTC)).idea_id


def _seed(app) -> dict[str, int]:
    services, engine = app.services, app.engine
    now = datetime.now(UTC)
    services.create_pool(POOL, 2_000_000, 2026, now, CRITERIA)
    services.create_pool(OTHER_POOL, 1_000_000, 2026, now, CRITERIA)
    for email, name, pool, role in ((KARIN, "Karin Koordinator", POOL, Role.COORDINATOR),
                                    (KNUD, "Knud Koordinator", POOL, Role.COORDINATOR),
                                    (BENT, "Bent Bedømmer", POOL, Role.REVIEWER),
                                    (RIKKE, "Rikke Reviewer", POOL, Role.REVIEWER),
                                    (OLE, "Ole Roskilde", OTHER_POOL, Role.REVIEWER)):
        services.add_person(email, name, Role.PROPOSER, now)
        services.grant_role(email, role, now, pool=pool)
    services.add_person(FRIDA, "Frida Følger", Role.FOLLOWER, now)

    def submit(title: str) -> int:
        return services.submit(title=title, description=f"Beskrivelse af {title}.\nAnden linje " + HOSTILE,
                               proposer=PIA, pool=POOL, now=now, requested_dkk=250_000,
                               departments=("Teknik og Miljø",))

    ideas = {"day": submit(HOSTILE), "stop": _submitted_with_a_file(engine, "Droner til hjemmeplejen"),
             "race": submit("Fælles indgang"), "twice": submit("Cykelparkering ved stationen"),
             "funding": submit("Samskabelse i Gentofte"), "followed": submit("ZebraBy Gundsømagle"),
             "park": submit("Ungeindgangen"), "evaluation": submit("Lånecykler til ældre"),
             "unreviewed": submit("Bænke ved åen"),
             "own": services.submit(title="Knuds egen idé", description="En idé fra en af puljens koordinatorer.",
                                    proposer=KNUD, pool=POOL, now=now)}
    services.review(ideas["own"], RIKKE, FULL, now, {"lovlig": True}, "Rikkes kommentar")
    for key in ideas.keys() - {"own", "unreviewed"}:
        services.review(ideas[key], BENT, FULL, now, {"lovlig": True}, "Bents kommentar " + HOSTILE)
    for key in ("funding", "followed", "park", "evaluation"):
        services.decide(ideas[key], Decision.GO, KARIN, now)
    services.assign_reviewers(ideas["funding"], KARIN, now, (BENT,))
    services.review(ideas["funding"], BENT, {"effekt": 5, "kvalitet": 2, "lovlig": 4}, now, {"lovlig": True})
    services.decide(ideas["followed"], Decision.GO, KARIN, now)
    services.plan_pilot(ideas["followed"], start=date(2027, 1, 4), end=date(2027, 4, 30), now=now, by=KARIN,
                        sites=("Gundsømagle",), followers=(FRIDA,))
    # A pilot that has ended: the sweep opens its evaluation.
    services.decide(ideas["evaluation"], Decision.GO, KARIN, now, amount_dkk=50_000)
    services.plan_pilot(ideas["evaluation"], start=date.today() - timedelta(days=60),
                        end=date.today() - timedelta(days=1), now=now - timedelta(days=61), by=KARIN,
                        sites=("Kastrup",))  # planned before it began
    services.sweep(now)
    # Sent back and revised by its proposer: the text round 1 judged is kept beside the new one.
    ideas["revised"] = submit("Grønne tage")
    services.review(ideas["revised"], BENT, FULL, now, {"lovlig": True})
    services.decide(ideas["revised"], Decision.RECYCLE, KARIN, now, reason="Hvad koster tagene?")
    services.revise(ideas["revised"], PIA, now, title="Grønne tage på skolerne", description="Tre skoler.\nEt budget.",
                    requested_dkk=120_000, departments=("Børn og Unge",))
    return ideas


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with running_console(tmp_path_factory.mktemp("ideapage"), _seed) as console:
        yield console


@pytest.fixture(scope="module")
def signed_in(chromium, console):
    yield from signed_in_people(chromium, console)



def _decide_form(page):
    return page.locator("form[action$='/decide']")


def _form_fields(page, action: str) -> dict[str, str]:
    """The fields of the page's form posting to `…/{action}`, as the browser would send them."""
    form = page.locator(f"form[action$='/{action}']")
    return form.evaluate("f => Object.fromEntries(new FormData(f))")


def _sent_again(page, path: str, fields: dict[str, str], console) -> str:
    """Post `fields` to `path` once more with the person's session; the address it sends them on to."""
    answer = page.request.post(console.server.url + path, form=fields, max_redirects=0)
    assert answer.status == 303, (answer.status, answer.text()[:500])
    return console.server.url + answer.headers["location"].lstrip("/")


def test_a_coordinators_day(browser, signed_in, console):
    idea, url = console.ids["day"], console.server.url
    page = signed_in(KARIN)
    page.goto(url + f"ideas/{idea}?from=stage%3Dsubmitted")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE)  # shown as text, not run
    main = page.locator("main")
    for shown in ("indsendt", "250.000 kr.", "Teknik og Miljø", "Anden linje " + HOSTILE, f"pia ({PIA})",
                  "1 af 2 adspurgte bedømmere har svaret.", "Bent Bedømmer: har svaret",
                  "Rikke Reviewer: spurgt, har ikke svaret endnu", "Bents kommentar " + HOSTILE, "Skal-krav: lovlig"):
        expect(main).to_contain_text(shown)
    table = page.get_by_role("table", name="Bedømmelser ved screening, runde 1")
    expect(table.get_by_role("row", name=re.compile("^effekt"))).to_contain_text("4")
    expect(table.get_by_role("rowheader")).to_have_text(["effekt (2)", "kvalitet (1)", "lovlig (1)", "Vægtet score",
                                                         "Skal-krav: lovlig", "Kommentar"])  # weights not 2,00
    expect(page.get_by_role("link", name="Tilbage til porteføljen")).to_have_attribute(
        "href", "/portfolio?stage=submitted")
    # Only what she may do now: no amount at screening, no pilot or evaluation yet.
    expect(_decide_form(page).get_by_role("radio")).to_have_count(4)
    expect(page.locator("#amount")).to_have_count(0)
    expect(page.locator("form[action$='/pilot'], form[action$='/evaluate'], form[action$='/resume']")).to_have_count(0)
    assert_no_axe_violations(page)

    # The screening go, by keyboard alone: the first decision offered is go.
    tab_to(page, "decision")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "reason"
    page.keyboard.type("Stærk sag")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/ideas/{idea}\?status=decision_go&from=stage%3Dsubmitted$"))
    expect(page.get_by_role("status")).to_contain_text("Godkendelsen er registreret")
    shown = console.show(idea)
    assert (shown["stage"], shown["history"][-1]["action"], shown["history"][-1]["by"],
            shown["history"][-1]["reason"]) == ("screened", "go", KARIN, "Stærk sag")

    # The funding go with an amount, typed the Danish way.
    expect(page.locator("#amount")).to_be_visible()
    _decide_form(page).get_by_label("Godkend").check()
    page.get_by_label("Beløb, der bevilges").fill("180.000")
    page.get_by_role("button", name="Registrér afgørelsen").click()
    expect(page.get_by_role("status")).to_contain_text("Godkendelsen er registreret")
    shown = console.show(idea)
    assert (shown["stage"], shown["allocated_dkk"]) == ("funded", 180_000)
    expect(page.locator("main")).to_contain_text("180.000 kr.")

    # A pilot that has already ended is no plan: refused on its last day, nothing saved.
    page.get_by_label("Første dag").fill((date.today() - timedelta(days=30)).isoformat())
    page.get_by_label("Sidste dag").fill((date.today() - timedelta(days=2)).isoformat())
    page.get_by_label("Teststeder").fill("Tårnby Rådhus\nBorgerservice")
    assert post_status(page, page.get_by_role("button", name="Gem planen").click) == 422
    expect(page.get_by_role("alert").get_by_role("link")).to_contain_text(["er passeret; en pilot planlægges, før"])
    expect(page.get_by_label("Sidste dag")).to_have_attribute("aria-invalid", "true")
    assert console.show(idea)["pilot"] is None
    # The pilot plan: it started a month ago (recorded late) and ends in two days (a sweep after that opens
    # the evaluation).
    start, end = date.today() - timedelta(days=30), date.today() + timedelta(days=2)
    page.get_by_label("Første dag").fill(start.isoformat())
    page.get_by_label("Sidste dag").fill(end.isoformat())
    page.get_by_label("Teststeder").fill("Tårnby Rådhus\nBorgerservice")
    page.get_by_label("Følgegruppe").fill(FRIDA)
    page.get_by_label("Målepunkter").fill("Sagsbehandlingstid i dage\n" + HOSTILE)
    plan = _form_fields(page, "pilot")
    page.get_by_role("button", name="Gem planen").click()
    expect(page.get_by_role("status")).to_contain_text("Planen for piloten er gemt")
    expect(page.locator("main dd", has_text="Frida")).to_have_text("Frida Følger")  # the group by name
    page.goto(_sent_again(page, f"ideas/{idea}/pilot", plan, console))  # the same plan again: a double click
    expect(page.get_by_role("status")).to_contain_text("Planen for piloten var allerede sådan; intet er ændret.")
    assert console.show(idea)["pilot"] == {"start": start.isoformat(), "end": end.isoformat(),
                                           "sites": ["Tårnby Rådhus", "Borgerservice"], "followers": [FRIDA],
                                           "measures": ["Sagsbehandlingstid i dage", HOSTILE]}
    # Re-planning starts from the plan as it is.
    expect(page.get_by_role("heading", name="Planlæg piloten om")).to_be_visible()
    expect(page.get_by_label("Teststeder")).to_have_value("Tårnby Rådhus\nBorgerservice")
    expect(page.get_by_label("Følgegruppe")).to_have_value(FRIDA)

    console.services.sweep(datetime.now(UTC) + timedelta(days=4))  # after its last day
    page.reload()
    form = page.locator("form[action$='/evaluate']")
    assert post_status(page, page.get_by_role("button", name="Registrér evalueringen").click) == 422
    expect(page.get_by_role("alert").get_by_role("link")).to_have_text(
        ["Vælg en score fra 1 til 5 for effekt.", "Vælg en score fra 1 til 5 for kvalitet.",
         "Vælg en score fra 1 til 5 for lovlig.", "Vælg et resultat."])
    expect(form.locator("input[name='score-2']").first).to_have_attribute("aria-invalid", "true")
    for criterion, value in (("effekt", "5"), ("kvalitet", "4"), ("lovlig", "3")):
        form.get_by_role("group", name=re.compile(f"^{criterion} ")).get_by_label(value, exact=True).check()
    form.get_by_label("Udbred").check()
    form.get_by_label("Kommentar").fill("Udbredes til hele kommunen")
    assert_no_axe_violations(page)
    evaluation = _form_fields(page, "evaluate")
    page.get_by_role("button", name="Registrér evalueringen").click()
    expect(page.get_by_role("status")).to_contain_text("Evalueringen er registreret")
    page.goto(_sent_again(page, f"ideas/{idea}/evaluate", evaluation, console))
    expect(page.get_by_role("status")).to_contain_text("Idéen var allerede evalueret")
    shown = console.show_command(idea)  # the whole record, as the command prints it, matches what was clicked
    assert (shown["stage"], shown["allocated_dkk"], shown["pilot"]["sites"]) == (
        "evaluated", 180_000, ["Tårnby Rådhus", "Borgerservice"])
    assert [(h["action"], h["reason"]) for h in shown["history"] if h["by"] == KARIN] == [
        ("go", "Stærk sag"), ("go", "go at the funding gate, 180.000 kr. allocated"),
        ("plan_pilot", f"pilot planned: {start} to {end}, sites: Tårnby Rådhus, Borgerservice, measures: "
                       f"Sagsbehandlingstid i dage; {HOSTILE}, follow-up group of 1"),
        ("evaluate", "outcome scale: Udbredes til hele kommunen")]
    assert {k: shown["evaluation"][k] for k in ("by", "scores", "outcome", "comment")} == {
        "by": KARIN, "scores": {"effekt": 5, "kvalitet": 4, "lovlig": 3}, "outcome": "scale",
        "comment": "Udbredes til hele kommunen"}
    expect(page.locator("main")).to_contain_text("Udbred")
    # The history in Danish: what was typed, the amount and the plan in the page's words; none of the
    # record's English.
    history = page.locator("ol.history")
    for said in ("Stærk sag", "180.000 kr. bevilget", "Udbredes til hele kommunen",
                 "teststeder: Tårnby Rådhus, Borgerservice; målepunkter: Sagsbehandlingstid i dage; ",
                 "; følgegruppe på 1"):
        expect(history).to_contain_text(said)
    for english in ("at the screening gate", "outcome scale", "pilot planned", "sites:"):
        assert english not in history.inner_text()
    expect(history.locator("[lang=en]")).to_have_count(0)
    expect(page.locator("main form[action^='/ideas/']")).to_have_count(0)  # nothing left to do
    assert not signed_in.dialogs, "hostile text ran as script"


def test_a_kill_without_a_reason_comes_back_with_the_field_marked(browser, signed_in, console):
    idea = console.ids["stop"]
    page = signed_in(KARIN)
    page.goto(console.server.url + f"ideas/{idea}")
    file = page.get_by_role("link", name="plan.pdf")  # the citizen's attachment, for the pool's staff
    expect(file.locator("xpath=..")).to_contain_text("plan.pdf (1 kB)")
    assert page.request.get(console.server.url + file.get_attribute("href").lstrip("/")).body() == PDF
    # The reason is needed for some decisions only: its hint says which, and its label does not say "optional".
    expect(page.locator("label[for='reason']")).to_have_text("Begrundelse")
    _decide_form(page).get_by_label("Afvis").check()
    assert post_status(page, page.get_by_role("button", name="Registrér afgørelsen").click) == 422
    expect(page.get_by_role("alert").get_by_role("link")).to_have_text(
        "Begrundelse skal udfyldes for at afvise en idé: forslagsstilleren får den at vide.")
    expect(page.locator("#reason")).to_have_attribute("aria-invalid", "true")
    expect(_decide_form(page).get_by_label("Afvis")).to_be_checked()  # the form keeps what was chosen
    expect(page).to_have_title(re.compile("^Fejl: "))
    assert_no_axe_violations(page)
    assert console.show(idea)["stage"] == "submitted"

    page.get_by_label("Begrundelse").fill("Ligger uden for puljens formål")
    page.get_by_role("button", name="Registrér afgørelsen").click()
    expect(page.get_by_role("status")).to_contain_text("Idéen er afvist")
    shown = console.show(idea)
    assert (shown["stage"], shown["history"][-1]["reason"]) == ("rejected", "Ligger uden for puljens formål")


def test_two_coordinators_deciding_one_gate_the_second_is_told_it_was_decided(browser, signed_in, console):
    idea, url = console.ids["race"], console.server.url
    karin, knud = signed_in(KARIN), signed_in(KNUD)
    for page in (karin, knud):
        page.goto(url + f"ideas/{idea}")
    _decide_form(knud).get_by_label("Afvis").check()
    knud.get_by_label("Begrundelse").fill("Dækket af et andet projekt")
    knud.get_by_role("button", name="Registrér afgørelsen").click()
    expect(knud.get_by_role("status")).to_contain_text("Idéen er afvist")

    _decide_form(karin).get_by_label("Godkend").check()
    assert post_status(karin, karin.get_by_role("button", name="Registrér afgørelsen").click) == 409
    expect(karin.get_by_role("alert")).to_contain_text(
        "Knud Koordinator afviste idéen ved screeningen, mens du havde siden åben. Her er idéen, som den er nu.")
    expect(karin.get_by_role("heading", level=1)).to_have_text("Fælles indgang")  # the idea, not an error page
    expect(karin.locator("main")).to_contain_text("afvist")
    expect(_decide_form(karin)).to_have_count(0)  # nothing left to decide
    shown = console.show(idea)
    decisions = [h for h in shown["history"] if h["action"] in ("go", "kill", "hold", "recycle")]
    assert [(h["action"], h["by"]) for h in decisions] == [("kill", KNUD)]


def _fill_evaluation(page, outcome: str, comment: str) -> None:
    form = page.locator("form[action$='/evaluate']")
    for criterion, value in (("effekt", "4"), ("kvalitet", "3"), ("lovlig", "5")):
        form.get_by_role("group", name=re.compile(f"^{criterion} ")).get_by_label(value, exact=True).check()
    form.get_by_label(outcome).check()
    form.get_by_label("Kommentar").fill(comment)


def test_two_coordinators_evaluating_one_pilot_the_second_is_told_who_did(browser, signed_in, console):
    idea, url = console.ids["evaluation"], console.server.url
    karin, knud = signed_in(KARIN), signed_in(KNUD)
    for page in (karin, knud):
        page.goto(url + f"ideas/{idea}")
    _fill_evaluation(knud, "Stop", "Cyklerne blev ikke brugt")
    knuds = _form_fields(knud, "evaluate")
    knud.get_by_role("button", name="Registrér evalueringen").click()
    expect(knud.get_by_role("status")).to_contain_text("Evalueringen er registreret")

    # Karin's page still showed the form: her evaluation is not recorded, and she is told whose is.
    _fill_evaluation(karin, "Udbred", "Udbredes til hele kommunen")
    assert post_status(karin, karin.get_by_role("button", name="Registrér evalueringen").click) == 409
    expect(karin.get_by_role("alert")).to_contain_text(
        "Knud Koordinator har evalueret idéen, mens du havde siden åben. Her er idéen, som den er nu.")
    expect(karin.locator("main")).to_contain_text("Cyklerne blev ikke brugt")
    expect(karin.locator("form[action$='/evaluate']")).to_have_count(0)
    assert_no_axe_violations(karin)

    # Knud's form from another tab, with another outcome: his own evaluation stands, and he is told so.
    other_tab = knud.request.post(url + f"ideas/{idea}/evaluate", form={**knuds, "outcome": "scale"},
                                  max_redirects=0)
    assert other_tab.status == 409
    assert "Du har allerede evalueret idéen. Her er idéen, som den er nu." in other_tab.text()
    # The same evaluation sent again (a double click) answers as done.
    knud.goto(_sent_again(knud, f"ideas/{idea}/evaluate", knuds, console))
    expect(knud.get_by_role("status")).to_contain_text("Idéen var allerede evalueret")

    shown = console.show_command(idea)
    assert {k: shown["evaluation"][k] for k in ("by", "outcome", "comment")} == {
        "by": KNUD, "outcome": "stop", "comment": "Cyklerne blev ikke brugt"}
    assert [h["action"] for h in shown["history"]].count("evaluate") == 1


def test_another_pools_reviewer_gets_404_and_an_audit_row_and_a_follower_their_pilot(browser, signed_in, console):
    ideas, url = console.ids, console.server.url
    page = signed_in(OLE)
    before = len(console.refusals(OLE))
    response = page.goto(url + f"ideas/{ideas['funding']}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Siden blev ikke fundet")
    assert "Samskabelse" not in page.content()
    # … also when a decision is posted by hand, with a valid CSRF token of his session.
    token = page.locator("input[name='csrf_token']").first.get_attribute("value")
    posted = page.request.post(url + f"ideas/{ideas['funding']}/decide",
                               form={"csrf_token": token, "decision": "kill", "reason": "x", "seen_version": "1"})
    assert posted.status == 404
    assert console.show(ideas["funding"])["stage"] == "screened"
    assert console.refusals(OLE)[before:] == [("show", ideas["funding"])] * 2

    follower = signed_in(FRIDA)
    follower.goto(url + f"ideas/{ideas['followed']}")
    expect(follower).to_have_url(url + f"pilots/{ideas['followed']}")
    expect(follower.get_by_role("link", name="Alle de piloter, du følger")).to_have_attribute("href", "/pilots")
    # The pool's coordinator may open the pilot's page too: its way back is the idea page, not "your pilots".
    coordinator = signed_in(KARIN)
    coordinator.goto(url + f"pilots/{ideas['followed']}")
    expect(coordinator.get_by_role("link", name="Hele idéens side med dens historik")).to_have_attribute(
        "href", f"/ideas/{ideas['followed']}")


def test_a_decision_sent_twice_is_recorded_once_and_an_old_form_is_told_it_was_yours(browser, signed_in, console):
    """The decide form as the browser sends it, twice (a double click, a retry of a slow answer), then
    once more with another decision (a form kept open in a second tab)."""
    idea, url = console.ids["twice"], console.server.url
    page = signed_in(KARIN)
    page.goto(url + f"ideas/{idea}")
    fields = _form_fields(page, "decide")
    assert len(fields["request_id"]) == 43
    sent = {**fields, "decision": "go", "reason": "Klar til bevilling"}
    answers = [page.request.post(url + f"ideas/{idea}/decide", form=sent, max_redirects=0) for _ in range(2)]
    assert [a.status for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"] == f"/ideas/{idea}?status=decision_go"
    shown = console.show(idea)
    decisions = [(h["action"], h["by"]) for h in shown["history"] if h["action"] in ("go", "kill", "hold", "recycle")]
    assert (shown["stage"], decisions) == ("screened", [("go", KARIN)])

    other = page.request.post(url + f"ideas/{idea}/decide", form={**sent, "decision": "kill"})
    assert other.status == 409
    assert "Du har allerede truffet afgørelse om idéen. Her er idéen, som den er nu." in other.text()
    again = re.search(r'name="request_id" value="([^"]+)"', other.text())
    assert again and again[1] != fields["request_id"]  # the form shown again carries a key of its own
    assert console.show(idea)["stage"] == "screened"


def test_asking_reviewers_hold_resume_and_a_conflict(browser, signed_in, console):
    idea = console.ids["park"]
    page = signed_in(KARIN)
    page.goto(console.server.url + f"ideas/{idea}")
    expect(page.locator("main")).to_contain_text("0 af 2 adspurgte bedømmere har svaret.")  # nobody yet at funding
    ask = page.locator("form[action$='/assign']")
    # Nobody is named yet, so every reviewer of the pool is asked: naming some asks only them.
    expect(ask.get_by_role("group", name="Spørg kun disse bedømmere")).to_have_accessible_description(
        "Så længe ingen er spurgt ved navn, er alle puljens bedømmere spurgt. Vælg bedømmere for kun at spørge dem.")
    assert post_status(page, ask.get_by_role("button", name="Bed om bedømmelser").click) == 422
    expect(page.get_by_role("alert").get_by_role("link")).to_have_text("Vælg mindst én bedømmer.")
    ask.get_by_label("Rikke Reviewer (rikke@taarnby.dk)").check()
    asking = _form_fields(page, "assign")
    ask.get_by_role("button", name="Bed om bedømmelser").click()
    expect(page.get_by_role("status")).to_contain_text("Bedømmerne er blevet bedt om en bedømmelse")
    page.goto(_sent_again(page, f"ideas/{idea}/assign", asking, console))
    expect(page.get_by_role("status")).to_contain_text("Bedømmerne var allerede blevet bedt om en bedømmelse")
    expect(page.locator("main")).to_contain_text("Rikke Reviewer: spurgt, har ikke svaret endnu")
    expect(page.locator("main")).to_contain_text("0 af 1 adspurgte bedømmere har svaret.")
    assert console.show(idea)["reviewers_asked"] == [RIKKE]
    expect(ask.get_by_role("group", name="Puljens bedømmere, der ikke er spurgt")).to_contain_text("Bent Bedømmer")

    _decide_form(page).get_by_label("Sæt i bero").check()
    # The proposer's mail quotes the reason of a hold as of any decision, and the field says so.
    reason = _decide_form(page).get_by_label("Begrundelse")
    expect(reason).to_have_accessible_description(
        "Skal udfyldes for at afvise eller sende tilbage. Forslagsstilleren får begrundelsen for enhver afgørelse, "
        "også ved bero.")
    reason.fill("Afventer næste års budget")
    page.get_by_role("button", name="Registrér afgørelsen").click()
    expect(page.get_by_role("status")).to_contain_text("Idéen er sat i bero")
    shown = console.show(idea)
    assert (shown["stage"], shown["held_from"]) == ("on_hold", "screened")
    assert shown["history"][-1]["reason"] == "Afventer næste års budget"
    expect(page.locator("main")).to_contain_text("Idéen vender tilbage til screenet med nye frister.")
    expect(page.locator("main dt", has_text="Fase").locator("xpath=following-sibling::dd[1]")).to_have_text(
        "i bero (var screenet)")
    resuming = _form_fields(page, "resume")
    page.get_by_role("button", name="Genoptag idéen").click()
    expect(page.get_by_role("status")).to_contain_text("Idéen er genoptaget")
    page.goto(_sent_again(page, f"ideas/{idea}/resume", resuming, console))
    expect(page.get_by_role("status")).to_contain_text("Idéen var allerede genoptaget")
    shown = console.show(idea)
    assert shown["stage"] == "screened" and [h["action"] for h in shown["history"]].count("resume") == 1

    page.get_by_label("Hvorfor du er inhabil").fill("Min søster står bag idéen")
    sent = _form_fields(page, "conflict")
    page.get_by_role("button", name="Erklær inhabilitet").click()
    expect(page.get_by_role("status")).to_contain_text("Din inhabilitet er registreret")
    expect(_decide_form(page)).to_have_count(0)  # she no longer decides it
    shown = console.show(idea)
    assert shown["conflicts"] == [KARIN] and shown["history"][-1]["action"] == "conflict"
    # The same form once more (a double click, a second tab): it already holds, and is said to.
    page.goto(_sent_again(page, f"ideas/{idea}/conflict", sent, console))
    expect(page.get_by_role("status")).to_contain_text("Din inhabilitet var allerede registreret")
    assert [h["action"] for h in console.show(idea)["history"]].count("conflict") == 1


def test_a_coordinator_sees_her_own_idea_as_its_proposer_and_withdraws_it_with_a_reason(browser, signed_in, console):
    """Her own idea's address takes her to "my ideas": no reviewer's name, score or comment, no decision, no
    asking reviewers; she withdraws it there as any proposer does."""
    idea = console.ids["own"]
    page = signed_in(KNUD)
    page.goto(console.server.url + f"ideas/{idea}")
    expect(page).to_have_url(re.compile(rf"/my-ideas#idea-{idea}$"))
    mine = page.locator(f"section[aria-labelledby='idea-{idea}']")
    expect(mine.get_by_role("heading", level=2)).to_have_text("Knuds egen idé")
    assert "Rikkes kommentar" not in page.content() and "Rikke Reviewer" not in page.content()
    expect(_decide_form(page)).to_have_count(0)  # nobody decides (or reviews) an idea they proposed
    expect(page.locator("form[action$='/assign']")).to_have_count(0)
    mine.get_by_role("link", name=re.compile("^Træk")).click()
    expect(page).to_have_url(re.compile(rf"/my-ideas/{idea}/withdraw$"))
    tab_to(page, "reason")
    page.keyboard.type("Vi løser det i en anden pulje " + HOSTILE)
    sent = _form_fields(page, f"{idea}/withdraw")
    page.get_by_role("button", name="Træk idéen tilbage").click()
    expect(page.get_by_role("status")).to_contain_text("Idéen er trukket tilbage.")
    expect(page.locator("main")).to_contain_text("Vi løser det i en anden pulje " + HOSTILE)  # as text
    shown = console.show(idea)
    last = shown["history"][-1]
    assert (shown["stage"], last["action"], last["by"]) == ("withdrawn", "withdraw", KNUD)
    assert last["reason"] == "Vi løser det i en anden pulje " + HOSTILE
    page.goto(_sent_again(page, f"my-ideas/{idea}/withdraw", sent, console))  # a double click
    expect(page.get_by_role("status")).to_contain_text("Idéen var allerede trukket tilbage")
    assert [h["action"] for h in console.show(idea)["history"]].count("withdraw") == 1


def test_a_reviewer_of_the_pool_sees_the_idea_blind_and_a_link_to_review_it(browser, signed_in, console):
    idea = console.ids["funding"]
    page = signed_in(RIKKE)
    page.goto(console.server.url + f"ideas/{idea}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Samskabelse i Gentofte")
    expect(page.get_by_role("link", name="Din bedømmelse af idéen")).to_have_attribute("href", f"/ideas/{idea}/review")
    expect(page.locator("main")).to_contain_text("Endnu ingen indsendte bedømmelser, som du må læse.")
    assert "Bents kommentar" not in page.content(), "blind until her own review is submitted"
    expect(_decide_form(page)).to_have_count(0)  # a reviewer decides nothing
    expect(page.locator("form[action$='/assign']")).to_have_count(0)


@pytest.mark.parametrize("lang", ["da", "en"])
def test_an_idea_revised_by_its_proposer_shows_the_earlier_version_its_round_judged(browser, signed_in, console,
                                                                                    lang):
    """Folded away under the description, opened by a click (or Enter): the earlier title, description
    with its lines and hostile text as text, amount, department and who replaced it when; axe-clean and
    reflowing at 1280 and 320 px, in the person's language."""
    page, path = signed_in(KNUD), f"ideas/{console.ids['revised']}"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(console.server.url + path)
    if page.locator("html").get_attribute("lang") != lang:
        page.locator(f"header button[lang='{lang}']").click()
    expect(page.locator("h1")).to_have_text("Grønne tage på skolerne")
    earlier = page.locator("details.earlier-version")
    expect(earlier).to_have_count(1)
    summary = earlier.locator("summary")
    expect(summary).to_have_text("Tidligere udgave (runde 1)" if lang == "da" else "Earlier version (round 1)")
    old_text = earlier.locator("dd.keep-lines")
    expect(old_text).to_be_hidden()  # folded until asked for
    summary.focus()
    page.keyboard.press("Enter")
    expect(old_text).to_be_visible()
    assert old_text.inner_text() == "Beskrivelse af Grønne tage.\nAnden linje " + HOSTILE  # as text, its lines kept
    facts = earlier.locator("dl").inner_text()
    assert "Grønne tage\n" in facts + "\n" and "Teknik og Miljø" in facts
    assert ("250.000 kr." if lang == "da" else "DKK 250,000") in facts.replace("\N{NO-BREAK SPACE}", " ")
    assert "pia" in facts.lower()  # who replaced it (the proposer)
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(console.server.url + path)
        page.locator("details.earlier-version summary").click()
        assert_no_axe_violations(page)
        assert_reflows(page, width)
    shown = console.show(console.ids["revised"])
    assert [(v["round"], v["title"]) for v in shown["earlier_versions"]] == [(1, "Grønne tage")]


@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_idea_page_passes_axe_at_1280_and_320(browser, signed_in, console, lang):
    """The funding gate's page (both review rounds' tables, the amount, asking reviewers, a conflict),
    in the person's language (switched in the header), wide and narrow."""
    page, path = signed_in(KNUD), f"ideas/{console.ids['funding']}"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(console.server.url + path)
    if page.locator("html").get_attribute("lang") != lang:
        page.locator(f"header button[lang='{lang}']").click()
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(console.server.url + path)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("#amount")).to_be_visible()
        expect(page.get_by_role("table")).to_have_count(2)
        assert_no_axe_violations(page)
        assert_reflows(page, width)


def test_a_gate_that_offers_no_go_says_why(browser, signed_in, console):
    """An idea with no review yet: Karin may kill, hold or recycle it at screening, and the form says why
    approving is not among them (the domain's screening rule, in her language)."""
    page = signed_in(KARIN)
    page.goto(console.server.url + f"ideas/{console.ids['unreviewed']}")
    decision = _decide_form(page).locator("fieldset").first
    expect(decision.get_by_role("radio")).to_have_count(3)
    expect(decision.get_by_label("Godkend")).to_have_count(0)
    expect(decision).to_have_accessible_description(
        re.compile(r"^Derfor kan du ikke godkende nu: Godkendelse \(go\) ved screeningen kræver mindst én indsendt "
                   "bedømmelse"))
    page.goto(console.server.url + f"ideas/{console.ids['funding']}")  # at funding, money left: go offered
    expect(_decide_form(page).get_by_label("Godkend")).to_have_count(1)
    expect(page.get_by_text("Derfor kan du ikke godkende nu")).to_have_count(0)
