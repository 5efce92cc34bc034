"""A public submission: stored as pending, its confirmation mail delivered at once, the idea registered
only by the confirmation (once, however often and however concurrently it is confirmed), and deleted
unconfirmed when its time runs out. On SQLite and PostgreSQL (the `engine` fixture).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ideaflow.intake import UnknownLink
from states.intake import InvalidSubmission, Upload
from states.vocabulary import Language
from storage.tables import AttachmentRow, HistoryRow, IdeaRow, OutboxRow, PersonRow, SubmissionRow

from intake_helpers import COORDINATOR, PDF, PNG, T0, form, later, submit, token_from


def count(engine, table, *where) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table).where(*where))


def test_a_submission_waits_for_its_confirmation_and_its_mail_goes_out_at_once(engine, intake, pool_id, smtp,
                                                                               snapshot):
    receipt = submit(intake, pool_id)
    assert receipt.mail_sent and receipt.email == "aase@example.dk" and receipt.expires_at == later(72)
    [mail] = smtp.handler.take()
    assert mail.rcpt == ("aase@example.dk",)
    assert mail.message["Subject"] == "Bekræft din idé: Grønne skolegårde"
    assert mail.message["To"].addresses[0].display_name == "Åse Ærlig"
    token = token_from(mail.message)
    # nothing registered yet: no idea, no person, no notice to the coordinators
    assert count(engine, IdeaRow) == 0 and count(engine, PersonRow, PersonRow.email == "aase@example.dk") == 0
    assert count(engine, OutboxRow, OutboxRow.kind == "idea_submitted") == 0
    # only a keyed hash of the token is stored, and the mail row forgot the token once it was sent
    assert token not in repr(snapshot())
    assert intake.pending(token, later(1)).title == "Grønne skolegårde"  # the GET page spends nothing
    assert count(engine, IdeaRow) == 0

    confirmation = intake.confirm(token, later(1))
    assert confirmation.newly_registered
    idea = services_view(engine, confirmation.idea_id)
    assert (idea["title"], idea["stage"], idea["proposer"], idea["departments"], idea["requested_dkk"]) == (
        "Grønne skolegårde", "submitted", "aase@example.dk", ["Børn og unge"], 150_000)
    assert idea["description"] == "Plant træer i skolegårdene.\nBørnene hjælper."
    assert [(h["from"], h["to"], h["by"]) for h in idea["history"]] == [(None, "submitted", "aase@example.dk")]
    notices = {(kind, email) for kind, email in rows(engine, select(OutboxRow.kind, PersonRow.email).join(
        PersonRow, OutboxRow.recipient_id == PersonRow.id).where(OutboxRow.idea_id == confirmation.idea_id))}
    assert ("idea_submitted", COORDINATOR) in notices and ("idea_received", "aase@example.dk") in notices
    with engine.connect() as connection:
        person = connection.execute(select(PersonRow.name, PersonRow.lang)
                                    .where(PersonRow.email == "aase@example.dk")).one()
        kept = connection.execute(select(SubmissionRow)).one()
    assert tuple(person) == ("Åse Ærlig", "da")
    # the submission keeps only its link to the idea: the form's copy went into the idea
    assert (kept.idea_id, kept.title, kept.description, kept.name, kept.email) == (
        confirmation.idea_id, None, None, None, None)
    assert count(engine, AttachmentRow, AttachmentRow.idea_id == confirmation.idea_id) == 1


def test_confirming_again_finds_the_idea_the_first_confirmation_registered(intake, pool_id, smtp, snapshot):
    submit(intake, pool_id)
    token = token_from(smtp.handler.take()[0].message)
    first = intake.confirm(token, later(1))
    before = snapshot()
    again = intake.confirm(token, later(2))
    assert (again.idea_id, again.newly_registered) == (first.idea_id, False)
    assert snapshot() == before
    assert intake.pending(token, later(3)).idea_id == first.idea_id
    # still found after the link's own time: the idea exists, so the page can say so
    assert intake.confirm(token, later(100)).idea_id == first.idea_id


def test_a_known_proposer_keeps_their_name_and_language(engine, intake, pool_id, smtp, services):
    from states.vocabulary import Role

    services.add_person("aase@example.dk", "Åse Ærlig-Hansen", Role.PROPOSER, T0, Language.EN)
    submit(intake, pool_id, name="Åse", lang=Language.DA)
    confirmation = intake.confirm(token_from(smtp.handler.take()[0].message), later(1))
    with engine.connect() as connection:
        assert tuple(connection.execute(select(PersonRow.name, PersonRow.lang)).all()[-1]) == ("Åse Ærlig-Hansen", "en")
    assert services_view(engine, confirmation.idea_id)["proposer"] == "aase@example.dk"


def test_a_proposer_who_writes_their_address_in_other_letters_is_one_person(engine, intake, pool_id, smtp, services):
    """Registered as aase@example.dk, she writes Aase@Example.DK next time: her ideas stay together ("my
    ideas", the GDPR export), and the record keeps the address she was first registered with."""
    submit(intake, pool_id, title="Første idé")
    first = intake.confirm(token_from(smtp.handler.take()[0].message), later(1))
    submit(intake, pool_id, title="Anden idé", email="Aase@Example.DK")
    second = intake.confirm(token_from(smtp.handler.take()[0].message), later(2))
    with engine.connect() as connection:
        assert connection.scalars(select(PersonRow.email).where(func.lower(PersonRow.email) == "aase@example.dk")
                                  ).all() == ["aase@example.dk"]
    assert [idea.title for idea in intake.my_ideas("aase@example.dk")] == ["Anden idé", "Første idé"]
    assert {services_view(engine, i)["proposer"] for i in (first.idea_id, second.idea_id)} == {"aase@example.dk"}
    # the command line's `submit --proposer` finds her the same way
    by_cli = services.submit(title="Tredje idé", description="Fra kommandolinjen.", proposer="AASE@example.dk",
                             pool=services_view(engine, first.idea_id)["pool"], now=later(3))
    assert services_view(engine, by_cli)["proposer"] == "aase@example.dk"


def test_the_english_form_sends_an_english_mail(intake, pool_id, smtp):
    submit(intake, pool_id, lang=Language.EN)
    message = smtp.handler.take()[0].message
    assert message["Subject"] == "Confirm your idea: Grønne skolegårde"
    token_from(message)


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "../../etc/passwd", "ø" * 5000])
def test_an_unknown_link_is_refused_and_changes_nothing(intake, pool_id, token, snapshot):
    submit(intake, pool_id)
    before = snapshot()
    with pytest.raises(UnknownLink, match="not valid or has expired"):
        intake.confirm(token, later(1))
    with pytest.raises(UnknownLink):
        intake.pending(token, later(1))
    assert snapshot() == before


def test_an_unconfirmed_submission_expires_and_the_sweep_deletes_it_with_its_files(engine, intake, pool_id, smtp):
    submit(intake, pool_id, attachments=(Upload("plan.pdf", PDF), Upload("skitse.png", PNG)))
    submit(intake, pool_id, now=later(10), title="Senere idé", email="bo@example.dk")
    early, late = (token_from(m.message) for m in smtp.handler.take())
    assert count(engine, AttachmentRow) == 3
    with pytest.raises(UnknownLink):  # its time is up, even before the sweep deletes it
        intake.confirm(early, later(72))
    assert intake.expire_submissions(later(72) - timedelta(seconds=1)) == 0
    assert intake.expire_submissions(later(72)) == 1
    assert count(engine, SubmissionRow) == 1 and count(engine, AttachmentRow) == 1
    assert intake.expire_submissions(later(72)) == 0
    with pytest.raises(UnknownLink):
        intake.pending(early, later(73))
    assert intake.confirm(late, later(73)).newly_registered  # the other one still works within its own time


def test_the_sweep_deletes_expired_submissions(engine, intake, pool_id, cli, smtp):
    """`ideaflow sweep` is where unconfirmed submissions expire (the deadline sweep's last step). The
    submission was made 73 hours ago: a sweep runs for now or a moment that has passed, never ahead."""
    submit(intake, pool_id, now=datetime.now(UTC) - timedelta(hours=73))
    result = cli("sweep", "--now", (datetime.now(UTC) - timedelta(hours=2)).isoformat())
    assert result.returncode == 0 and "expired" not in result.stdout, result  # it still had an hour left then
    assert count(engine, SubmissionRow) == 1
    result = cli("sweep")
    assert result.returncode == 0, result
    assert "1 unconfirmed submission(s) expired and deleted" in result.stdout
    assert count(engine, SubmissionRow) == 0 and count(engine, AttachmentRow) == 0


def test_once_its_link_expired_nothing_of_an_unconfirmed_submission_is_kept(engine, intake, pool_id, smtp,
                                                                          snapshot):
    """The privacy notice says an unconfirmed idea is deleted after its hours: its confirmation mail goes
    with it, sent or never sent (the outbox row held the address, the name and the title). A confirmed
    submission's mail goes too once its link expired: the idea and the person hold what it said."""
    from intake_helpers import intake_for

    online, offline = intake, intake_for(engine)  # offline: no delivery at once, the mail waits
    assert submit(online, pool_id, title="Sent but never confirmed", name="Aase Aerlig").mail_sent
    assert not submit(offline, pool_id, title="Never sent", email="bo@example.dk", name="Bo Bagger").mail_sent
    submit(online, pool_id, title="Confirmed in time", email="cai@example.dk", name="Cai Cold")
    assert "aase@example.dk" in repr(snapshot()) and "bo@example.dk" in repr(snapshot())
    tokens = [token_from(m.message) for m in smtp.handler.take()]
    confirmed = online.confirm(tokens[-1], later(1))

    assert online.expire_submissions(later(72) - timedelta(seconds=1)) == 0
    assert count(engine, OutboxRow, OutboxRow.kind == "submission_confirm") == 3  # not before their time
    assert online.expire_submissions(later(72)) == 2
    kept = repr(snapshot())
    for gone in ("aase@example.dk", "Aase Aerlig", "Sent but never confirmed", "bo@example.dk", "Bo Bagger",
                 "Never sent"):
        assert gone not in kept, gone
    assert count(engine, OutboxRow, OutboxRow.kind == "submission_confirm") == 0
    idea = services_view(engine, confirmed.idea_id)
    assert (idea["title"], idea["proposer"]) == ("Confirmed in time", "cai@example.dk")
    assert count(engine, OutboxRow, OutboxRow.idea_id == confirmed.idea_id) > 0  # its notices are the idea's


def test_every_problem_of_the_form_is_named_at_once_and_nothing_is_stored(intake, pool_id, smtp, snapshot):
    before = snapshot()
    with pytest.raises(InvalidSubmission) as refused:
        submit(intake, pool_id, title=" ", description="x" * 20_001, name="A\x00B", email="not-an-address",
               proposer_kind="robot", department="d" * 201, requested_dkk=0,
               attachments=(Upload("setup.pdf", b"MZ\x90\x00" + bytes(100)),))
    problems = {(p.field, p.code) for p in refused.value.problems}
    assert problems == {("title", "required"), ("description", "too_long"), ("name", "control_character"),
                        ("email", "not_email"), ("proposer_kind", "choose_kind"), ("department", "too_long"),
                        ("requested_dkk", "amount_range"), ("attachments", "file_type")}
    assert snapshot() == before and smtp.handler.take() == []


@pytest.mark.parametrize("field, value", [
    ("title", "t" * 200), ("description", "d" * 20_000), ("name", "n" * 200), ("department", "a" * 200),
    ("title", "<script>alert(1)</script> \u202eRTL\u202c & \"q\""), ("description", "Linje 1\r\n\tLinje 2"),
    ("name", "Ærø Åse 'O\"Brien' <b>"),
])
def test_text_at_the_limits_and_hostile_text_is_stored_exactly(engine, intake, pool_id, smtp, field, value):
    submit(intake, pool_id, **{field: value})
    idea_id = intake.confirm(token_from(smtp.handler.take()[0].message), later(1)).idea_id
    idea = services_view(engine, idea_id)
    stored = {"title": idea["title"], "description": idea["description"], "department": idea["departments"][0]}
    if field == "name":
        with engine.connect() as connection:
            stored["name"] = connection.scalar(select(PersonRow.name).where(PersonRow.email == "aase@example.dk"))
    assert stored[field] == value


@pytest.mark.parametrize(("asked", "code", "params", "edge"), [
    (100_001, "above_grant_max", {"max_dkk": 100_000}, 100_000),
    (5_000, "below_grant_min", {"min_dkk": 10_000}, 10_000)])
def test_a_requested_amount_outside_the_pools_grants_is_refused(engine, intake, pool_id, asked, code, params, edge):
    intake.set_intake("Borgerpuljen", T0, grant_min_dkk=10_000, grant_max_dkk=100_000)
    with pytest.raises(InvalidSubmission) as refused:
        submit(intake, pool_id, requested_dkk=asked)
    assert [(p.field, p.code, p.params) for p in refused.value.problems] == [("requested_dkk", code, params)]
    submit(intake, pool_id, requested_dkk=edge)
    submit(intake, pool_id, requested_dkk=None, email="uden@example.dk")


# -- concurrency ---------------------------------------------------------------------------------------


def test_concurrent_confirmations_of_one_link_register_one_idea(engine, intake, pool_id, smtp):
    """Threads, each with its own connection, confirm the same link at the same moment."""
    submit(intake, pool_id)
    token = token_from(smtp.handler.take()[0].message)
    results, errors = [], []
    start = threading.Barrier(8)

    def confirm():
        start.wait()
        try:
            results.append(intake.confirm(token, later(1)))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=confirm) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(r.newly_registered for r in results) == [False] * 7 + [True]
    assert len({r.idea_id for r in results}) == 1
    assert count(engine, IdeaRow) == 1 and count(engine, HistoryRow) == 1


@pytest.mark.slow
def test_concurrent_confirmations_from_separate_processes_register_each_idea_once(engine, db_url, intake, pool_id,
                                                                                   smtp):
    """Eight processes confirm the same ten links at once (two submissions share a new proposer, so
    their confirmations also race to create the same person)."""
    import multiprocessing

    from intake_workers import confirm_all

    for number in range(10):
        submit(intake, pool_id, title=f"Idé {number}", email="delt@example.dk" if number < 2 else f"p{number}@x.dk")
    tokens = [token_from(m.message) for m in smtp.handler.take()]
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(8), spawn.Queue()
    processes = [spawn.Process(target=confirm_all, args=(db_url, tokens, later(1).isoformat(), barrier, results))
                 for _ in range(8)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * 8
    by_token: dict[str, set[int]] = {}
    fresh = 0
    for outcome in outcomes:
        assert not isinstance(outcome, str), outcome  # a traceback
        for token, idea_id, newly in outcome:
            by_token.setdefault(token, set()).add(idea_id)
            fresh += newly
    assert all(len(ids) == 1 for ids in by_token.values()) and len(by_token) == 10
    assert fresh == 10 and count(engine, IdeaRow) == 10 and count(engine, HistoryRow) == 10
    assert count(engine, PersonRow, PersonRow.email == "delt@example.dk") == 1


# -- helpers ----------------------------------------------------------------------------------------------


def rows(engine, statement):
    with engine.connect() as connection:
        return connection.execute(statement).all()


def services_view(engine, idea_id: int) -> dict:
    from ideaflow.views import idea_view

    return idea_view(engine, idea_id).model_dump(mode="json", by_alias=True)


def test_form_helper_is_valid():
    """The helper's default form passes the checks (the tests above vary one thing at a time)."""
    from states.intake import AttachmentRules, PoolIntake, check_submission

    assert [f.media_type for f in check_submission(form(), PoolIntake(), AttachmentRules())] == ["application/pdf"]


def test_a_mail_server_that_is_down_leaves_the_mail_to_the_outbox(engine, pool_id, tmp_path):
    """The submission is kept and the receipt says the mail is not sent yet; the flushes retry it. A server
    that cannot be reached uses none of the message's attempts (the outage is the server's, not the mail's)."""
    from intake_helpers import intake_for
    from mailtest import free_port

    receipt = submit(intake_for(engine, smtp_port=free_port()), pool_id)  # nothing listens there
    assert not receipt.mail_sent
    with engine.connect() as connection:
        status, attempts, error = connection.execute(
            select(OutboxRow.status, OutboxRow.attempts, OutboxRow.last_error)).one()
    assert (status, attempts) == ("pending", 0) and "cannot connect" in error
    assert count(engine, SubmissionRow) == 1


def test_a_mail_folder_that_cannot_be_written_leaves_the_mail_to_the_outbox(engine, pool_id, tmp_path):
    """Without SMTP, mail goes to a folder; if that is not a folder at all, the submission still stands."""
    from ideaflow.intake import Intake, IntakeSettings
    from ideaflow.services import Services
    from notifications.delivery import FolderTransport
    from notifications.handlers import queue_mail

    from intake_helpers import KEY, LETTERHEAD

    not_a_folder = tmp_path / "mail"
    not_a_folder.write_text("a file where the mail folder should be")
    services = Services(engine, subscriber=queue_mail)
    intake = Intake(engine, IntakeSettings(), lambda: KEY,
                    lambda mails, now: services.deliver_leased(mails, now, FolderTransport(not_a_folder), LETTERHEAD),
                    subscriber=queue_mail)
    assert not submit(intake, pool_id).mail_sent
    assert count(engine, SubmissionRow) == 1 and count(engine, OutboxRow, OutboxRow.status == "pending") == 1


def test_a_process_that_dies_before_sending_leaves_the_mail_to_the_flush_after_its_lease(engine, pool_id, tmp_path):
    """The confirmation mail is queued leased to the submitting process, in the submission's own
    transaction (no second one to claim it). If that process dies before sending, nothing is lost: no
    flush takes the row while the lease holds (it could be sending still), the first flush after it does."""
    from ideaflow.intake import Intake, IntakeSettings
    from ideaflow.services import Services
    from notifications.delivery import FolderTransport
    from notifications.handlers import queue_mail
    from storage.repository import MAIL_LEASE

    from intake_helpers import KEY, LETTERHEAD

    def dies_before_sending(mails, now):
        raise SystemExit("killed")

    intake = Intake(engine, IntakeSettings(), lambda: KEY, dies_before_sending, subscriber=queue_mail)
    with pytest.raises(SystemExit):
        submit(intake, pool_id)
    assert count(engine, SubmissionRow) == 1
    services, mail_dir = Services(engine, subscriber=queue_mail), tmp_path / "mail"
    def flush(now):
        return services.flush_outbox(now, FolderTransport(mail_dir), LETTERHEAD).sent

    assert flush(T0 + MAIL_LEASE - timedelta(seconds=1)) == 0
    assert flush(T0 + MAIL_LEASE) == 1
    [sent] = mail_dir.glob("*.eml")
    assert "/submissions/confirm?token=" in sent.read_text()
