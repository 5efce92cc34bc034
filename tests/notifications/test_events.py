"""Every domain event mails the right people, in their language, as a proper multipart message.

One idea (A, proposed by an English-speaking citizen) goes through the whole lifecycle; a second
idea (B) runs a pilot alongside it with its own follower. After each step the outbox is flushed
to a real SMTP server and what arrived there is compared with who should have heard what.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import parseaddr, parsedate_to_datetime

from sqlalchemy import select

from states.criteria import TAARNBY_CRITERIA
from states.model import local_midnight
from states.vocabulary import Decision, Outcome, Role
from storage.tables import OutboxRow

from mailtest import ALL_SCORES, MAIL_FROM, PUBLIC_URL, T0, Cast, parts

SUBJECT = {  # how each kind's subject starts, per language
    "da": {"idea_received": "Vi har modtaget din idé", "idea_submitted": "Ny idé i", "review_requested": "",
           "gate_decided": "Beslutning om", "deadline_reminder": "Påmindelse: frist", "deadline_escalated":
           "Frist overskredet", "pilot_started": "Piloten er startet", "pilot_ended": "Piloten er slut",
           "evaluation_recorded": "Evaluering af", "idea_withdrawn": "Idé trukket tilbage:",
           "withdrawal_received": "Din idé er trukket tilbage:", "idea_resumed": "Idé genoptaget:",
           "idea_revised": "Idéen er revideret: ", "follow_up_joined": "Du er med i følgegruppen for piloten: ",
           "follow_up_left": "Du er ikke længere med i følgegruppen for piloten: ",
           "pilot_replanned": ("Planen for piloten er ændret: ", "Piloten er forlænget: "),
           "pilot_status": ("Piloten er ", "Den planlagte pilot er aflyst: ", "Idéen er trukket tilbage: ")},
    "en": {"idea_received": "We have received your idea", "idea_submitted": "New idea in", "review_requested": "",
           "gate_decided": "Decision on", "deadline_reminder": "Reminder: deadline", "deadline_escalated":
           "Deadline passed", "pilot_started": "Pilot started", "pilot_ended": "Pilot ended",
           "evaluation_recorded": "Evaluation of", "idea_withdrawn": "Idea withdrawn:",
           "withdrawal_received": "Your idea is withdrawn:", "idea_resumed": "Idea resumed:",
           "idea_revised": "Idea revised: ", "follow_up_joined": "You are in the follow-up group of the pilot: ",
           "follow_up_left": "You are no longer in the follow-up group of the pilot: ",
           "pilot_replanned": ("The pilot's plan has changed: ", "Pilot extended: "),
           "pilot_status": ("Pilot ", "Planned pilot cancelled: ", "Idea withdrawn: ")},
}
GREETING = {"da": "Kære ", "en": "Dear "}
FOLLOWERS = {Cast.follower, Cast.follower_en, Cast.other_follower}


def page(rcpt: str, kind: str, idea_id: int) -> str | None:
    """The console page a mail leads its reader to (the URL map in the brief): reviewers asked for a
    review straight to the form, proposers to their ideas, followers to the pilot's page, staff to the idea.
    One who left a follow-up group is led nowhere: the pilot's page is not theirs any more."""
    if kind == "follow_up_left":
        return None
    if rcpt in Cast.REVIEWERS and kind in ("review_requested", "deadline_reminder", "idea_revised"):
        return f"{PUBLIC_URL}ideas/{idea_id}/review"
    if rcpt in (Cast.proposer, Cast.proposer_en):
        return f"{PUBLIC_URL}my-ideas#idea-{idea_id}"
    if rcpt in FOLLOWERS:
        return f"{PUBLIC_URL}pilots/{idea_id}"
    return f"{PUBLIC_URL}ideas/{idea_id}"

TITLE_A = "Velfærdsteknologi på plejecentrene"
TITLE_B = "Madservice i Viby"


class Mailbox:
    """What the SMTP server received since the last look, checked message by message."""

    def __init__(self, smtp, flush, db) -> None:
        self.smtp, self.flush, self.db = smtp, flush, db

    def deliver(self, now: datetime) -> dict[tuple[str, str], list]:
        report = self.flush(now)
        assert report.ok and report.pending == 0, report
        arrived = self.smtp.handler.take()
        with self.db.connect() as connection:
            rows = {f"<{r.message_key}@kommune.dk>": r for r in connection.execute(select(OutboxRow))}
        got: dict[tuple[str, str], list] = {}
        for item in arrived:
            message = item.message
            row = rows[message["Message-ID"]]  # the Message-ID names the outbox row it came from
            assert row.status == "sent" and row.attempts == 1
            (rcpt,) = item.rcpt
            assert parseaddr(str(message["To"]))[1] == rcpt
            assert message["From"] == MAIL_FROM
            assert message["Auto-Submitted"] == "auto-generated"
            assert message["X-Auto-Response-Suppress"] == "All"
            assert message["List-Unsubscribe"] is None  # only the digest has one
            assert parsedate_to_datetime(message["Date"]) == row.created_at
            kind = message["X-Ideaflow-Kind"]
            assert kind == row.kind
            lang = Cast.LANG[rcpt]
            assert message["Subject"].startswith(SUBJECT[lang][kind]), (lang, message["Subject"])
            assert "\n" not in message["Subject"]
            text, html = parts(message)
            assert text.startswith(GREETING[lang]), text
            assert f'lang="{lang}"' in html and "<html" in html
            # the one link of the message, in both parts, to the reader's page
            link = page(rcpt, kind, row.idea_id)
            links = [link] if link else []
            assert re.findall(r"https?://\S+", text) == links, (rcpt, kind, text)
            assert re.findall(r'href="([^"]+)"', html) == [li.replace("&", "&amp;") for li in links], (rcpt, kind, html)
            got.setdefault((rcpt, kind), []).append(message)
        return got


def of_kind(got, kind):
    return {rcpt for rcpt, k in got if k == kind}


def about(messages, title):
    return all(title in m["Subject"] for m in messages)


def test_every_event_mails_the_people_concerned_in_their_language(svc, cast, smtp, flush, db):
    box = Mailbox(smtp, flush, db)
    c = Cast

    # -- submitted: a receipt to the (English) proposer, a notice to the coordinators, reviews asked for
    a = cast.submit(TITLE_A, c.proposer_en, T0)
    got = box.deliver(T0)
    assert set(got) == {(c.proposer_en, "idea_received"), (c.coordinator, "idea_submitted"),
                        (c.coordinator_en, "idea_submitted"), (c.reviewer, "review_requested"),
                        (c.reviewer_en, "review_requested")}
    assert got[(c.proposer_en, "idea_received")][0]["Subject"] == f"We have received your idea: {TITLE_A}"
    assert got[(c.coordinator, "idea_submitted")][0]["Subject"] == f"Ny idé i {c.pool}: {TITLE_A}"
    # the screening gate's review request lists every criterion and the deadline (T0 + 30 days, shown in
    # Copenhagen summer time), in each reviewer's language
    da_text, da_html = parts(got[(c.reviewer, "review_requested")][0])
    en_text, en_html = parts(got[(c.reviewer_en, "review_requested")][0])
    assert "Frist: 1. april 2026 kl. 11:00" in da_text and "1. april 2026 kl. 11:00" in da_html
    assert "Deadline: 1 April 2026 at 11:00" in en_text, en_text
    for criterion in TAARNBY_CRITERIA:
        assert criterion.name in da_text and f"<li>{criterion.name}</li>" in da_html
        assert criterion.name in en_text and f"<li>{criterion.name}</li>" in en_html
    assert got[(c.reviewer, "review_requested")][0]["Subject"] == f"Din bedømmelse ønskes: {TITLE_A}"
    assert got[(c.reviewer_en, "review_requested")][0]["Subject"] == f"Your review is requested: {TITLE_A}"
    assert "er klar til screeningen." in da_text and "Giv din bedømmelse" in da_html

    # -- reminder five days before the deadline: only the reviewer who has not reviewed yet
    deadline = T0 + timedelta(days=30)
    svc.review(a, c.reviewer, ALL_SCORES, T0 + timedelta(hours=1), comment="fin")
    assert box.deliver(T0 + timedelta(hours=1)) == {}
    reminder_at = deadline - timedelta(days=5) + timedelta(minutes=1)
    svc.sweep(reminder_at)
    got = box.deliver(reminder_at)
    assert set(got) == {(c.reviewer_en, "deadline_reminder")}
    assert "1 April 2026 at 11:00" in got[(c.reviewer_en, "deadline_reminder")][0]["Subject"]

    # -- the deadline passes: escalation to the coordinators, nobody else
    passed = deadline + timedelta(minutes=1)
    svc.sweep(passed)
    got = box.deliver(passed)
    assert set(got) == {(c.coordinator, "deadline_escalated"), (c.coordinator_en, "deadline_escalated")}

    # -- gate decided: proposer and the other coordinator (not the one who decided: they just did), with the
    # reason; the funding gate asks the reviewers
    t = passed + timedelta(hours=1)
    svc.decide(a, Decision.GO, c.coordinator_en, t, reason="Stærk idé.\nGå videre til bevilling.")
    got = box.deliver(t)
    assert set(got) == {(c.proposer_en, "gate_decided"), (c.coordinator, "gate_decided"),
                        (c.reviewer, "review_requested"), (c.reviewer_en, "review_requested")}
    text_en, html_en = parts(got[(c.proposer_en, "gate_decided")][0])
    assert "Reason: Stærk idé.\nGå videre til bevilling." in text_en
    assert f'Decision on idea {a} "{TITLE_A}" (screening): approved, taken by Ingrid Chief.' in text_en
    assert "The idea is now screened." in text_en
    text_da, _ = parts(got[(c.coordinator, "gate_decided")][0])
    assert "Begrundelse: Stærk idé.\nGå videre til bevilling." in text_da and "Ingrid Chief" in text_da
    assert "er klar til bevillingsbeslutningen." in parts(got[(c.reviewer, "review_requested")][0])[0]
    assert "Beslutning om idé" in text_da and ": godkendt, truffet af" in text_da

    # -- a second idea by another proposer: the first proposer hears nothing about it
    t += timedelta(minutes=5)
    b = cast.submit(TITLE_B, c.proposer, t)
    got = box.deliver(t)
    assert of_kind(got, "idea_received") == {c.proposer}
    assert all(rcpt != c.proposer_en for rcpt, _ in got)

    # -- both ideas funded (amounts in each reader's own format)
    t += timedelta(hours=1)
    svc.review(a, c.reviewer, ALL_SCORES, t)
    svc.decide(a, Decision.GO, c.coordinator_en, t, amount_dkk=1_500_000)
    got = box.deliver(t)
    assert "Amount allocated: DKK\u00a01,500,000" in parts(got[(c.proposer_en, "gate_decided")][0])[0]
    assert "Bevilget beløb: 1.500.000\u00a0kr." in parts(got[(c.coordinator, "gate_decided")][0])[0]
    assert got[(c.coordinator, "gate_decided")][0]["Subject"] == f"Beslutning om {TITLE_A}: bevilget"
    assert not of_kind(got, "review_requested")  # a funded idea has no gate open
    svc.review(b, c.reviewer, ALL_SCORES, t)
    svc.decide(b, Decision.GO, c.coordinator, t)
    svc.review(b, c.reviewer, ALL_SCORES, t)
    svc.decide(b, Decision.GO, c.coordinator, t)
    box.deliver(t)

    # -- pilots: A followed by two council members, B by a third
    start = (t + timedelta(days=2)).date()
    end = start + timedelta(days=30)
    svc.plan_pilot(a, start=start, end=end, sites=("Gundsømagle", "Viby"), now=t,
                   followers=(c.follower, c.follower_en), measures=("ventetid",), by=c.coordinator)
    svc.plan_pilot(b, start=start, end=end, sites=("Viby",), now=t, followers=(c.other_follower,),
                   by=c.coordinator)
    assert set(box.deliver(t)) == {(r, "follow_up_joined") for r in (c.follower, c.follower_en, c.other_follower)}
    started = local_midnight(start) + timedelta(minutes=1)
    svc.sweep(started)
    got = box.deliver(started)
    assert set(got) == {(c.proposer_en, "pilot_started"), (c.follower, "pilot_started"),
                        (c.follower_en, "pilot_started"), (c.proposer, "pilot_started"),
                        (c.other_follower, "pilot_started")}
    for rcpt in (c.proposer_en, c.follower, c.follower_en):
        assert about(got[(rcpt, "pilot_started")], TITLE_A) and len(got[(rcpt, "pilot_started")]) == 1
    for rcpt in (c.proposer, c.other_follower):  # a follower of the other pilot gets nothing about A
        assert about(got[(rcpt, "pilot_started")], TITLE_B) and len(got[(rcpt, "pilot_started")]) == 1
    assert "Gundsømagle, Viby" in parts(got[(c.follower, "pilot_started")][0])[0]

    # -- pilots end: followers and proposers; the evaluation gate goes to the coordinators
    ended = local_midnight(end) + timedelta(days=1, minutes=1)
    svc.sweep(ended)
    got = box.deliver(ended)
    assert of_kind(got, "pilot_ended") == {c.proposer_en, c.follower, c.follower_en, c.proposer, c.other_follower}
    assert about(got[(c.other_follower, "pilot_ended")], TITLE_B)
    assert about(got[(c.follower_en, "pilot_ended")], TITLE_A)
    # each is led to their own page and told which: the proposer to their idea, a follower to the pilot
    assert "Se din idé her: " in parts(got[(c.proposer, "pilot_ended")][0])[0]
    assert "See your idea here: " in parts(got[(c.proposer_en, "pilot_ended")][0])[0]
    assert "Se piloten her: " in parts(got[(c.follower, "pilot_ended")][0])[0]
    assert of_kind(got, "review_requested") == Cast.COORDINATORS
    assert len(got[(c.coordinator, "review_requested")]) == 2  # one per idea
    assert got[(c.coordinator_en, "review_requested")][0]["Subject"].startswith("Pilot to evaluate: ")
    assert not of_kind(got, "review_requested") & Cast.REVIEWERS

    # -- evaluation recorded: everyone concerned with A but the evaluator, nobody concerned only with B
    t = ended + timedelta(hours=2)
    svc.evaluate(a, c.coordinator, ALL_SCORES, Outcome.SCALE, t, "skal udbredes")
    got = box.deliver(t)
    assert set(got) == {(r, "evaluation_recorded") for r in
                        (c.proposer_en, c.follower, c.follower_en, c.coordinator_en)}
    assert got[(c.proposer_en, "evaluation_recorded")][0]["Subject"] == f"Evaluation of {TITLE_A}: to be scaled up"
    assert got[(c.follower, "evaluation_recorded")][0]["Subject"] == f"Evaluering af {TITLE_A}: skal udbredes"
    # the outcome in the words of the follower's page, which shows it, not the evaluation itself
    follower_text, follower_html = parts(got[(c.follower, "evaluation_recorded")][0])
    assert "Resultat: skal udbredes." in follower_text and "Se piloten her: " in follower_text
    assert "evalueringen" not in follower_text and "Se piloten</a>" in follower_html
    assert "See the evaluation here: " in parts(got[(c.coordinator_en, "evaluation_recorded")][0])[0]

    # every message arrived once, each with its own Message-ID
    assert set(smtp.handler.ids().values()) == {1}
    assert all(re.fullmatch(r"<[0-9a-f]{32}@kommune\.dk>", m) for m in smtp.handler.ids())


def test_dates_are_shown_in_copenhagen_time_whatever_the_season(svc, cast, smtp, flush, db):
    """A winter deadline is shown in CET, a summer one in CEST (never in UTC)."""
    box = Mailbox(smtp, flush, db)
    winter = datetime.fromisoformat("2026-10-27T22:30:00+00:00")  # + 30 days = 26 Nov 23:30 CET
    cast.submit("Vinteridé", Cast.proposer, winter)
    got = box.deliver(winter)
    text, _ = parts(got[(Cast.reviewer, "review_requested")][0])
    assert "26. november 2026 kl. 23:30" in text, text


def test_review_requests_for_a_round_that_ended_before_they_went_out_are_dropped_not_sent(svc, cast, smtp, flush,
                                                                                          db):
    """A screening gate asks both reviewers; before the next flush one idea is withdrawn and the other sent
    back for revision. Nobody is asked to review the withdrawn idea, and the recycled one's reviewers are
    asked once, for the new round: the old round's requests stay in the outbox as `dropped`, saying why."""
    c, box = Cast, Mailbox(smtp, flush, db)
    withdrawn, recycled = cast.submit(TITLE_A, c.proposer, T0), cast.submit(TITLE_B, c.proposer_en, T0)
    later = T0 + timedelta(minutes=5)
    svc.withdraw(withdrawn, c.proposer, later, "Vi fandt en anden løsning")
    svc.decide(recycled, Decision.RECYCLE, c.coordinator, later, reason="Uddyb budgettet")

    got = box.deliver(later)
    assert {(rcpt, len(messages)) for (rcpt, kind), messages in got.items() if kind == "review_requested"} == {
        (c.reviewer, 1), (c.reviewer_en, 1)}
    assert all(about(got[(rcpt, "review_requested")], TITLE_B) for rcpt in c.REVIEWERS)
    with db.connect() as connection:
        requests = connection.execute(select(OutboxRow.idea_id, OutboxRow.status, OutboxRow.last_error)
                                      .where(OutboxRow.kind == "review_requested").order_by(OutboxRow.id)).all()
    dropped = ("dropped", "not sent: the screening round ended before it went out")
    assert sorted(requests) == sorted([(withdrawn, *dropped)] * 2 + [(recycled, *dropped)] * 2
                                      + [(recycled, "sent", None)] * 2)
    # The proposers and coordinators still hear of both ideas.
    assert {(c.proposer, "idea_received"), (c.proposer_en, "gate_decided"),
            (c.coordinator_en, "gate_decided")} <= set(got)


def test_naming_a_reviewer_the_round_already_asked_does_not_ask_them_twice(svc, cast, smtp, flush, db, monkeypatch):
    """While nobody is named, every reviewer of the pool is asked: mailed when the gate opens. Naming one
    of them then asks only them, without a second request for the same round. A reviewer who joined the
    pool after the gate opened was never mailed: naming them does. A new round asks again."""
    c, box, late = Cast, Mailbox(smtp, flush, db), "sen@kommune.dk"
    monkeypatch.setitem(Cast.LANG, late, "da")
    monkeypatch.setattr(Cast, "REVIEWERS", Cast.REVIEWERS | {late})
    idea = cast.submit(TITLE_A, c.proposer, T0)
    assert of_kind(box.deliver(T0), "review_requested") == {c.reviewer, c.reviewer_en}
    svc.add_person(late, "Søren Sen", Role.REVIEWER, T0)

    t = T0 + timedelta(hours=1)
    svc.assign_reviewers(idea, c.coordinator, t, (c.reviewer, late))
    assert of_kind(box.deliver(t), "review_requested") == {late}
    t += timedelta(hours=1)
    svc.decide(idea, Decision.RECYCLE, c.coordinator, t, reason="Uddyb budgettet")  # round 2: nobody named
    assert of_kind(box.deliver(t), "review_requested") == {c.reviewer, c.reviewer_en, late}


def test_a_withdrawal_tells_the_coordinators_why_and_gives_the_proposer_a_receipt(svc, cast, smtp, flush, db):
    """Withdrawn by its proposer (`ideaflow withdraw` and "my ideas" call the same service): the coordinators
    hear it with the proposer's reason, the proposer gets a receipt, and the reviewers, whose requests had not gone out
    yet, are asked for nothing; the reminder that was due later is not sent either."""
    c, box = Cast, Mailbox(smtp, flush, db)
    idea = cast.submit(TITLE_A, c.proposer, T0)
    t = T0 + timedelta(minutes=5)
    svc.withdraw(idea, c.proposer, t, "Vi fandt en anden løsning")
    got = box.deliver(t)
    assert set(got) == {(c.proposer, "idea_received"), (c.proposer, "withdrawal_received"),
                        (c.coordinator, "idea_submitted"), (c.coordinator_en, "idea_submitted"),
                        (c.coordinator, "idea_withdrawn"), (c.coordinator_en, "idea_withdrawn")}
    da_text, da_html = parts(got[(c.coordinator, "idea_withdrawn")][0])
    assert got[(c.coordinator, "idea_withdrawn")][0]["Subject"] == f"Idé trukket tilbage: {TITLE_A}"
    assert f'Birgit Borger har trukket idé {idea} "{TITLE_A}" ({c.pool}) tilbage.' in da_text
    assert "Begrundelse: Vi fandt en anden løsning" in da_text and "Vi fandt en anden løsning" in da_html
    en_text, _ = parts(got[(c.coordinator_en, "idea_withdrawn")][0])
    assert "Birgit Borger has withdrawn idea" in en_text and "Reason: Vi fandt en anden løsning" in en_text
    receipt, _ = parts(got[(c.proposer, "withdrawal_received")][0])
    assert f'Du har trukket din idé "{TITLE_A}" (nummer {idea}) til {c.pool} tilbage.' in receipt
    assert "Din begrundelse: Vi fandt en anden løsning" in receipt
    with db.connect() as connection:
        requests = connection.execute(select(OutboxRow.status).where(OutboxRow.kind == "review_requested")).all()
    assert [status for status, in requests] == ["dropped", "dropped"]
    reminder_at = T0 + timedelta(days=26)
    svc.sweep(reminder_at)
    assert box.deliver(reminder_at) == {}


def test_a_withdrawal_without_a_reason_says_none_was_given(svc, cast, smtp, flush, db):
    c, box = Cast, Mailbox(smtp, flush, db)
    idea = cast.submit(TITLE_A, c.proposer_en, T0)
    box.deliver(T0)
    svc.withdraw(idea, c.proposer_en, T0 + timedelta(hours=1))
    got = box.deliver(T0 + timedelta(hours=1))
    assert set(got) == {(c.proposer_en, "withdrawal_received"), (c.coordinator, "idea_withdrawn"),
                        (c.coordinator_en, "idea_withdrawn")}
    assert "Der er ikke givet nogen begrundelse." in parts(got[(c.coordinator, "idea_withdrawn")][0])[0]
    assert "Your reason" not in parts(got[(c.proposer_en, "withdrawal_received")][0])[0]


def test_a_resume_tells_the_proposer_and_asks_only_the_reviewers_still_to_review(svc, cast, smtp, flush, db):
    """Held and resumed, an idea keeps its review round: a reviewer whose review counts is not asked again, one
    with only a draft is, and when a coordinator had named reviewers only those are asked. The proposer, told
    of the hold, is told of the resume, and so is the coordinator who did not resume it."""
    c, box = Cast, Mailbox(smtp, flush, db)
    both, one, named = (cast.submit(title, c.proposer, T0) for title in (TITLE_A, TITLE_B, "Lektiecafé"))
    box.deliver(T0)
    t = T0 + timedelta(hours=1)
    svc.review(both, c.reviewer, ALL_SCORES, t)
    svc.review(both, c.reviewer_en, ALL_SCORES, t)
    svc.review(one, c.reviewer, ALL_SCORES, t)
    svc.review(one, c.reviewer_en, {TAARNBY_CRITERIA[0].name: 3}, t, draft=True)
    svc.assign_reviewers(named, c.coordinator, t, (c.reviewer_en,))  # asked already: no second request
    for idea in (both, one, named):
        svc.decide(idea, Decision.HOLD, c.coordinator, t, reason="Afventer budgettet")
    got = box.deliver(t)
    assert set(got) == {(c.proposer, "gate_decided"), (c.coordinator_en, "gate_decided")}
    assert "sat i bero" in parts(got[(c.proposer, "gate_decided")][0])[0]

    t += timedelta(days=3)
    for idea in (both, one, named):
        svc.resume(idea, c.coordinator, t)
    got = box.deliver(t)
    assert set(got) == {(c.proposer, "idea_resumed"), (c.coordinator_en, "idea_resumed"),
                        (c.reviewer_en, "review_requested")}
    assert len(got[(c.proposer, "idea_resumed")]) == 3
    assert {m["Subject"] for m in got[(c.reviewer_en, "review_requested")]} == {
        f"Your review is requested: {TITLE_B}", "Your review is requested: Lektiecafé"}
    text, _ = parts(next(m for m in got[(c.proposer, "idea_resumed")] if TITLE_A in m["Subject"]))
    assert f'Idé {both} "{TITLE_A}" ({c.pool}) er ikke længere i bero: Karin Koordinator har genoptaget den.' in text
    assert "Idéen er nu indsendt." in text
    # the resumed round still counts its reviews: the screening may go on them
    svc.decide(both, Decision.GO, c.coordinator, t)


def test_whoever_acts_is_not_mailed_about_it_but_still_gets_what_is_meant_for_them(svc, cast, db):
    """A coordinator of the pool who proposes an idea gets the receipts of its submission and withdrawal, not
    the coordinators' notices of them; a coordinator who names themselves a reviewer is not asked by mail;
    the other coordinator hears of everything."""
    c = Cast
    svc.grant_role(c.coordinator_en, Role.REVIEWER, T0, pool=c.pool)
    idea = cast.submit(TITLE_A, c.coordinator, T0)
    t = T0 + timedelta(hours=1)
    svc.add_person("sen@kommune.dk", "Søren Sen", Role.REVIEWER, t)  # joined after the gate opened
    svc.grant_role(c.coordinator, Role.REVIEWER, t, pool=c.pool)
    before = outbox(db)
    assert [(c.coordinator, "idea_received"), (c.coordinator_en, "idea_submitted")] == [
        m for m in before if m[1] in ("idea_received", "idea_submitted")]
    svc.assign_reviewers(idea, c.coordinator_en, t, (c.coordinator_en, "sen@kommune.dk"))
    assert outbox(db)[len(before):] == [("sen@kommune.dk", "review_requested")]
    before = outbox(db)
    svc.withdraw(idea, c.coordinator, t, "Dublet")
    assert outbox(db)[len(before):] == [(c.coordinator, "withdrawal_received"), (c.coordinator_en, "idea_withdrawn")]


def outbox(db) -> list[tuple[str, str]]:
    """(recipient, kind) of every outbox row, oldest first."""
    from storage.tables import PersonRow

    with db.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(PersonRow.email, OutboxRow.kind).join(PersonRow, OutboxRow.recipient_id == PersonRow.id)
            .order_by(OutboxRow.id))]


def test_a_revised_idea_is_mailed_to_the_coordinators_and_the_reviewers_the_round_asks(svc, cast, smtp, flush, db):
    """The proposer revises an idea sent back to them: the pool's coordinators hear of it (the idea page),
    and so do the reviewers asked this round (the review form); one who already reviewed this round is
    told they may revise their review. The proposer, who did it, gets nothing."""
    c, box = Cast, Mailbox(smtp, flush, db)
    idea = cast.submit(TITLE_A, c.proposer, T0)
    box.deliver(T0)
    t = T0 + timedelta(hours=1)
    svc.decide(idea, Decision.RECYCLE, c.coordinator, t, reason="Uddyb budgettet")
    svc.review(idea, c.reviewer_en, ALL_SCORES, t)
    got = box.deliver(t)
    sent_back, sent_back_html = parts(got[(c.proposer, "gate_decided")][0])  # the proposer is told how to revise
    assert 'Du kan revidere idéen, indtil der er truffet en ny beslutning: åbn den, og vælg "Revidér idéen".' \
        in sent_back and "Du kan revidere idéen" in sent_back_html
    assert (c.coordinator, "gate_decided") not in got  # she decided it herself
    assert "You may revise" not in parts(got[(c.coordinator_en, "gate_decided")][0])[0]  # coordinators revise nothing

    t += timedelta(hours=1)
    assert svc.revise(idea, c.proposer, t, title=TITLE_B, requested_dkk=250_000) == ("title", "requested_dkk")
    got = box.deliver(t)
    assert set(got) == {(rcpt, "idea_revised") for rcpt in Cast.COORDINATORS | Cast.REVIEWERS}
    assert got[(c.coordinator, "idea_revised")][0]["Subject"] == f"Idéen er revideret: {TITLE_B}"
    coordinator, _ = parts(got[(c.coordinator, "idea_revised")][0])
    assert f'Birgit Borger har revideret idé {idea} "{TITLE_B}" ({c.pool}), som var sendt tilbage til revision.' \
        in coordinator
    assert "Ændret: titel, ansøgt beløb." in coordinator and "Fristen for screeningen er " in coordinator
    reviewed, reviewed_html = parts(got[(c.reviewer_en, "idea_revised")][0])
    assert "Changed: title, amount asked for." in reviewed
    assert "You have already submitted your review in this round. You may revise it until the decision" in reviewed
    assert "Revise your review</a>" in reviewed_html
    waiting, waiting_html = parts(got[(c.reviewer, "idea_revised")][0])
    assert "Giv din vurdering af den reviderede idé her" in waiting and "allerede" not in waiting
    assert "Giv din vurdering</a>" in waiting_html


def funded(svc, cast, title: str, proposer: str, t: datetime) -> int:
    idea = cast.submit(title, proposer, t)
    for _ in range(2):  # screening, then funding
        svc.review(idea, Cast.reviewer, ALL_SCORES, t)
        svc.decide(idea, Decision.GO, Cast.coordinator, t)
    return idea


# What a follower's mail must never hold: who proposed the idea, the amounts, a decision's reason, who decided.
NOT_FOR_FOLLOWERS = ("Birgit Borger", Cast.proposer, "Carl Citizen", Cast.proposer_en, "100.000", "100,000",
                     "kr.", "DKK", "INTERN", "Karin Koordinator", "Ingrid Chief", "Begrundelse", "Reason")


def follower_safe(message) -> tuple[str, str]:
    text, html = parts(message)
    for leak in NOT_FOR_FOLLOWERS:
        assert leak not in text and leak not in html and leak not in message["Subject"], (leak, text)
    return text, html


def test_a_follow_up_group_hears_when_it_is_formed_and_when_the_plan_or_the_group_changes(svc, cast, smtp, flush,
                                                                                            db):
    """Planned: each follower reads that they are now in the pilot's follow-up group, with its title, sites,
    dates and measures and a link to its page. Re-planned: who stays reads what changed, who joins the whole
    plan, who leaves only that they have left. Whoever planned it hears nothing, and nobody reads who proposed
    the idea or what it was granted."""
    c, box = Cast, Mailbox(smtp, flush, db)
    idea = funded(svc, cast, TITLE_A, c.proposer, T0)
    box.deliver(T0)
    t = T0 + timedelta(hours=1)
    start, end = datetime(2026, 4, 1).date(), datetime(2026, 6, 30).date()
    svc.plan_pilot(idea, start=start, end=end, sites=("Gundsømagle",), now=t, followers=(c.follower, c.follower_en),
                   measures=("ventetid", "tilfredshed"), by=c.coordinator)
    got = box.deliver(t)
    assert set(got) == {(c.follower, "follow_up_joined"), (c.follower_en, "follow_up_joined")}
    text, html = follower_safe(got[(c.follower, "follow_up_joined")][0])
    assert got[(c.follower, "follow_up_joined")][0]["Subject"] == f"Du er med i følgegruppen for piloten: {TITLE_A}"
    assert f'Du er nu med i den politiske følgegruppe for piloten for idé {idea} "{TITLE_A}" ({c.pool}).' in text
    assert "Piloten skal efter planen løbe fra 1. april 2026 til 30. juni 2026." in text
    assert "Teststeder: Gundsømagle." in text and "- ventetid\n- tilfredshed" in text
    assert "<li>ventetid</li><li>tilfredshed</li>" in html and "Se piloten</a>" in html
    en_text, _ = follower_safe(got[(c.follower_en, "follow_up_joined")][0])
    assert "You are now in the political follow-up group of the pilot" in en_text
    assert "The pilot is planned to run from 1 April 2026 to 30 June 2026." in en_text

    # re-planned by the other coordinator, who puts herself in the group too: a week longer, one more site, one
    # follower out and another in
    t += timedelta(days=1)
    svc.plan_pilot(idea, start=start, end=end + timedelta(days=7), sites=("Gundsømagle", "Viby"), now=t,
                   followers=(c.follower, c.other_follower, c.coordinator_en), measures=("ventetid", "tilfredshed"),
                   by=c.coordinator_en)
    got = box.deliver(t)
    assert set(got) == {(c.follower, "pilot_replanned"), (c.other_follower, "follow_up_joined"),
                        (c.follower_en, "follow_up_left"), (c.proposer, "pilot_replanned")}
    # the proposer reads that the dates moved, and nothing of the group or the sites
    mine, mine_html = parts(got[(c.proposer, "pilot_replanned")][0])
    assert "- Sidste dag er flyttet fra 30. juni 2026 til 7. juli 2026.\n\n" in mine, mine
    assert "Nye teststeder" not in mine and "følgegruppe" not in mine and "forlænget" not in mine
    assert "Se din idé her: " in mine and "Se piloten" not in mine and ">Se din idé</a>" in mine_html
    for name in ("Frede", "Fiona", "Ole Anden"):
        assert name not in mine and name not in mine_html
    text, html = follower_safe(got[(c.follower, "pilot_replanned")][0])
    assert "- Sidste dag er flyttet fra 30. juni 2026 til 7. juli 2026.\n- Nye teststeder: Viby.\n" in text
    assert "Første dag" not in text and "målt" not in text  # what did not change is not listed as changed
    assert "Piloten løber nu fra 1. april 2026 til 7. juli 2026. Teststeder: Gundsømagle, Viby." in text
    assert "<li>Nye teststeder: Viby.</li>" in html
    joined, _ = follower_safe(got[(c.other_follower, "follow_up_joined")][0])
    assert "til 7. juli 2026" in joined and "Gundsømagle, Viby" in joined
    left, left_html = follower_safe(got[(c.follower_en, "follow_up_left")][0])
    assert got[(c.follower_en, "follow_up_left")][0]["Subject"] == (
        f"You are no longer in the follow-up group of the pilot: {TITLE_A}")
    assert "You are no longer in the political follow-up group of the pilot of idea" in left
    for detail in ("Viby", "Gundsømagle", "July", "June", "ventetid", c.pool):  # no more news of it
        assert detail not in left and detail not in left_html

    # only the group changes: the newcomer alone hears; the others read of no change
    t += timedelta(days=1)
    svc.plan_pilot(idea, start=start, end=end + timedelta(days=7), sites=("Gundsømagle", "Viby"), now=t,
                   followers=(c.follower, c.other_follower, c.coordinator_en, c.follower_en),
                   measures=("ventetid", "tilfredshed"), by=c.coordinator)
    assert set(box.deliver(t)) == {(c.follower_en, "follow_up_joined")}
    # the rows of the follower's mail hold nothing personal about the proposer either (a data export shows them)
    with db.connect() as connection:
        payloads = connection.execute(select(OutboxRow.payload).where(OutboxRow.idea_id == idea, OutboxRow.kind.in_(
            ("follow_up_joined", "follow_up_left", "pilot_replanned")))).scalars().all()
    assert len(payloads) == 7 and sum("proposer" in p for p in payloads) == 1  # the proposer's own mail


def test_a_follow_up_group_hears_in_plain_words_of_a_hold_a_resume_a_stop_and_a_withdrawal(svc, cast, smtp, flush,
                                                                                             db):
    """A running pilot put on hold, resumed and killed, and a planned one withdrawn by its proposer: its
    followers read what it means for the pilot, never the reason given (it may be internal), nor who gave it."""
    c, box = Cast, Mailbox(smtp, flush, db)
    running, planned = funded(svc, cast, TITLE_A, c.proposer, T0), funded(svc, cast, TITLE_B, c.proposer_en, T0)
    start = datetime(2026, 3, 10).date()
    svc.plan_pilot(running, start=start, end=datetime(2026, 6, 30).date(), sites=("Gundsømagle",), now=T0,
                   followers=(c.follower, c.follower_en), by=c.coordinator)
    svc.plan_pilot(planned, start=datetime(2026, 9, 1).date(), end=datetime(2026, 12, 1).date(), sites=("Viby",),
                   now=T0, followers=(c.other_follower,), by=c.coordinator)
    t = local_midnight(start) + timedelta(minutes=1)
    svc.sweep(t)
    box.deliver(t)

    t += timedelta(days=1)
    svc.decide(running, Decision.HOLD, c.coordinator, t, reason="INTERN: budgettet er skåret")
    got = box.deliver(t)
    assert set(got) == {(c.proposer, "gate_decided"), (c.coordinator_en, "gate_decided"),
                        (c.follower, "pilot_status"), (c.follower_en, "pilot_status")}
    assert "INTERN: budgettet er skåret" in parts(got[(c.proposer, "gate_decided")][0])[0]  # theirs to read
    text, _ = follower_safe(got[(c.follower, "pilot_status")][0])
    assert got[(c.follower, "pilot_status")][0]["Subject"] == f"Piloten er sat i bero: {TITLE_A}"
    assert (f'Piloten for idé {running} "{TITLE_A}" ({c.pool}) er sat i bero: den holder pause, indtil den enten '
            "genoptages eller stoppes.") in text
    en_text, _ = follower_safe(got[(c.follower_en, "pilot_status")][0])
    assert got[(c.follower_en, "pilot_status")][0]["Subject"] == f"Pilot put on hold: {TITLE_A}"
    assert "has been put on hold: it is paused until it is either resumed or stopped." in en_text

    t += timedelta(days=1)
    svc.resume(running, c.coordinator_en, t)
    got = box.deliver(t)
    assert {k for k in got if k[1] == "pilot_status"} == {(c.follower, "pilot_status"), (c.follower_en, "pilot_status")}
    text, _ = follower_safe(got[(c.follower, "pilot_status")][0])
    assert "er ikke længere i bero: den fortsætter efter planen." in text
    assert "Piloten løber fra 10. marts 2026 til 30. juni 2026. Teststeder: Gundsømagle." in text

    t += timedelta(days=1)
    svc.decide(running, Decision.KILL, c.coordinator, t, reason="INTERN: politisk uenighed")
    got = box.deliver(t)
    text, _ = follower_safe(got[(c.follower, "pilot_status")][0])
    assert got[(c.follower, "pilot_status")][0]["Subject"] == f"Piloten er stoppet: {TITLE_A}"
    assert f'Det er besluttet ikke at gå videre med idé {running} "{TITLE_A}" ({c.pool}), så piloten er stoppet.' \
        in text
    assert not {k for k in got if k[0] == c.other_follower}  # the other pilot's group hears nothing of this one

    svc.withdraw(planned, c.proposer_en, t, "INTERN: jeg er flyttet")
    got = box.deliver(t)
    assert set(got) == {(c.proposer_en, "withdrawal_received"), (c.coordinator, "idea_withdrawn"),
                        (c.coordinator_en, "idea_withdrawn"), (c.other_follower, "pilot_status")}
    text, _ = follower_safe(got[(c.other_follower, "pilot_status")][0])
    # the idea was withdrawn, not the pilot, which had not begun: it will not take place
    assert got[(c.other_follower, "pilot_status")][0]["Subject"] == f"Idéen er trukket tilbage: {TITLE_B}"
    assert (f'Forslagsstilleren har trukket idé {planned} "{TITLE_B}" ({c.pool}) tilbage, så den planlagte pilot '
            "bliver ikke til noget.") in text and "stoppet" not in text
    # no follower row holds a reason, an amount or the proposer
    with db.connect() as connection:
        payloads = connection.execute(select(OutboxRow.payload).where(OutboxRow.kind == "pilot_status")).scalars().all()
    assert len(payloads) == 7
    assert not any({"reason", "proposer", "allocated_dkk", "by"} & set(p) for p in payloads)


def test_a_pilot_extended_after_its_evaluation_opened_is_told_as_extended_to_its_group_and_its_proposer(
        svc, cast, smtp, flush, db):
    """The sweep ended the pilot and told its group and proposer that its evaluation is open; then its last day
    was moved on: both read that the pilot has been extended to its new last day and the evaluation waits."""
    c, box = Cast, Mailbox(smtp, flush, db)
    idea = funded(svc, cast, TITLE_A, c.proposer_en, T0)
    start, end = datetime(2026, 3, 10).date(), datetime(2026, 4, 30).date()
    svc.plan_pilot(idea, start=start, end=end, sites=("Gundsømagle",), now=T0, followers=(c.follower,),
                   measures=("ventetid",), by=c.coordinator)
    svc.sweep(local_midnight(start) + timedelta(minutes=1))
    t = local_midnight(end + timedelta(days=1)) + timedelta(minutes=1)
    svc.sweep(t)
    box.deliver(t)
    t += timedelta(hours=2)
    svc.plan_pilot(idea, start=start, end=datetime(2026, 6, 20).date(), sites=("Gundsømagle",), now=t,
                   by=c.coordinator)  # the group and the measures kept
    got = box.deliver(t)
    assert set(got) == {(c.follower, "pilot_replanned"), (c.proposer_en, "pilot_replanned")}
    message = got[(c.follower, "pilot_replanned")][0]
    assert message["Subject"] == f"Piloten er forlænget: {TITLE_A}"
    text, html = follower_safe(message)
    assert text.startswith(f'Kære Frede Følger,\n\nPiloten for idé {idea} "{TITLE_A}" ({c.pool}) er forlænget til '
                           "20. juni 2026. Evalueringen, der var åbnet, venter nu, til piloten er slut."), text
    assert "- Sidste dag er flyttet fra 30. april 2026 til 20. juni 2026." in text
    assert "er forlænget til 20. juni 2026." in html
    mine = got[(c.proposer_en, "pilot_replanned")][0]
    assert mine["Subject"] == f"Pilot extended: {TITLE_A}"
    mine_text, _ = parts(mine)
    assert "has been extended to 20 June 2026. Its evaluation, which had opened, now waits until the pilot ends." \
        in mine_text
    assert "Frede" not in mine_text and "ventetid" not in mine_text


def test_a_pilot_that_never_began_is_told_as_planned_when_held_resumed_and_stopped(svc, cast, smtp, flush, db):
    """Put on hold, resumed and stopped before its first day: its group reads of a planned pilot, one that
    has not run (not "it is paused", "it runs from" or "it has been stopped")."""
    c, box = Cast, Mailbox(smtp, flush, db)
    idea = funded(svc, cast, TITLE_A, c.proposer, T0)
    svc.plan_pilot(idea, start=datetime(2026, 9, 1).date(), end=datetime(2026, 12, 1).date(), sites=("Viby",),
                   now=T0, followers=(c.follower, c.follower_en), by=c.coordinator)
    box.deliver(T0)
    t = T0 + timedelta(days=1)
    svc.decide(idea, Decision.HOLD, c.coordinator, t, reason="INTERN")
    got = box.deliver(t)
    text, _ = follower_safe(got[(c.follower, "pilot_status")][0])
    assert (f'Den planlagte pilot for idé {idea} "{TITLE_A}" ({c.pool}) er sat i bero: den begynder ikke, før idéen '
            "eventuelt genoptages.") in text and "holder pause" not in text
    en_text, _ = follower_safe(got[(c.follower_en, "pilot_status")][0])
    assert "The planned pilot of idea" in en_text and "it will not begin unless the idea is resumed" in en_text

    t += timedelta(days=1)
    svc.resume(idea, c.coordinator, t)
    got = box.deliver(t)
    text, html = follower_safe(got[(c.follower, "pilot_status")][0])
    assert "er ikke længere i bero: den kan begynde som planlagt." in text
    assert "Piloten skal efter planen løbe fra 1. september 2026 til 1. december 2026. Teststeder: Viby." in text
    assert "Piloten løber" not in text and "Piloten løber" not in html
    en_text, _ = follower_safe(got[(c.follower_en, "pilot_status")][0])
    assert "The pilot is planned to run from 1 September 2026 to 1 December 2026." in en_text
    assert "The pilot runs" not in en_text

    t += timedelta(days=1)
    svc.decide(idea, Decision.KILL, c.coordinator, t, reason="INTERN")
    got = box.deliver(t)
    message = got[(c.follower, "pilot_status")][0]
    assert message["Subject"] == f"Den planlagte pilot er aflyst: {TITLE_A}"
    text, _ = follower_safe(message)
    assert (f'Det er besluttet ikke at gå videre med idé {idea} "{TITLE_A}" ({c.pool}), så den planlagte pilot '
            "bliver ikke til noget.") in text and "stoppet" not in text
    en = got[(c.follower_en, "pilot_status")][0]
    assert en["Subject"] == f"Planned pilot cancelled: {TITLE_A}"
    assert "so its planned pilot will not take place." in follower_safe(en)[0]


def test_the_coordinators_read_that_a_grant_went_back_to_the_pool_and_nobody_else_does(svc, cast, smtp, flush, db):
    """Killed, or withdrawn, before its pilot began, an idea gives its grant back to the pool (history action
    `release`): the coordinators' mail of the kill or the withdrawal says so with the amount, in their language.
    The proposer's mail and the follow-up group's do not; a pilot stopped after it began spent its grant, and
    a hold gives nothing back, so their mail says nothing of it either."""
    c, box = Cast, Mailbox(smtp, flush, db)
    killed, withdrawn = funded(svc, cast, TITLE_A, c.proposer, T0), funded(svc, cast, TITLE_B, c.proposer_en, T0)
    ran = funded(svc, cast, "Robotstøvsugere", c.proposer, T0)
    svc.plan_pilot(killed, start=datetime(2026, 9, 1).date(), end=datetime(2026, 12, 1).date(), sites=("Viby",),
                   now=T0, followers=(c.follower,), by=c.coordinator)
    start = datetime(2026, 3, 10).date()
    svc.plan_pilot(ran, start=start, end=datetime(2026, 6, 30).date(), sites=("Gundsømagle",), now=T0,
                   followers=(c.follower_en,), by=c.coordinator)
    t = local_midnight(start) + timedelta(minutes=1)
    svc.sweep(t)  # `ran` begins
    box.deliver(t)
    released_da = (f"Bevillingen på 100.000\N{NO-BREAK SPACE}kr. er givet tilbage til {c.pool}, "
                   "fordi piloten ikke var begyndt.")
    released_en = f"The grant of DKK\N{NO-BREAK SPACE}100,000 has gone back to {c.pool}, as the pilot had not begun."

    t += timedelta(days=1)
    svc.decide(killed, Decision.HOLD, c.coordinator, t, reason="Afventer budget")
    got = box.deliver(t)
    assert "tilbage til" not in parts(got[(c.proposer, "gate_decided")][0])[0]
    assert "gone back" not in parts(got[(c.coordinator_en, "gate_decided")][0])[0]  # held: the grant is kept

    t += timedelta(days=1)
    svc.decide(killed, Decision.KILL, c.coordinator, t, reason="Uden for formålet")
    got = box.deliver(t)
    text, html = parts(got[(c.coordinator_en, "gate_decided")][0])
    assert released_en in text
    assert ("The grant of <span class=\"amount\" style=\"white-space:nowrap\">DKK\N{NO-BREAK SPACE}100,000</span> has "
            f"gone back to {c.pool}, as the pilot had not begun.") in html
    proposer_text, proposer_html = parts(got[(c.proposer, "gate_decided")][0])
    assert "tilbage til" not in proposer_text and "tilbage til" not in proposer_html
    assert "tilbage til" not in follower_safe(got[(c.follower, "pilot_status")][0])[0]

    svc.withdraw(withdrawn, c.proposer_en, t, "Flytter")
    got = box.deliver(t)
    assert released_da in parts(got[(c.coordinator, "idea_withdrawn")][0])[0]
    assert released_en in parts(got[(c.coordinator_en, "idea_withdrawn")][0])[0]
    receipt, receipt_html = parts(got[(c.proposer_en, "withdrawal_received")][0])
    assert "gone back" not in receipt and "gone back" not in receipt_html

    svc.decide(ran, Decision.KILL, c.coordinator, t, reason="Virker ikke")
    got = box.deliver(t)
    text, html = parts(got[(c.coordinator_en, "gate_decided")][0])
    assert "gone back" not in text and "gone back" not in html  # it had begun: its grant is spent
    with db.connect() as connection:
        payloads = connection.execute(select(OutboxRow.kind, OutboxRow.payload)).all()
    assert sorted(kind for kind, payload in payloads if "released_dkk" in payload) == [
        "gate_decided", "idea_withdrawn", "idea_withdrawn"]
