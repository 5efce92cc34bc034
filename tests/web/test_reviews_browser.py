"""A reviewer's and a follow-up group's part of the day, in Chromium against one `ideaflow web` process.

One console and one database (seeded through the service layer) serve the whole module, and each
person signs in once, through the link in the mail the console delivered, keeping their browser
context. The record is read back the way a coordinator reads it, with `ideaflow show --json` (the
command once, then the view it prints, in this process).

What would fail without the feature: a draft that counted, the others' scores shown before one's own
review is submitted (or to another reviewer who has not submitted), a submission missing a score
that was saved or not marked field by field, a form that cannot be completed with the keyboard, an
idea of another pool, an own or conflicted idea or a decided gate that could be reviewed (or whose
refusal left no audit row), a follower who reaches another pilot or reads the proposer's name or
address, hostile text run as markup, and any axe-core violation at 1280 or 320 px in Danish or English.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import expect

from states.criteria import Criterion
from states.vocabulary import Decision, Role

from consoleweb import post_status, running_console, signed_in_people, tab_to
from signinweb import HOSTILE
from webtest import assert_no_axe_violations, assert_reflows

pytestmark = pytest.mark.slow

POOL, OTHER_POOL, BIG_POOL = "Tårnby innovationspulje", "Roskilde puljen", "Roskilde borgerideer"
CRITERIA = (
    Criterion("effekt", 2.0, description="Mere effektiv opgaveløsning"),
    Criterion("kvalitet", 1.0, description="Kvalitet efter en anerkendt faglig standard"),
    Criterion("lovlig", 1.0, must_meet=True, description="Overholder gældende regler"),
)
KARIN, BENT, RIKKE, SOEREN, SANNE = ("karin@taarnby.dk", "bent@taarnby.dk", "rikke@taarnby.dk",
                                     "soeren@taarnby.dk", "sanne@taarnby.dk")
OLE, FRIDA, FINN, FOLKE = "ole@roskilde.dk", "frida@byraad.dk", "finn@byraad.dk", "folke@byraad.dk"
PER = "per@roskilde.dk"  # the only reviewer of BIG_POOL, where 55 ideas wait
PIA, PIA_NAME = "pia.proposer@borger.dk", "Pia Proposersen"
RIKKES_COMMENT = "Rikkes begrundelse: godt gennemarbejdet"
BENTS_COMMENT = "Bents begrundelse " + HOSTILE
FULL = {"effekt": 4, "kvalitet": 3, "lovlig": 5}


def _seed(app) -> dict[str, int]:
    services = app.services
    now = datetime.now(UTC)
    services.create_pool(POOL, 2_000_000, 2026, now, CRITERIA)
    services.create_pool(OTHER_POOL, 1_000_000, 2026, now, CRITERIA)
    services.create_pool(BIG_POOL, 1_000_000, 2026, now, CRITERIA)
    for email, name, pool, role in ((KARIN, "Karin Koordinator", POOL, Role.COORDINATOR),
                                    (PER, "Per Mange", BIG_POOL, Role.REVIEWER),
                                    (BENT, "Bent Bedømmer", POOL, Role.REVIEWER),
                                    (RIKKE, "Rikke Reviewer", POOL, Role.REVIEWER),
                                    (SOEREN, "Søren Skeptisk", POOL, Role.REVIEWER),
                                    (SANNE, "Sanne Sagsbehandler", POOL, Role.REVIEWER),
                                    (OLE, "Ole Roskilde", OTHER_POOL, Role.REVIEWER)):
        services.add_person(email, name, Role.PROPOSER, now)
        services.grant_role(email, role, now, pool=pool)
    for email, name in ((FRIDA, "Frida Følger"), (FINN, "Finn Følger"), (FOLKE, "Folke Følger"),
                        (PIA, PIA_NAME)):
        services.add_person(email, name, Role.FOLLOWER, now)

    def submit(title: str, *, proposer: str = PIA, pool: str = POOL) -> int:
        return services.submit(title=title, description=f"Beskrivelse af {title}.\nAnden linje " + HOSTILE,
                               proposer=proposer, pool=pool, now=now, requested_dkk=250_000)

    ideas = {"hostile": submit(HOSTILE), "asked_other": submit("Kun Rikke er spurgt"),
             "own": submit("Bents egen idé", proposer=BENT), "conflicted": submit("Bent er inhabil"),
             "decided": submit("Allerede afgjort"), "other_pool": submit("Roskildes idé", pool=OTHER_POOL),
             "pilot": submit("Tværgående sagsbehandling"), "other_pilot": submit("Ungeindgangen"),
             "race": submit("Afgøres, mens Søren skriver")}
    for n in range(1, 56):
        submit(f"Borgeridé {n}", pool=BIG_POOL)
    services.review(ideas["hostile"], RIKKE, FULL, now, {"lovlig": True}, RIKKES_COMMENT)
    services.assign_reviewers(ideas["asked_other"], KARIN, now, (RIKKE,))
    services.declare_conflict(ideas["conflicted"], BENT, "Min svoger har foreslået den", now)
    services.review(ideas["decided"], RIKKE, FULL, now, {"lovlig": True})
    services.review(ideas["race"], RIKKE, FULL, now, {"lovlig": True})
    services.decide(ideas["decided"], Decision.KILL, KARIN, now, reason="Ligger uden for puljen")
    for key, follower in (("pilot", (FRIDA, FOLKE)), ("other_pilot", (FINN,))):
        services.review(ideas[key], RIKKE, FULL, now, {"lovlig": True})
        services.decide(ideas[key], Decision.GO, KARIN, now)
        services.decide(ideas[key], Decision.GO, KARIN, now)
        services.plan_pilot(ideas[key], start=date(2027, 1, 4), end=date(2027, 4, 30), now=now, by=KARIN,
                            sites=("Tårnby Rådhus", "Borgerservice"), followers=follower,
                            measures=("Sagsbehandlingstid i dage",))
    return ideas


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with running_console(tmp_path_factory.mktemp("reviews"), _seed) as console:
        yield console


@pytest.fixture(scope="module")
def signed_in(chromium, console):
    yield from signed_in_people(chromium, console)


def _mine(shown: dict, email: str) -> list[dict]:
    return [r for r in shown["reviews"] if r["reviewer"] == email]


def test_a_reviewers_day(browser, signed_in, console):
    idea = console.ids["hostile"]
    page = signed_in(BENT)
    page.get_by_role("navigation").get_by_role("link", name="Bedømmelser, der venter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bedømmelser, der venter")
    row = page.locator(f"#idea-{idea}")
    expect(row.get_by_role("link").first).to_have_text(HOSTILE)  # shown as text, not run
    expect(row).to_contain_text("1 af 4")  # all four reviewers are asked (nobody was named); Rikke is done
    expect(row).to_contain_text("Ikke begyndt")
    listed = {int(i.removeprefix("idea-")) for i in page.locator("tbody tr").evaluate_all("rs => rs.map(r => r.id)")}
    assert idea in listed and listed.isdisjoint({console.ids[k] for k in (
        "asked_other", "own", "conflicted", "decided", "other_pool", "pilot")}), listed

    row.get_by_role("link", name=re.compile("Ikke begyndt")).click()
    expect(page).to_have_url(re.compile(rf"/ideas/{idea}/review$"))
    main = page.locator("main")
    expect(main).to_contain_text("Du ser de andre bedømmeres scorer, når du har indsendt din egen bedømmelse.")
    assert "Rikkes begrundelse" not in page.content(), "blind until submitted"

    # An unfinished review counts for nothing.
    page.get_by_role("group", name="effekt (vægt 2)").get_by_label("3").check()
    page.get_by_role("button", name="Gem som ufærdig").click()
    expect(page.get_by_role("status")).to_contain_text("Din bedømmelse er gemt som ufærdig")
    shown = console.show_command(idea)
    assert [(r["version"], r["submitted"], r["counts"]) for r in _mine(shown, BENT)] == [(1, False, False)]
    assert {s["criterion"]: s["count"] for s in shown["criteria_summary"]} == {c.name: 1 for c in CRITERIA}
    assert not [h for h in shown["history"] if h["by"] == BENT]
    expect(page.get_by_role("group", name="effekt (vægt 2)").get_by_label("3")).to_be_checked()  # pre-filled

    # Submitting without every score and must-meet answer: 422, each missing field marked.
    assert post_status(page, page.get_by_role("button", name="Indsend bedømmelse").click) == 422
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("link")).to_have_text(["Vælg en score fra 1 til 5 for kvalitet.",
                                                      "Vælg en score fra 1 til 5 for lovlig.",
                                                      "Svar ja eller nej for lovlig."])
    for name in ("score-1", "score-2", "must-2"):
        expect(page.locator(f"input[name='{name}']").first).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name='score-0']").first).not_to_have_attribute("aria-invalid", "true")
    assert _mine(console.show(idea), BENT)[-1]["version"] == 1, "nothing saved"
    assert_no_axe_violations(page)

    # Completing and submitting it with the keyboard alone.
    tab_to(page, "score-1")
    page.keyboard.press("Space")  # kvalitet 1 …
    for _ in range(3):
        page.keyboard.press("ArrowDown")  # … moved to 4
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # lovlig 1 …
    page.keyboard.press("ArrowDown")  # … 2
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # lovlig is met: yes
    page.keyboard.press("Tab")
    page.keyboard.type(BENTS_COMMENT)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.value") == "submit"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/ideas/{idea}/review\?status=review_submitted$"))
    expect(page.get_by_role("status")).to_contain_text("Din bedømmelse er indsendt")
    mine = _mine(console.show(idea), BENT)
    assert [(r["version"], r["submitted"], r["counts"]) for r in mine] == [(1, False, False), (2, True, True)]
    assert mine[-1]["scores"] == {"effekt": 3, "kvalitet": 4, "lovlig": 2}
    assert mine[-1]["must_meet"] == {"lovlig": True} and mine[-1]["comment"] == BENTS_COMMENT

    # Now the others' scores show, and the spread of the reviews that count.
    others = page.locator(".other-review")
    expect(others).to_have_count(1)
    expect(others.get_by_role("heading")).to_have_text("Rikke Reviewer")  # by name, as the idea page says it
    expect(others).to_contain_text(RIKKES_COMMENT)
    expect(page.get_by_role("table")).to_contain_text("Gennemsnit")
    expect(page.get_by_label("Kommentar")).to_have_value(BENTS_COMMENT)  # hostile text stays text
    for width in (1280, 320):  # the others' reviews and the spread table, wide and narrow
        page.set_viewport_size({"width": width, "height": 800})
        assert_no_axe_violations(page)
        assert_reflows(page, width)
    page.set_viewport_size({"width": 1280, "height": 800})

    # Revising before the decision: a new version counts, every version is kept.
    page.get_by_role("group", name="effekt (vægt 2)").get_by_label("5").check()
    page.get_by_role("button", name="Indsend rettet bedømmelse").click()
    expect(page.get_by_role("status")).to_contain_text("Din bedømmelse er indsendt")
    shown = console.show(idea)
    assert [(r["version"], r["submitted"], r["counts"]) for r in _mine(shown, BENT)] == [
        (1, False, False), (2, True, False), (3, True, True)]
    assert _mine(shown, BENT)[-1]["scores"]["effekt"] == 5
    assert [h["action"] for h in shown["history"] if h["by"] == BENT] == ["submit_review", "revise_review"]

    # A draft saved after submitting does not withdraw the submitted review.
    page.get_by_role("group", name="effekt (vægt 2)").get_by_label("1").check()
    page.get_by_role("button", name="Gem som ufærdig").click()
    expect(page.locator("main")).to_contain_text("Din indsendte bedømmelse tæller, indtil du indsender dem.")
    expect(page.get_by_role("group", name="effekt (vægt 2)").get_by_label("1")).to_be_checked()
    assert [(r["version"], r["counts"]) for r in _mine(console.show(idea), BENT)][-2:] == [(3, True), (4, False)]

    page.goto(console.server.url + "inbox")
    expect(page.locator(f"#idea-{idea}")).to_contain_text("2 af 4")
    expect(page.locator(f"#idea-{idea}")).to_contain_text("Indsendt (du kan rette den)")

    # Another reviewer who has not submitted still reads nobody's scores.
    other = signed_in(SOEREN)
    other.goto(console.server.url + f"ideas/{idea}/review")
    expect(other.get_by_role("heading", level=1)).to_contain_text(HOSTILE)
    html = other.content()
    assert "Bents begrundelse" not in html and RIKKES_COMMENT not in html and "Gennemsnit" not in html
    expect(other.locator(".other-review")).to_have_count(0)
    assert not signed_in.dialogs, "hostile text ran as script"


def test_a_long_inbox_comes_fifty_ideas_a_page(browser, signed_in, console):
    page = signed_in(PER)
    page.goto(console.server.url + "inbox")
    main = page.locator("main")
    expect(main).to_contain_text("Idé 1–50 af 55")
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.locator("tbody tr").first).to_contain_text("Borgeridé 1")  # soonest deadline first
    pages = page.get_by_role("navigation", name="Sider")
    expect(pages).to_contain_text("Side 1 af 2")
    expect(pages.get_by_role("link", name="Forrige side")).to_have_count(0)
    pages.get_by_role("link", name="Næste side").click()
    expect(page).to_have_url(re.compile(r"/inbox\?page=2$"))
    expect(main).to_contain_text("Idé 51–55 af 55")
    expect(page.locator("tbody tr")).to_have_count(5)
    expect(page.locator("tbody tr").last).to_contain_text("Borgeridé 55")
    expect(pages).to_contain_text("Side 2 af 2")
    expect(pages.get_by_role("link", name="Næste side")).to_have_count(0)
    assert_no_axe_violations(page)
    page.goto(console.server.url + "inbox?page=%C2%B2")  # "²", not a page number: the first page
    expect(main).to_contain_text("Idé 1–50 af 55")


def test_refusals_are_pages_and_audit_rows(browser, signed_in, console):
    page, ideas, url = signed_in(BENT), console.ids, console.server.url
    before = len(console.refusals(BENT))
    for key, status, says in (  # said to him, not of him ("bent@… må ikke bedømme idé 7")
            ("own", 403, "Du har selv foreslået idéen, og ingen bedømmer en idé, de selv har foreslået."),
            ("conflicted", 403, "Du har erklæret dig inhabil i denne idé, så du hverken bedømmer eller afgør den."),
            ("decided", 409, "Idéen er ikke åben for bedømmelse nu: den er stoppet.")):
        response = page.goto(url + f"ideas/{ideas[key]}/review")
        assert response.status == status, key
        expect(page.get_by_role("heading", level=1)).to_have_text("Du kan ikke bedømme denne idé")
        expect(page.locator("main p").first).to_have_text(says)
        expect(page.get_by_text("Forsøget er registreret.", exact=False)).to_have_count(1 if status == 403 else 0)
        expect(page.get_by_role("radio")).to_have_count(0)
    assert_no_axe_violations(page)

    # Another pool's idea is not there at all for him, exactly like an idea that does not exist.
    response = page.goto(url + f"ideas/{ideas['other_pool']}/review")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Siden blev ikke fundet")
    assert "Roskildes idé" not in page.content()
    assert page.goto(url + "ideas/999999/review").status == 404
    # … also when the form is posted by hand, with a valid CSRF token of his session.
    token = page.locator("input[name='csrf_token']").first.get_attribute("value")
    posted = page.request.post(url + f"ideas/{ideas['other_pool']}/review",
                               form={"csrf_token": token, "score-0": "5", "save": "draft"})
    assert posted.status == 404
    assert not _mine(console.show(ideas["other_pool"]), BENT)
    # Bad input on his own pool's idea comes back as the form, 422, with the domain's words.
    for form, says in (({"score-0": "9", "save": "submit"}, "Vælg en score fra 1 til 5 for effekt."),
                       ({"comment": "", "save": "draft"}, "En kladde skal have mindst én score")):
        posted = page.request.post(url + f"ideas/{ideas['hostile']}/review", form={"csrf_token": token, **form})
        assert posted.status == 422 and says in posted.text(), form
    # A review sent after its gate was decided (the form open meanwhile): refused, and what he typed is
    # shown back so it is not lost.
    comment = "Min begrundelse <b>med</b>\nto linjer"
    posted = page.request.post(url + f"ideas/{ideas['decided']}/review",
                               form={"csrf_token": token, "score-0": "5", "comment": comment, "save": "submit"})
    assert posted.status == 409 and "Din bedømmelse, som ikke er gemt" in posted.text()
    assert "Min begrundelse &lt;b&gt;med&lt;/b&gt;\nto linjer" in posted.text()
    assert console.refusals(BENT)[before:] == [("review", ideas[k]) for k in (
        "own", "conflicted", "decided", "other_pool", "other_pool", "decided")]


def test_a_review_written_while_the_gate_is_decided_is_refused_not_counted_at_the_next(browser, signed_in,
                                                                                     console):
    idea, page = console.ids["race"], signed_in(SOEREN)
    page.goto(console.server.url + f"ideas/{idea}/review")
    for criterion in ("effekt (vægt 2)", "kvalitet (vægt 1)"):
        page.get_by_role("group", name=criterion).get_by_label("4").check()
    page.get_by_role("group", name="lovlig er et skal-krav. Er det opfyldt?").get_by_label("Ja").check()
    page.get_by_label("Kommentar").fill("Søren skrev til screeningen")
    console.services.decide(idea, Decision.GO, KARIN, datetime.now(UTC))  # Karin decides meanwhile
    assert post_status(page, lambda: page.get_by_role("button", name="Indsend bedømmelse").click()) == 409
    main = page.locator("main")
    expect(main).to_contain_text("Der blev truffet afgørelse om idéen ved screening, mens du skrev din bedømmelse")
    expect(main.locator("blockquote")).to_have_text("Søren skrev til screeningen")
    expect(main.locator("li")).to_have_text(["effekt: 4", "kvalitet: 4", "lovlig: –; opfyldt"])
    assert not _mine(console.show(idea), SOEREN), "nothing recorded at the funding gate"


def test_a_follower_sees_their_pilot_and_nothing_personal(browser, signed_in, console):
    page, ideas, url = signed_in(FRIDA), console.ids, console.server.url
    page.get_by_role("navigation").get_by_role("link", name="Piloter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("De piloter, du følger")
    expect(page.locator("main li[id^=idea-]")).to_have_count(1)
    page.get_by_role("link", name="Tværgående sagsbehandling").click()
    expect(page).to_have_url(url + f"pilots/{ideas['pilot']}")
    main = page.locator("main")
    for shown in ("Tårnby Rådhus", "Borgerservice", "Sagsbehandlingstid i dage", "4. januar 2027",
                  "30. april 2027", "bevilget, piloten planlægges", "Piloten blev planlagt",
                  "Idéen fik støtte fra puljen"):
        expect(main).to_contain_text(shown)
    expect(main).to_contain_text("Anden linje " + HOSTILE)  # the description's hostile text, as text
    html = page.content()
    for personal in (PIA, PIA_NAME, "Pia", KARIN, "Karin Koordinator", RIKKE):
        assert personal not in html, f"{personal!r} shown to a follower"

    before = len(console.refusals(FRIDA))
    for other in ("other_pilot", "hostile"):  # another group's pilot; an idea without a pilot
        assert page.goto(url + f"pilots/{ideas[other]}").status == 404
        assert "Ungeindgangen" not in page.content()
    assert not signed_in.dialogs, "hostile text ran as script"
    assert console.refusals(FRIDA)[before:] == [("pilot", ideas["other_pilot"]), ("pilot", ideas["hostile"])]


@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_pages_pass_axe_at_1280_and_320(browser, signed_in, console, lang):
    """Each page in Danish and in English (the person's choice, switched in the header), wide and narrow."""
    url, ideas = console.server.url, console.ids
    for email, paths in ((SANNE, ["inbox", f"ideas/{ideas['hostile']}/review"]),
                         (FOLKE, ["pilots", f"pilots/{ideas['pilot']}"])):
        page = signed_in(email)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(url + paths[0])
        if page.locator("html").get_attribute("lang") != lang:
            page.locator(f"header button[lang='{lang}']").click()
        for path in paths:
            for width in (1280, 320):
                page.set_viewport_size({"width": width, "height": 800})
                page.goto(url + path)
                expect(page.locator("html")).to_have_attribute("lang", lang)
                assert_no_axe_violations(page)
                assert_reflows(page, width)
