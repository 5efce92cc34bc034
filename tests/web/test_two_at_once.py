"""Two people at once in the console, over HTTP in-process (Starlette's test client) on a real database
(SQLite and PostgreSQL): a page loaded before somebody else acted is posted after it.

A review form names the gate and round it was shown at: a review posted after that gate was decided,
or after a recycle began a new round, is refused (409) with what was typed shown back, not counted at
the next gate or round; one posted after the reviewer's role was revoked says so (not 404). A
decision posted after another coordinator's says what they decided, and the form at a new gate does
not come back with the old choice made.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from test_public_pages import Site

from ideaflow.views import idea_view
from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Decision, Role
from storage.tables import PersonRow, ReviewRow

POOL = "Tårnby innovationspulje"
METTE, JENS = "mette@taarnby.dk", "jens@taarnby.dk"
LARS, ANNE = "lars@taarnby.dk", "anne@taarnby.dk"
BORGER, BYRAAD = "borger@example.dk", "byraad@roskilde.dk"
ALL_SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


@pytest.fixture
def site(engine, tmp_path):
    site = Site(engine, tmp_path)
    site.services.create_pool(POOL, 2_000_000, 2027, site.now)
    for email, name, role in [(METTE, "Mette Sørensen", Role.COORDINATOR), (JENS, "Jens Hansen", Role.COORDINATOR),
                              (LARS, "Lars Østergaard", Role.REVIEWER), (ANNE, "Anne Andersen", Role.REVIEWER),
                              (BYRAAD, "Byråd A", Role.FOLLOWER)]:
        site.services.add_person(email, name, role, site.now)
    yield site
    site.container.close()


def hidden(page) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"', page.text)}


def idea(site, requested_dkk: int = 300_000) -> int:
    return site.services.submit(title="Tværgående sagsbehandling", description="Første udgave.", proposer=BORGER,
                                pool=POOL, now=site.now, requested_dkk=requested_dkk)


def filled_review(page, comment: str = "Stærk på kvalitet", save: str = "submit") -> dict[str, str]:
    """The review form as a reviewer fills it in: every criterion scored 4, a comment."""
    assert page.status_code == 200, page.text
    return {**hidden(page), **{f"score-{i}": "4" for i in range(len(TAARNBY_CRITERIA))},
            "comment": comment, "save": save}


def main_text(page) -> str:
    main = re.search(r"<main.*?</main>", page.text, re.S).group(0)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


def reviews_by(site, idea_id: int, email: str) -> list[tuple[str, int, int, bool]]:
    """Every version of `email`'s reviews of the idea, drafts too, as stored."""
    with site.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(ReviewRow.gate, ReviewRow.round, ReviewRow.version, ReviewRow.submitted)
            .join(PersonRow, PersonRow.id == ReviewRow.reviewer_id)
            .where(ReviewRow.idea_id == idea_id, PersonRow.email == email).order_by(ReviewRow.id))]


# -- a review form open while the gate moves on -------------------------------------------------------------


def test_a_review_posted_after_its_gate_was_decided_is_refused_with_what_was_typed(site):
    idea_id = idea(site)
    lars = site.browser_of(LARS)
    draft = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Halvfærdig", save="draft")
    assert (draft["gate"], draft["round"]) == ("screening", "1")
    assert lars.post(f"/ideas/{idea_id}/review", data=draft, follow_redirects=False).status_code == 303
    form = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Min vurdering af screeningen")
    site.services.review(idea_id, ANNE, ALL_SCORES, site.now)
    site.services.decide(idea_id, Decision.GO, METTE, site.now)  # Mette decides while Lars's form is open

    for save in ("submit", "draft"):
        refused = lars.post(f"/ideas/{idea_id}/review", data={**form, "save": save}, follow_redirects=False)
        assert refused.status_code == 409
        said = main_text(refused)
        assert ("Der blev truffet afgørelse om idéen ved screening, mens du skrev din bedømmelse, og nu er den ved "
                "bevilling. Din bedømmelse blev ikke gemt.") in said
        assert "Din bedømmelse, som ikke er gemt" in said and "Min vurdering af screeningen" in said
        assert "effektivitet: 4" in said and "omtale: 4" in said
        # headed as what happened to the review (he may well review it at funding), and led to that form
        assert "<h1>Din bedømmelse blev ikke gemt</h1>" in refused.text
        assert f'href="/ideas/{idea_id}/review">Læs idéen igen, og bedøm den' in refused.text
    assert reviews_by(site, idea_id, LARS) == [("screening", 1, 1, False)], "nothing at the funding gate"

    # the funding gate's form is a fresh one: the screening's draft is not its draft
    funding = lars.get(f"/ideas/{idea_id}/review")
    assert (hidden(funding)["gate"], hidden(funding)["round"]) == ("funding", "1")
    assert "Halvfærdig" not in funding.text and "ufærdige" not in funding.text


def test_a_review_of_the_text_before_a_revision_is_refused_in_the_new_round(site):
    idea_id = idea(site)
    lars = site.browser_of(LARS)
    form = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Beløbet er for højt")
    site.services.decide(idea_id, Decision.RECYCLE, METTE, site.now, reason="Sænk beløbet")
    site.services.revise(idea_id, BORGER, site.now, description="Anden udgave.", requested_dkk=150_000)

    refused = lars.post(f"/ideas/{idea_id}/review", data=form, follow_redirects=False)
    assert refused.status_code == 409
    said = main_text(refused)
    assert "Idéen blev sendt tilbage til forslagsstilleren til revision, mens du skrev din bedømmelse: den er nu " \
           "i runde 2, og teksten kan være ændret. Din bedømmelse blev ikke gemt" in said
    assert "Beløbet er for højt" in said and "kvalitet: 4" in said
    assert reviews_by(site, idea_id, LARS) == []

    again = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Nu passer beløbet")
    assert again["round"] == "2" and "Anden udgave." in lars.get(f"/ideas/{idea_id}/review").text
    assert lars.post(f"/ideas/{idea_id}/review", data=again, follow_redirects=False).status_code == 303
    assert reviews_by(site, idea_id, LARS) == [("screening", 2, 1, True)]


def test_a_review_of_the_text_before_a_revision_in_the_same_round_is_refused(site):
    """Sent back, the idea may be reviewed in its new round before its proposer revises it: the form names
    which text it showed (`text_version`), so a review posted after the revision is refused (draft too), with
    what was typed shown back and the form of the new text linked, though the gate and round are the same."""
    idea_id = idea(site)
    site.services.decide(idea_id, Decision.RECYCLE, METTE, site.now, reason="Sænk beløbet")
    lars = site.browser_of(LARS)
    form = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Beløbet er stadig for højt")
    assert (form["gate"], form["round"], form["text_version"]) == ("screening", "2", "0")
    site.services.revise(idea_id, BORGER, site.now, description="Anden udgave.", requested_dkk=150_000)

    for save in ("submit", "draft"):
        refused = lars.post(f"/ideas/{idea_id}/review", data={**form, "save": save}, follow_redirects=False)
        assert refused.status_code == 409
        said = main_text(refused)
        assert ("Forslagsstilleren har ændret idéen, mens du skrev din bedømmelse. Din bedømmelse blev ikke gemt; "
                "læs idéen igen, før du bedømmer den.") in said
        assert "Beløbet er stadig for højt" in said and "kvalitet: 4" in said
        assert f'<a href="/ideas/{idea_id}/review">Læs idéen igen, og bedøm den</a>' in refused.text
    assert reviews_by(site, idea_id, LARS) == [], "nothing saved against the text he read"
    lars.post("/language", data={"csrf_token": form["csrf_token"], "lang": "en", "next": "/inbox"})
    refused = lars.post(f"/ideas/{idea_id}/review", data=form, follow_redirects=False)
    assert ("The proposer changed the idea while you were writing your review. Your review was not saved; read the "
            "idea again before you review it.") in main_text(refused)

    again = lars.get(f"/ideas/{idea_id}/review")
    assert "Anden udgave." in again.text
    fresh = filled_review(again, comment="Nu passer beløbet")
    assert (fresh["round"], fresh["text_version"]) == ("2", "1")
    assert lars.post(f"/ideas/{idea_id}/review", data=fresh, follow_redirects=False).status_code == 303
    assert reviews_by(site, idea_id, LARS) == [("screening", 2, 1, True)]


def test_a_reviewer_whose_role_is_revoked_while_the_form_is_open_is_told_so_with_what_they_typed(site):
    idea_id = idea(site)
    lars = site.browser_of(LARS)
    form = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Lang kommentar, skrevet med omhu")
    site.services.revoke_role(LARS, Role.REVIEWER, site.now)

    refused = lars.post(f"/ideas/{idea_id}/review", data=form, follow_redirects=False)
    assert refused.status_code == 403
    said = main_text(refused)
    assert f"Du er ikke længere bedømmer i puljen '{POOL}', så bedømmelsen blev ikke gemt." in said
    assert "Lang kommentar, skrevet med omhu" in said and "resultat: 4" in said
    opened = lars.get(f"/ideas/{idea_id}/review")
    assert opened.status_code == 403
    assert f"Du er ikke længere bedømmer i puljen '{POOL}', så du kan ikke bedømme dens idéer." in main_text(opened)
    assert reviews_by(site, idea_id, LARS) == []

    # somebody who never reviewed in the pool still finds no such idea (its existence is not given away)
    site.services.add_person("ole@roskilde.dk", "Ole", Role.PROPOSER, site.now)
    ole = site.browser_of("ole@roskilde.dk")
    assert ole.post(f"/ideas/{idea_id}/review", data={**form, "csrf_token": hidden(ole.get("/privacy"))
                                                      .get("csrf_token", "")}).status_code == 404


def test_a_follower_is_refused_the_review_form_in_the_second_person(site):
    idea_id = idea(site)
    site.services.review(idea_id, ANNE, ALL_SCORES, site.now)
    site.services.decide(idea_id, Decision.GO, METTE, site.now)
    site.services.decide(idea_id, Decision.GO, METTE, site.now)
    site.services.plan_pilot(idea_id, start=site.now.date().replace(year=site.now.year + 1),
                             end=site.now.date().replace(year=site.now.year + 2), sites=("Viby",), now=site.now,
                             by=METTE, followers=(BYRAAD,))
    refused = site.browser_of(BYRAAD).get(f"/ideas/{idea_id}/review")
    assert refused.status_code == 403
    said = main_text(refused)
    assert f"Du er ikke bedømmer i puljen '{POOL}': kun puljens bedømmere bedømmer dens idéer." in said
    assert BYRAAD not in said and "må ikke" not in said


# -- two coordinators deciding at once ----------------------------------------------------------------------


def decide_form(page, decision: str, reason: str = "") -> dict[str, str]:
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="/ideas/\d+/decide".*?</form>', page.text, re.S).group(0)
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"', action)}
    return {**fields, "decision": decision, "reason": reason}


def test_a_decision_after_another_coordinators_says_what_they_decided_and_chooses_nothing_at_the_new_gate(site):
    idea_id = idea(site)
    site.services.review(idea_id, ANNE, ALL_SCORES, site.now)
    mette, jens = site.browser_of(METTE), site.browser_of(JENS)
    mettes = decide_form(mette.get(f"/ideas/{idea_id}"), "go")
    jens_s = decide_form(jens.get(f"/ideas/{idea_id}"), "kill", "Passer ikke til puljens formål")
    assert mette.post(f"/ideas/{idea_id}/decide", data=mettes, follow_redirects=False).status_code == 303

    refused = jens.post(f"/ideas/{idea_id}/decide", data=jens_s, follow_redirects=False)
    assert refused.status_code == 409
    said = main_text(refused)
    assert ("Mette Sørensen godkendte idéen ved screeningen, mens du havde siden åben. Her er idéen, som den er nu."
            in said)
    assert "Træf afgørelse ved bevilling" in said
    action = re.search(r'<form method="post" action="/ideas/\d+/decide".*?</form>', refused.text, re.S).group(0)
    assert "checked" not in action, "no decision chosen at a gate he never judged"
    assert "Passer ikke til puljens formål" not in action
    assert "Det, du skrev, blev ikke registreret" in said and "Passer ikke til puljens formål" in said
    # sent as it comes back, the form decides nothing
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"', action)}
    assert jens.post(f"/ideas/{idea_id}/decide", data=fields, follow_redirects=False).status_code == 422
    assert idea_view(site.engine, idea_id, viewer=METTE).stage == "screened"


def test_a_recycle_meanwhile_is_named_too_though_the_gate_is_the_same(site):
    idea_id = idea(site)
    mette, jens = site.browser_of(METTE), site.browser_of(JENS)
    mettes = decide_form(mette.get(f"/ideas/{idea_id}"), "recycle", "Sænk beløbet")
    jens_s = decide_form(jens.get(f"/ideas/{idea_id}"), "kill", "For dyr")
    assert mette.post(f"/ideas/{idea_id}/decide", data=mettes, follow_redirects=False).status_code == 303
    refused = jens.post(f"/ideas/{idea_id}/decide", data=jens_s, follow_redirects=False)
    assert refused.status_code == 409
    said = main_text(refused)
    assert "Mette Sørensen sendte idéen tilbage til revision ved screeningen, mens du havde siden åben." in said
    action = re.search(r'<form method="post" action="/ideas/\d+/decide".*?</form>', refused.text, re.S).group(0)
    assert "checked" not in action and "For dyr" not in action


def test_a_decision_refused_because_a_review_came_in_says_so(site):
    idea_id = idea(site)
    site.services.review(idea_id, ANNE, ALL_SCORES, site.now)
    jens = site.browser_of(JENS)
    form = decide_form(jens.get(f"/ideas/{idea_id}"), "go")
    site.services.review(idea_id, LARS, ALL_SCORES, site.now)
    refused = jens.post(f"/ideas/{idea_id}/decide", data=form, follow_redirects=False)
    assert refused.status_code == 409
    said = main_text(refused)
    assert (f"Idé {idea_id} blev ændret, mens du havde den åben (en ny bedømmelse er kommet ind): se den igen, før "
            "du handler.") in said
    assert "den er nu" not in said


def test_a_reviewers_draft_saved_meanwhile_does_not_make_the_coordinators_page_stale(site):
    """Nobody but the reviewer reads their draft: saving one while a coordinator has the idea page open
    leaves the page's version as it is, and the decision goes through; a review submitted meanwhile does not
    (the coordinator decides on the reviews)."""
    idea_id = idea(site)
    site.services.review(idea_id, ANNE, ALL_SCORES, site.now)
    jens, lars = site.browser_of(JENS), site.browser_of(LARS)
    form = decide_form(jens.get(f"/ideas/{idea_id}"), "recycle", "Sænk beløbet")
    draft = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Halvfærdig", save="draft")
    assert lars.post(f"/ideas/{idea_id}/review", data=draft, follow_redirects=False).status_code == 303
    assert reviews_by(site, idea_id, LARS) == [("screening", 1, 1, False)]
    assert jens.post(f"/ideas/{idea_id}/decide", data=form, follow_redirects=False).status_code == 303
    assert idea_view(site.engine, idea_id, viewer=JENS).history[-1].reason == "Sænk beløbet"

    form = decide_form(jens.get(f"/ideas/{idea_id}"), "go")
    review = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Færdig")
    assert lars.post(f"/ideas/{idea_id}/review", data=review, follow_redirects=False).status_code == 303
    refused = jens.post(f"/ideas/{idea_id}/decide", data=form, follow_redirects=False)
    assert refused.status_code == 409 and "en ny bedømmelse er kommet ind" in main_text(refused)


def test_a_review_posted_after_the_idea_was_put_on_hold_says_so_and_leads_nowhere_to_review(site):
    """A hold decides no gate: the page says where the idea is, not that its screening was decided, and
    offers no form to review, since none is open."""
    idea_id = idea(site)
    lars = site.browser_of(LARS)
    form = filled_review(lars.get(f"/ideas/{idea_id}/review"), comment="Skrevet før pausen")
    site.services.decide(idea_id, Decision.HOLD, METTE, site.now, reason="Afventer budget")

    refused = lars.post(f"/ideas/{idea_id}/review", data=form, follow_redirects=False)
    assert refused.status_code == 409
    said = main_text(refused)
    assert "Idéen er ikke åben for bedømmelse nu: den er i bero." in said and "afgjort" not in said
    assert "<h1>Din bedømmelse blev ikke gemt</h1>" in refused.text and "Skrevet før pausen" in said
    assert "Læs idéen igen" not in said
    shown = lars.get(f"/ideas/{idea_id}/review")  # opened anew, not posted: nothing of his to lose
    assert shown.status_code == 409 and "<h1>Du kan ikke bedømme denne idé</h1>" in shown.text
