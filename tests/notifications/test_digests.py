"""Weekly digests: run a few minutes late one week and early the next, never skip, never repeat.

The weeks straddle the switch to summer time (29 March 2026), so a slot computed in UTC instead of
Copenhagen wall time would be an hour off. Runs go through the CLI (`ideaflow digest --now`); the
digests are read back from the outbox table and, once, as delivered mail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from states.model import COPENHAGEN
from states.vocabulary import Decision, Language
from storage.tables import HistoryRow, OutboxRow, PersonRow

from mailtest import ALL_SCORES, PUBLIC_URL, Cast, parts


def cph(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=COPENHAGEN)


def digests(db) -> dict[int, dict[str, dict]]:
    """{digest outbox id: {recipient email: payload}} per row, grouped below by run."""
    with db.connect() as connection:
        return {row.id: (row.email, row.payload) for row in connection.execute(
            select(OutboxRow.id, PersonRow.email, OutboxRow.payload)
            .join(PersonRow, OutboxRow.recipient_id == PersonRow.id).where(OutboxRow.kind == "digest"))}


def new_digests(db, seen: set[int]) -> dict[str, dict]:
    found = digests(db)
    fresh = {email: payload for mail_id, (email, payload) in found.items() if mail_id not in seen}
    assert len(fresh) == len(set(found) - seen), "one digest per recipient and run"
    seen |= set(found)
    return fresh


def history(db) -> list[tuple[int, str, str]]:
    with db.connect() as connection:
        return [(r.idea_id, r.action, r.at.isoformat()) for r in connection.execute(
            select(HistoryRow).order_by(HistoryRow.id))]


def moves(payload: dict) -> list[tuple[int, str, str]]:
    return [(m["idea_id"], m["action"], m["at"]) for m in payload["moved"]]


def pending(payload: dict) -> set[int]:
    return {p["idea_id"] for p in payload["pending"]}


def test_digests_at_0705_and_0701_cover_every_event_exactly_once(svc, db, ideaflow, smtp, flush):
    c = Cast
    cast = Cast(svc, now=cph("2026-03-16T10:00"))
    seen: set[int] = set()

    def digest(now: str) -> str:
        result = ideaflow("digest", "--now", now)
        assert result.returncode == 0 and result.stderr == "", result
        return result.stdout

    # -- the week before the first run, and a few minutes before it
    p1 = cast.submit("Velfærdsteknologi", c.proposer, cph("2026-03-17T09:00"))
    p2 = cast.submit("Cykelsti", c.proposer_en, cph("2026-03-18T09:00"))
    svc.review(p1, c.reviewer, ALL_SCORES, cph("2026-03-19T09:00"))
    svc.review(p2, c.reviewer, ALL_SCORES, cph("2026-03-19T09:05"))
    svc.decide(p1, Decision.GO, c.coordinator, cph("2026-03-20T09:00"))
    svc.decide(p2, Decision.GO, c.coordinator, cph("2026-03-20T09:10"))  # p2's last change
    p3 = cast.submit("Madservice", c.proposer, cph("2026-03-23T07:03"))  # after the 07:00 slot, before the run
    svc.review(p3, c.reviewer, ALL_SCORES, cph("2026-03-23T07:04"))

    # -- run 1: Monday 07:05 (winter time, explicit offset)
    assert "queued" in digest("2026-03-23T07:05:00+01:00")
    week1 = new_digests(db, seen)
    assert set(week1) == Cast.COORDINATORS | Cast.REVIEWERS | {c.proposer, c.proposer_en}
    # nobody with nothing to say: the followers follow no pilot
    assert not {c.follower, c.follower_en, c.other_follower} & set(week1)

    # -- the week between, including right after run 1 and between the next slot and the next run
    svc.decide(p3, Decision.HOLD, c.coordinator, cph("2026-03-23T07:06"), reason="afventer budget")
    svc.review(p1, c.reviewer, ALL_SCORES, cph("2026-03-25T09:00"))
    svc.decide(p1, Decision.GO, c.coordinator, cph("2026-03-26T09:00"), amount_dkk=250_000)
    p4 = cast.submit("Lektiecafé", c.proposer, cph("2026-03-30T07:00:30"))  # summer time now

    # -- run 2: Monday 07:01 (summer time, wall clock without an offset)
    digest("2026-03-30T07:01:00")
    week2 = new_digests(db, seen)
    # -- run 3, a minute later: nothing is due, nothing is queued
    assert "no digests were due" in digest("2026-03-30T07:02:00")
    assert new_digests(db, seen) == {}

    # together the two coordinator digests cover every history row exactly once, in order
    covered = history(db)
    assert len(covered) == 12  # 4 submitted, 4 reviews submitted (who, not the scores), 4 decisions
    for coordinator in Cast.COORDINATORS:
        both = moves(week1[coordinator]) + moves(week2[coordinator])
        assert both == covered, (both, covered)
        assert week1[coordinator]["moved_total"] + week2[coordinator]["moved_total"] == len(covered)
    assert week1[c.coordinator]["new_ideas"] == 3 and week2[c.coordinator]["new_ideas"] == 1
    assert moves(week1[c.coordinator])[-1][0] == p3  # the 07:03 submission made it into the 07:05 digest
    assert moves(week2[c.coordinator])[-1][0] == p4  # the 07:00:30 submission into the 07:01 one
    assert week2[c.coordinator]["budgets"] == [{"pool": c.pool, "budget_dkk": 5_000_000,
                                                "allocated_dkk": 250_000, "left_dkk": 4_750_000}]
    assert week2[c.coordinator]["stage_counts"]["funded"] == 1
    assert week2[c.coordinator]["stage_counts"]["on_hold"] == 1

    # proposers: only their own ideas, only when something changed
    assert {m[0] for m in moves(week1[c.proposer])} == {p1, p3}
    assert {m[0] for m in moves(week2[c.proposer])} == {p1, p3, p4}
    # (what their "my ideas" shows of it: not the reviews)
    theirs = [h for h in covered if h[1] != "submit_review"]
    assert moves(week1[c.proposer]) + moves(week2[c.proposer]) == [h for h in theirs if h[0] in (p1, p3, p4)]
    assert moves(week1[c.proposer_en]) == [h for h in theirs if h[0] == p2]
    assert c.proposer_en not in week2  # nothing happened to their idea: no digest

    # reviewers: their pending reviews, with deadlines
    assert pending(week1[c.reviewer]) == {p1, p2}  # both at the funding gate now; p3 reviewed already
    assert pending(week1[c.reviewer_en]) == {p1, p2, p3}
    assert all(p["at"] for p in week1[c.reviewer_en]["pending"])
    assert pending(week2[c.reviewer]) == {p2, p4}  # p2 at funding now, p1 funded, p3 on hold
    assert pending(week2[c.reviewer_en]) == {p2, p4}

    # each digest states its period: week 2 starts where week 1 ended
    for person in week2:
        if person in week1:
            assert week2[person]["period_from"] == week1[person]["period_to"]

    # the digests are delivered as multipart mail in each reader's language
    report = flush(cph("2026-03-30T07:03"))
    assert report.ok and report.pending == 0, report
    delivered = {r.rcpt[0]: r.message for r in smtp.handler.received  # week 2's digests name p4
                 if r.message["X-Ideaflow-Kind"] == "digest" and "Lektiecafé" in parts(r.message)[0]}
    assert set(delivered) == set(week2)
    da_text, da_html = parts(delivered[c.coordinator])
    en_text, _ = parts(delivered[c.coordinator_en])
    assert delivered[c.coordinator]["Subject"] == "Ugens overblik fra ideaflow"
    assert delivered[c.coordinator_en]["Subject"] == "Your weekly ideaflow digest"
    assert "Lektiecafé" in da_text and "Lektiecafé" in da_html and "Lektiecafé" in en_text
    assert "tilbage 4.750.000\u00a0kr." in da_text and "left DKK\u00a04,750,000" in en_text
    assert delivered[c.reviewer]["Subject"] == "Ugens overblik fra ideaflow: 2 idéer venter på din bedømmelse"
    # each item links to its idea, on the page its reader may open; the digest to the preferences
    assert f'<a href="{PUBLIC_URL}ideas/{p4}">#{p4} Lektiecafé' in da_html
    assert f"{PUBLIC_URL}ideas/{p4}/review" in parts(delivered[c.reviewer])[0]
    assert f'<a href="{PUBLIC_URL}my-ideas#idea-{p4}">#{p4} Lektiecafé' in parts(delivered[c.proposer])[1]
    assert f"Dine indstillinger: {PUBLIC_URL}preferences\n" in da_text

    # -- after run 2: the next week's digest picks up exactly what came after it
    svc.withdraw(p4, c.proposer, cph("2026-03-30T07:01:30"), "fandt en anden løsning")
    digest("2026-04-06T07:00:00")  # exactly on the slot
    week3 = new_digests(db, seen)
    everything = history(db)
    for coordinator in Cast.COORDINATORS:
        assert moves(week1[coordinator]) + moves(week2[coordinator]) + moves(week3[coordinator]) == everything
    assert moves(week3[c.proposer]) == [everything[-1]]
    assert set(week3) == Cast.COORDINATORS | Cast.REVIEWERS | {c.proposer}


def test_long_digests_list_the_latest_and_say_how_many_more(svc, db, flush, smtp):
    """A digest is a summary: its lists stop at 30 and say how many are left out, so its size (and the
    time to build it) does not grow with a busy proposer's portfolio or a long review queue."""
    from ideaflow.digests import LIST_LIMIT, Cadence

    cast = Cast(svc, now=cph("2026-03-01T09:00"))
    submitted = cph("2026-03-03T10:00")
    ideas = [cast.submit(f"Idé {n}", Cast.proposer, submitted) for n in range(LIST_LIMIT + 5)]
    svc.review(ideas[0], Cast.reviewer, ALL_SCORES, submitted)
    svc.decide(ideas[0], Decision.HOLD, Cast.coordinator, submitted)
    monday = cph("2026-03-09T07:05")
    svc.queue_digests(monday, Cadence())
    by_email = {email: payload for email, payload in digests(db).values()}

    proposer = by_email[Cast.proposer]
    assert proposer["ideas_total"] == LIST_LIMIT + 5
    # every idea submitted, and the first one put on hold (its review is not the proposer's to see)
    assert proposer["moved_total"] == LIST_LIMIT + 6
    assert [m["idea_id"] for m in proposer["moved"]] == [*ideas[6:], ideas[0]]  # the latest 30, oldest first
    assert [i["idea_id"] for i in proposer["ideas"]] == ideas[5:]
    reviewer = by_email[Cast.reviewer]
    assert reviewer["pending_count"] == LIST_LIMIT + 4 and len(reviewer["pending"]) == LIST_LIMIT
    assert ideas[0] not in pending(reviewer)
    assert by_email[Cast.reviewer_en]["pending_count"] == LIST_LIMIT + 4  # not the one on hold

    flush(monday)
    mails = {r.rcpt[0]: parts(r.message) for r in smtp.handler.received if r.message["X-Ideaflow-Kind"] == "digest"}
    text, html = mails[Cast.proposer]
    assert "… og 6 flere" in text and "… og 6 flere" in html


def test_a_proposers_digest_shows_what_their_my_ideas_page_shows_in_its_words(svc, db, app, flush, smtp):
    """Reviewers named and reviewing, an escalation, a pilot planned: the staff's business. The proposer's
    digest tells them what "my ideas" tells them of the same history, line for line and word for word (in
    their language), and nothing of the rest; a follower's digest what their pilot page shows."""
    from ideaflow.digests import Cadence

    c = Cast
    cast = Cast(svc, now=cph("2026-03-01T09:00"))
    t = cph("2026-03-02T10:00")
    piloted = cast.submit("Madservice i Viby", c.proposer, t)
    cast.submit("Robotplæneklippere", c.proposer, t)  # nobody reviews it: escalated when its deadline passes
    english = cast.submit("Lektiecafé", c.proposer_en, t)
    for idea in (piloted, english):
        svc.assign_reviewers(idea, c.coordinator, t, (c.reviewer, c.reviewer_en))
        for gate in ("screening", "funding"):
            for reviewer in c.REVIEWERS:
                svc.review(idea, reviewer, ALL_SCORES, t)
            svc.decide(idea, Decision.GO, c.coordinator, t, reason=f"{gate}: Bent Bedømmer anbefaler den")
    svc.plan_pilot(piloted, start=date(2026, 6, 1), end=date(2026, 8, 31), sites=("Viby",), now=t,
                   followers=(c.follower,), by=c.coordinator)
    svc.sweep(t + timedelta(days=30, minutes=1))  # the unreviewed idea's screening deadline: escalated
    monday = cph("2026-04-06T07:05")
    svc.queue_digests(monday, Cadence())
    by_email = {email: payload for email, payload in digests(db).values()}
    assert ("escalate" in {m["action"] for m in by_email[c.coordinator]["moved"]}
            and "submit_review" in {m["action"] for m in by_email[c.coordinator]["moved"]})  # the staff's, as before

    for proposer, lang in ((c.proposer, Language.DA), (c.proposer_en, Language.EN)):
        page = app.intake.my_ideas(proposer, lang)
        shown = {idea.id: [line.text for line in idea.history] for idea in page}
        payload = by_email[proposer]
        told = {idea_id: [m["text"][lang.value] for m in payload["moved"] if m["idea_id"] == idea_id]
                for idea_id in shown}
        assert told == shown
        assert payload["moved_total"] == len(payload["moved"]) == sum(map(len, shown.values()))
        assert {i["idea_id"]: i["stage_text"][lang.value] for i in payload["ideas"]} == {
            idea.id: idea.stage_text for idea in page}
    assert [m["action"] for m in by_email[c.proposer]["moved"]] == ["submit", "submit", "go", "go"]  # escalated: no

    follower = by_email[c.follower]
    pilot_page = app.pilots.pilot(piloted, c.follower, monday)
    assert [(m["action"], m["at"]) for m in follower["moved"]] == [
        (h.action, h.at.isoformat()) for h in pilot_page.history]
    assert follower["moved_total"] == len(pilot_page.history) == 4  # submitted, screened, funded, planned

    flush(monday)
    mails = {r.rcpt[0]: parts(r.message) for r in smtp.handler.received if r.message["X-Ideaflow-Kind"] == "digest"}
    text, html = mails[c.proposer]
    for plain in ("Idéen blev modtaget", "Idéen gik videre fra screeningen", "Idéen fik støtte fra puljen",
                  "Modtaget – venter på screening", "Har fået støtte – piloten planlægges"):
        assert plain in text and plain in html, plain
    for staff_words in ("frist overskredet", "bedømmelse", "Bent Bedømmer", "Rita Reviewer", "bedømmer spurgt",
                        "godkendt", "indsendt →", "pilot planlagt"):
        assert staff_words not in text.lower() and staff_words not in html.lower(), staff_words
    text_en, _ = mails[c.proposer_en]
    assert "The idea was funded by the pool" in text_en and "review" not in text_en
    follower_text, follower_html = mails[c.follower]
    assert "bedømmelse" not in follower_text and "bedømmer spurgt" not in follower_text
    # the follower reads their pilot page's words (`ideaflow.follower_words`), in each language, not the staff's
    assert [m["text"]["da"] for m in follower["moved"]] == [
        "Idéen blev indsendt", "Idéen gik videre fra screeningen", "Idéen fik støtte fra puljen",
        "Piloten blev planlagt"]
    assert follower["moved"][2]["text"]["en"] == "The idea was funded"
    assert [p["stage_text"] for p in follower["pilots"]] == [
        {"da": "bevilget, piloten planlægges", "en": "funded, pilot being planned"}]
    for plain in ("Idéen fik støtte fra puljen", "Piloten blev planlagt", "bevilget, piloten planlægges"):
        assert plain in follower_text and plain in follower_html, plain
    for staff_words in ("godkendt", "screenet →", "→ bevilget", "pilot planlagt", "Bent Bedømmer", "anbefaler"):
        assert staff_words not in follower_text and staff_words not in follower_html, staff_words
    assert f"{PUBLIC_URL}pilots/{piloted}\n" in follower_text  # the pilot's page, not the list
    assert f'<a href="{PUBLIC_URL}pilots/{piloted}">' in follower_html
