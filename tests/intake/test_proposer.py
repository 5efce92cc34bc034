"""The proposer's own record: their ideas in plain words without what is internal (reviewers, scores,
escalations), their decisions and reasons, the pilot; withdrawing; and the export of their data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ideaflow.intake import Intake
from ideaflow.privacy import PrivacySettings
from states.criteria import TAARNBY_CRITERIA
from states.errors import NotAllowed
from states.intake import Upload
from states.vocabulary import Decision, Language

from intake_helpers import COORDINATOR, PDF, POOL, REVIEWER, T0, later, submit, token_from

ME = "aase@example.dk"
SCORES = {c.name: 4 for c in TAARNBY_CRITERIA}


@pytest.fixture
def record(intake: Intake, services, pool_id, smtp) -> dict[str, int]:
    """Three ideas of one proposer: one funded with a pilot (after an escalated deadline), one killed, and
    one they withdrew; a fourth submission waits for confirmation."""
    ids = {}
    for key, title in (("funded", "Grønne skolegårde"), ("killed", "Gratis is"), ("withdrawn", "Cykelsti")):
        submit(intake, pool_id, title=title, attachments=(Upload("plan.pdf", PDF),) if key == "funded" else ())
        ids[key] = intake.confirm(token_from(smtp.handler.take()[0].message), later(1)).idea_id
    submit(intake, pool_id, title="Venter stadig", now=later(2))
    s = services
    s.sweep(T0 + timedelta(days=31))  # the screening deadlines pass: escalated (internal)
    t = T0 + timedelta(days=32)
    s.review(ids["funded"], REVIEWER, SCORES, t, comment="intern note fra bedømmeren")
    s.decide(ids["funded"], Decision.GO, COORDINATOR, t, reason="Passer til puljen")
    s.review(ids["funded"], REVIEWER, SCORES, t, comment="anden intern note")
    s.decide(ids["funded"], Decision.GO, COORDINATOR, t, amount_dkk=120_000, reason="Billigt og godt")
    s.plan_pilot(ids["funded"], start=t.date() + timedelta(days=10), end=t.date() + timedelta(days=100),
                 sites=("Gundsømagle Skole",), now=t, measures=("Trivsel",), by=COORDINATOR)
    s.decide(ids["killed"], Decision.KILL, COORDINATOR, t, reason="Ligger uden for puljens formål")
    s.withdraw(ids["withdrawn"], ME, t, "Jeg flytter fra kommunen")
    return ids


def test_my_ideas_in_plain_words_without_what_is_internal(intake, record):
    mine = {idea.id: idea for idea in intake.my_ideas(ME)}
    assert list(mine) == sorted(record.values(), reverse=True)  # newest first
    funded = mine[record["funded"]]
    assert (funded.stage, funded.stage_text, funded.may_withdraw) == (
        "funded", "Har fået støtte – piloten planlægges", True)
    assert [h.text for h in funded.history] == [
        "Idéen blev modtaget", "Idéen gik videre fra screeningen", "Idéen fik støtte fra puljen"]
    assert [(d.decision, d.gate, d.reason, d.amount_dkk) for d in funded.decisions] == [
        ("go", "screening", "Passer til puljen", None), ("go", "funding", "Billigt og godt", 120_000)]
    assert funded.pilot.sites == ["Gundsømagle Skole"] and funded.pilot.measures == ["Trivsel"]
    assert funded.allocated_dkk == 120_000 and funded.proposer_kind == "citizen"
    assert [a.filename for a in funded.attachments] == ["plan.pdf"]
    everything = json.dumps([idea.model_dump(mode="json") for idea in mine.values()], ensure_ascii=False)
    for internal in ("intern note", "bedoemmer@kommune.dk", "Bent", "escalat", "koordinator@kommune.dk",
                     "Karin", "effektivitet", "weighted", "score"):
        assert internal not in everything, internal
    killed = mine[record["killed"]]
    assert (killed.stage_text, killed.may_withdraw) == ("Ikke valgt", False)
    assert [(d.text, d.reason) for d in killed.decisions] == [("Ikke valgt", "Ligger uden for puljens formål")]
    withdrawn = mine[record["withdrawn"]]
    assert [(h.text, h.note) for h in withdrawn.history][-1] == ("Idéen blev trukket tilbage",
                                                                 "Jeg flytter fra kommunen")


def test_in_english(intake, record):
    funded = next(i for i in intake.my_ideas(ME, Language.EN) if i.id == record["funded"])
    assert funded.stage_text == "Funded – the pilot is being planned"
    assert [h.text for h in funded.history][-1] == "The idea was funded by the pool"


def test_the_proposer_withdraws_with_a_reason_and_nobody_else_may(intake, services, record):
    with pytest.raises(NotAllowed):
        services.withdraw(record["funded"], COORDINATOR, later(800), "nej")
    services.withdraw(record["funded"], ME, later(800), "Vi har fundet en anden løsning")
    funded = next(i for i in intake.my_ideas(ME) if i.id == record["funded"])
    assert (funded.stage, funded.may_withdraw) == ("withdrawn", False)
    assert funded.history[-1].note == "Vi har fundet en anden løsning"


def test_somebody_with_no_ideas_has_an_empty_page(intake, record):
    assert intake.my_ideas("ukendt@example.dk") == []
    assert intake.my_ideas(COORDINATOR) == []


def test_the_export_holds_everything_about_the_proposer(intake, record):
    exported = intake.export(ME, later(900))
    document = json.loads(json.dumps(exported, ensure_ascii=False))  # it is plain JSON
    assert document["email"] == ME and document["person"]["name"] == "Åse Ærlig"
    assert sorted(i["id"] for i in document["ideas"]) == sorted(record.values())
    [waiting] = document["submissions_waiting_for_confirmation"]
    assert (waiting["title"], waiting["pool"], waiting["name"], len(waiting["attachments"])) == (
        "Venter stadig", POOL, "Åse Ærlig", 1)
    kinds = [m["kind"] for m in document["mail"]]
    assert kinds.count("submission_confirm") == 4 and "idea_received" in kinds and "gate_decided" in kinds
    assert "intern note" not in json.dumps(document, ensure_ascii=False)


def test_the_export_explains_itself_in_the_readers_language(intake, record):
    """GDPR art. 15(1): besides a copy of the data, the purposes, categories, recipients, retention, rights
    (rectification, erasure, restriction, objection, complaint) and source; mail by what it was about; each
    file with what it is, that the municipality keeps it, and how to get a copy."""
    danish = intake.export(ME, later(900))
    about = danish["about_this_data"]
    assert about["this_file"].startswith("Alt, hvad kommunens idésystem (ideaflow) har om dig")
    sections = {s["key"]: s for s in about["sections"]}
    assert {"purpose", "data", "source", "recipients", "retention", "rights"} <= set(sections)
    for needle in ("rettet", "begrænsning", "indsigelse", "Sletning", "Datatilsynet"):
        assert needle in sections["rights"]["text"], needle
    assert sections["source"]["text"].startswith("Oplysningerne kommer fra dig")
    assert sections["controller"]["missing"] == "Kommunen har ikke oplyst sine kontaktoplysninger her."
    subjects = {m["kind"]: m["subject"] for m in danish["mail"]}
    assert subjects["submission_confirm"] == "Bekræft din idé: Venter stadig"  # the newest of the four
    assert "Vi har modtaget din idé: " in subjects["idea_received"]
    assert subjects["gate_decided"].startswith("Beslutning om ")
    assert all(m["subject"] for m in danish["mail"])
    assert sorted((f["filename"], f["type"], f["size"], f["idea_title"]) for f in danish["files"]) == [
        ("plan.pdf", "PDF", "1 kB", "Grønne skolegårde"), ("plan.pdf", "PDF", "1 kB", "Venter stadig")]
    funded = next(f for f in danish["files"] if f["idea_id"] == record["funded"])
    assert funded["media_type"] == "application/pdf" and funded["size_bytes"] == len(PDF)
    assert funded["held_by_the_municipality"].startswith("Kommunen opbevarer filen sammen med din idé")
    assert "spørg puljens koordinator (kommunen har ikke oplyst" in funded["held_by_the_municipality"]
    assert [f["idea_id"] for f in danish["files"] if f["idea_title"] == "Venter stadig"] == [None]

    english = intake.export(ME, later(900), Language.EN)
    assert english["about_this_data"]["title"] == "How we process your data"
    assert english["about_this_data"]["this_file"].startswith("Everything the municipality's idea system")
    assert {m["kind"]: m["subject"] for m in english["mail"]}["submission_confirm"] == \
        "Confirm your idea: Venter stadig"
    assert english["files"][0]["held_by_the_municipality"].startswith("The municipality keeps this file")
    assert json.loads(json.dumps(english, ensure_ascii=False)) == english  # plain JSON


def test_the_export_names_the_municipalitys_contact_for_a_copy_of_a_file(engine, intake, record):
    from intake_helpers import intake_for

    contact = "innovation@kommune.dk"
    told = intake_for(engine, privacy=PrivacySettings(controller="Tårnby Kommune", contact=contact,
                                                      dpo="dpo@kommune.dk")).export(ME, later(900))
    assert {f["held_by_the_municipality"] for f in told["files"]} == {
        "Kommunen opbevarer filen sammen med din idé; puljens koordinatorer og bedømmere kan åbne den. Vil du "
        f"have en kopi, så skriv til kommunen ({contact}) og spørg puljens koordinator."}
    sections = {s["key"]: s for s in told["about_this_data"]["sections"]}
    assert f"Kontakt: {contact}." in sections["controller"]["text"] and not sections["controller"]["missing"]
    assert sections["dpo"]["text"].endswith("dpo@kommune.dk.")


def test_forgetting_the_proposer_removes_their_waiting_submission(intake, services, record, snapshot):
    services.forget_person(ME, later(900))
    tables = snapshot()
    assert "Åse" not in repr(tables) and ME not in repr(tables)
    assert len(tables["submissions"]) == 3  # the confirmed ones, which hold no personal data
    assert intake.export(ME, later(900))["submissions_waiting_for_confirmation"] == []


def test_an_address_typed_in_other_letter_case_is_the_same_proposers_in_the_export_and_when_forgotten(
        intake, services, pool_id, record, snapshot):
    """One address is one proposer whatever its case: a submission waiting from "Aase@Example.DK" and its
    mail are in aase@example.dk's export, and go (the mail pseudonymised) when she is forgotten."""
    submit(intake, pool_id, title="Med store bogstaver", email="Aase@Example.DK", now=later(3))
    exported = intake.export(ME, later(900))
    assert sorted(w["title"] for w in exported["submissions_waiting_for_confirmation"]) == [
        "Med store bogstaver", "Venter stadig"]
    assert [m["subject"] for m in exported["mail"]].count("Bekræft din idé: Med store bogstaver") == 1
    services.forget_person("AASE@example.dk", later(900))
    tables = repr(snapshot()).lower()
    assert ME not in tables
    assert intake.export("Aase@Example.DK", later(900))["submissions_waiting_for_confirmation"] == []
