"""Every template, in both languages, with hostile and Danish input.

The payloads are the real ones: a hostile idea is walked through the whole lifecycle (and a digest
run) by the service layer, and every outbox row it produced is rendered in Danish and in English.
The HTML part must show the title as text (escaped), the plain part must show it verbatim, and the
subject must be one line, also after a round trip through a real message's bytes.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select

from ideaflow.digests import Cadence
from ideaflow.signin import Keys, SignIn, SignInPolicy
from notifications.message import Letterhead, build_message
from notifications.render import NAMES, TEMPLATES, render, subject
from states.model import local_midnight
from states.vocabulary import Decision, Language, Outcome, Role
from storage.repository import OutgoingMail
from storage.tables import OutboxRow

from mailtest import ALL_SCORES, PUBLIC_URL, T0, Cast, parts

SCRIPT = "<script>alert(\"æøå & 'ÆØÅ'\")</script>"
RTL = "\u202eעברית العربية\u202c"
TITLE = f'{SCRIPT} Ærøskøbing "citat" {RTL} ' + "Velfærdsteknologi på plejecentrene " * 4
TITLE = TITLE[:200]  # the longest title the CLI accepts
OTHER_TITLE = "Småt & godt: <b>fed</b> idé — \u200fשלום"
REASON = "Første linje.\nAnden linje med <i>HTML</i> & \"citater\".\n\n\tTredje efter en tom linje."
HOSTILE_NAME = 'Åse "<b>Ø</b>" Ærlig'

TOKEN = "t" * 43
# The lifecycle's codes, which a Danish reader should never meet: "Bevillingsgaten", "go (godkendt)".
# (The data in these payloads holds none of them; Danish "stop" and "pilot" are Danish words.)
ENGLISH_CODES = re.compile(r"\b(go|kill|hold|recycle|scale|adjust|gate|funding|evaluation|reviewer)\b|gaten\b",
                           re.IGNORECASE)

KINDS = sorted(p.stem for p in (TEMPLATES / "da").glob("*.j2"))


@pytest.fixture(scope="module")
def payloads(tmp_path_factory) -> list[tuple[str, dict]]:
    """Every (kind, payload) a hostile idea's life, a hostile public submission and a digest run put in the
    outbox (a confirmation's link token, kept beside its payload, rendered with it)."""
    from ideaflow.bootstrap import bootstrap
    from ideaflow.config import Settings
    from ideaflow.intake import Intake, IntakeSettings
    from notifications.handlers import queue_mail
    from states.intake import Submission
    from storage.migrate import upgrade

    app = bootstrap(Settings(_env_file=None,
                             database_url=f"sqlite:///{tmp_path_factory.mktemp('templates') / 'ideaflow.db'}"))
    engine, svc = app.engine, app.services
    upgrade(engine)
    cast = Cast(svc, people=[*Cast.PEOPLE, ("hostile@kommune.dk", HOSTILE_NAME, Role.FOLLOWER, Language.DA)])
    c = Cast
    # Not delivered at once (no transport): the row keeps the link's token that the template needs.
    Intake(engine, IntakeSettings(), lambda: b"key", subscriber=queue_mail).submit(
        app.views.pool(c.pool).id, Submission(TITLE, REASON, HOSTILE_NAME, "hostile@example.dk", "citizen"),
        client="192.0.2.1", lang=Language.DA, now=T0)
    a = cast.submit(TITLE, c.proposer, T0)
    cast.submit(OTHER_TITLE, c.proposer_en, T0)  # stays at screening: the reviewers' digest lists it
    held = cast.submit(TITLE, c.proposer_en, T0)  # put on hold, resumed, withdrawn with a reason
    svc.decide(held, Decision.HOLD, c.coordinator, T0, reason=REASON)
    svc.resume(held, c.coordinator, T0)
    svc.withdraw(held, c.proposer_en, T0, REASON)
    deadline = T0 + timedelta(days=30)
    svc.sweep(deadline - timedelta(days=4))  # reminders
    svc.sweep(deadline + timedelta(minutes=1))  # escalations
    t = deadline + timedelta(hours=1)
    assert [p.email for p in svc.assign_reviewers(a, c.coordinator, t, (c.reviewer,))] == [c.reviewer]
    svc.review(a, c.reviewer, ALL_SCORES, t)
    svc.decide(a, Decision.GO, c.coordinator, t, reason=REASON)
    svc.review(a, c.reviewer, ALL_SCORES, t)
    svc.decide(a, Decision.RECYCLE, c.coordinator, t, reason=REASON)  # sent back at the funding gate
    svc.review(a, c.reviewer, ALL_SCORES, t)  # reviewed in the new round: told they may revise
    assert svc.revise(a, c.proposer, t, description=REASON, requested_dkk=1_600_000, departments=("<Ældre>",))
    svc.review(a, c.reviewer, ALL_SCORES, t)
    svc.decide(a, Decision.GO, c.coordinator, t, amount_dkk=1_500_000, reason=REASON)
    start = (t + timedelta(days=1)).date()
    svc.plan_pilot(a, start=start, end=start + timedelta(days=10), sites=("Gundsømagle", "<Viby & Ærø>"), now=t,
                   followers=(c.follower, "hostile@kommune.dk"), by=c.coordinator)
    svc.sweep(local_midnight(start) + timedelta(minutes=1))
    running = local_midnight(start) + timedelta(hours=1)
    # re-planned (a site and a measure more, one follower out), put on hold and resumed: the group hears each
    svc.plan_pilot(a, start=start, end=start + timedelta(days=10), sites=("Gundsømagle", "<Viby & Ærø>", "<Ærø>"),
                   now=running, followers=(c.follower,), measures=("<b>ventetid</b>",), by=c.coordinator)
    svc.decide(a, Decision.HOLD, c.coordinator, running, reason=REASON)
    svc.resume(a, c.coordinator, running)
    ended = local_midnight(start + timedelta(days=11)) + timedelta(minutes=1)
    svc.sweep(ended)
    # extended once its evaluation opened (the group and the proposer read so), then over again
    longer = start + timedelta(days=20)
    svc.plan_pilot(a, start=start, end=longer, sites=("Gundsømagle", "<Viby & Ærø>", "<Ærø>"), now=ended,
                   by=c.coordinator)
    ended = local_midnight(longer + timedelta(days=1)) + timedelta(minutes=1)
    svc.sweep(ended)
    svc.evaluate(a, c.coordinator, ALL_SCORES, Outcome.ADJUST, ended, "kommentar <b>")
    report = svc.queue_digests(ended + timedelta(days=7), Cadence())
    assert set(report.queued) == {"coordinator", "reviewer", "proposer", "follower"}, report
    signin = SignIn(engine, Keys(b"k" * 32), SignInPolicy(), "https://kommune.dk/ideaflow/", lambda ids, now: None)
    assert signin.request_link(c.proposer, "127.0.0.1", ended).mail_id is not None
    with engine.connect() as connection:
        rows = [(r.kind, {**r.payload, "secret": r.secret} if r.secret else r.payload)
                for r in connection.execute(select(OutboxRow).order_by(OutboxRow.id))]
    app.close()
    return rows


def titles_in(payload: dict) -> set[str]:
    found = {payload["title"]} if "title" in payload else set()
    for value in payload.values():
        if isinstance(value, list):
            found |= {item["title"] for item in value if isinstance(item, dict) and "title" in item}
    return found


def test_the_walk_produced_every_kind_and_every_digest_role(payloads):
    assert {kind for kind, _ in payloads} == set(KINDS)
    assert {p["role"] for kind, p in payloads if kind == "digest"} == {"coordinator", "reviewer", "proposer",
                                                                        "follower"}
    assert set(KINDS) == {p.stem for p in (TEMPLATES / "en").glob("*.j2")}


@pytest.mark.parametrize("lang", ["da", "en"])
def test_every_template_escapes_html_and_keeps_text_verbatim(payloads, lang):
    seen = set()
    for number, (kind, payload) in enumerate(payloads, start=1):
        rendered = render(kind, lang, payload, HOSTILE_NAME, "hostile@kommune.dk", PUBLIC_URL, TOKEN)
        seen.add(kind)
        context = f"{kind}/{lang} #{number}"
        # the subject is one non-empty line
        assert rendered.subject and "\n" not in rendered.subject and "\r" not in rendered.subject, context
        # no markup from the data reaches the HTML as markup
        for raw in ("<script>", "<b>", "<i>", "<Viby"):
            assert raw not in rendered.html, (context, raw)
        assert escape(HOSTILE_NAME) in rendered.html, context
        assert HOSTILE_NAME in rendered.text, context
        for title in titles_in(payload):
            assert str(escape(title)) in rendered.html, (context, title)
            assert title in rendered.text, (context, title)
        if kind in ("idea_received", "idea_submitted", "gate_decided", "pilot_started", "pilot_ended",
                    "evaluation_recorded", "deadline_reminder", "deadline_escalated", "review_requested",
                    "submission_confirm", "idea_withdrawn", "withdrawal_received", "idea_resumed", "idea_revised",
                    "follow_up_joined", "follow_up_left", "pilot_replanned", "pilot_status"):
            assert payload["title"] in rendered.subject, context
        if payload.get("reason"):
            assert REASON in rendered.text, context  # line breaks and tabs kept in the plain part
            assert str(escape(REASON.split("\n")[1])) in rendered.html, context
        if kind == "gate_decided" and payload["gate"] == "funding" and payload["decision"] == "go":
            amount = "1.500.000\u00a0kr." if lang == "da" else "DKK\u00a01,500,000"
            assert amount in rendered.text, context
            assert f'<span class="amount" style="white-space:nowrap">{amount}</span>' in rendered.html, context
        # a phone shows the HTML at its own width, not a desktop's shrunk
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in rendered.html, context
        if lang == "da":
            visible = re.sub(r"<[^>]*>", " ", rendered.html)  # what a reader sees of the HTML
            assert not ENGLISH_CODES.findall(f"{rendered.subject}\n{rendered.text}\n{visible}"), context
        # a real message built from it survives a round trip through bytes unchanged
        mail = OutgoingMail(number, f"key{number}", kind, "hostile@kommune.dk", HOSTILE_NAME, lang, payload,
                            datetime(2026, 11, 22, 8, 0, tzinfo=T0.tzinfo), 1, TOKEN)
        message = build_message(mail, Letterhead("Innovation <ideaflow@kommune.dk>", PUBLIC_URL))
        parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        assert parsed["Subject"] == rendered.subject, context
        assert parsed["To"].addresses[0].display_name == HOSTILE_NAME, context
        assert all(len(line) <= 998 for line in message.as_bytes().split(b"\n")), context
        text, html = parts(parsed)
        assert text == rendered.text and html.rstrip("\n") == rendered.html, context
    assert seen == set(KINDS)


@pytest.mark.parametrize("lang", ["da", "en"])
def test_a_messages_subject_is_made_again_from_its_payload_alone(payloads, lang):
    """A person's data export lists their mail by subject: the same as the mail had, without its links or
    recipient; a payload that no longer makes one (an older version's) gives what the kind of message is."""
    for kind, payload in payloads:
        assert subject(kind, lang, payload) == render(kind, lang, payload, HOSTILE_NAME, "hostile@kommune.dk",
                                                      PUBLIC_URL, TOKEN).subject, (kind, lang)
    assert set(NAMES[lang]["kind"]) == set(KINDS)
    assert subject("gate_decided", lang, {"decision": "go"}) == NAMES[lang]["kind"]["gate_decided"]
    assert subject("a_kind_long_gone", lang, {}) == "a_kind_long_gone"
    if lang == "da":
        assert not ENGLISH_CODES.findall(" ".join(NAMES["da"]["kind"].values()))


@pytest.mark.parametrize("lang", ["da", "en"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("digest", "signin_link")])  # no title in them
def test_a_title_with_line_breaks_still_gives_a_one_line_subject(kind, lang):
    """Titles are single-line at the CLI, but a payload from elsewhere must not split a header."""
    title = "Første\nanden\r\ntredje\u2028fjerde " + "ø" * 150
    payload = {"idea_id": 7, "title": title, "pool": "Puljen <&>", "stage": "screened", "proposer": "Åse",
               "gate": "funding", "deadline": "2026-11-22T10:00:00+00:00", "criteria": ["Effektivitet", "<Kvalitet>"],
               "decision": "recycle", "by": "Karin", "reason": "x\ny", "allocated_dkk": None, "lapsed": True,
               "start": "2026-11-01", "end": "2026-11-30", "sites": ["Viby"], "outcome": "stop",
               "path": "/submissions/confirm?token=", "secret": "abc", "expires_at": "2026-11-22T10:00:00+00:00",
               "changed": ["title", "requested_dkk"], "measures": ["ventetid"], "change": "hold",
               "changes": {"end": ["2026-11-30", "2026-12-07"], "sites_added": ["Viby"]}}
    rendered = render(kind, lang, payload, "Åse", "aase@example.dk", PUBLIC_URL)
    assert "\n" not in rendered.subject and "\r" not in rendered.subject and "\u2028" not in rendered.subject
    assert "Første anden tredje fjerde" in rendered.subject
    assert "&lt;Kvalitet&gt;" in rendered.html or kind != "review_requested"
    assert "22. november 2026" in rendered.text or "22 November 2026" in rendered.text or "deadline" not in kind


@pytest.mark.parametrize("lang", ["da", "en"])
def test_a_text_holding_the_mime_boundary_cannot_end_its_part(lang):
    """The boundary between the plain and the HTML part is fixed (a retried message is the same bytes), so a
    decision's reason may hold it on a line of its own; quoted-printable writes every "=" as "=3D", so it
    never stands alone in a part, and both parts come back whole."""
    from notifications.message import BOUNDARY

    reason = f"Før.\n--{BOUNDARY}\nMidt.\n--{BOUNDARY}--\nEfter."
    payload = {"idea_id": 7, "title": "Idé", "pool": "Puljen", "gate": "screening", "decision": "kill", "by": "Karin",
               "reason": reason, "allocated_dkk": None}
    mail = OutgoingMail(1, "key1", "gate_decided", "borger@example.dk", "Åse", lang, payload,
                        datetime(2026, 11, 22, 8, 0, tzinfo=T0.tzinfo), 1, None)
    message = build_message(mail, Letterhead("Innovation <ideaflow@kommune.dk>", PUBLIC_URL))
    rendered = render(mail.kind, lang, payload, "Åse", mail.recipient_email, PUBLIC_URL)
    assert f"\n--{BOUNDARY}\n" in rendered.text  # the reason's line stands alone in the text
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    text, html = parts(parsed)
    assert text == rendered.text and html.rstrip("\n") == rendered.html
    assert f"\n--{BOUNDARY}\n".encode() in message.as_bytes()  # the fixed boundary is the one in use


@pytest.mark.parametrize("lang", ["da", "en"])
def test_a_mail_says_an_outcome_as_the_pilots_page_says_it(lang):
    """"Resultat: skal justeres" in the mail, "resultat: skal justeres" on the page: one set of words (the mail's
    templates cannot read the catalogue, so this keeps them the same)."""
    from ideaflow import follower_words, i18n

    assert NAMES[lang]["outcome"] == {outcome: i18n.gettext(lang, words)
                                      for outcome, words in follower_words.PLAIN["outcome"].items()}
