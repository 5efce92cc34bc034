"""Attachments: accepted by what their bytes are (not their names), within the size and count limits,
stored in the database with a SHA-256 checksum, and handed out to staff only."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from sqlalchemy import select, update

from states.errors import NotAllowed, NotFound, Refused
from states.intake import AttachmentRules, InvalidSubmission, Upload, check_file
from storage.tables import AttachmentRow, RefusalRow

from intake_helpers import COORDINATOR, FOLLOWER, PDF, PNG, REVIEWER, later, submit, token_from


def zipped(*parts: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts:
            archive.writestr(name, content)
    return buffer.getvalue()


TYPES = b"<?xml version='1.0'?><Types/>"
DOCX = zipped(("[Content_Types].xml", TYPES), ("word/document.xml", b"<w:document/>"))
XLSX = zipped(("[Content_Types].xml", TYPES), ("xl/workbook.xml", b"<workbook/>"))
PPTX = zipped(("[Content_Types].xml", TYPES), ("ppt/presentation.xml", b"<presentation/>"))
ODT = zipped(("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<office/>"))
DOCM = zipped(("[Content_Types].xml", TYPES), ("word/document.xml", b"<w:document/>"),
              ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macros"))
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200) + b"This program cannot be run in DOS mode."
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500)  # .doc, but also .msi
RULES = AttachmentRules(max_bytes=1000, max_count=2)


@pytest.mark.parametrize("name, content, kind", [
    ("plan.pdf", PDF, "application/pdf"),
    ("skitse.PNG", PNG, "image/png"),
    ("foto.jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(20), "image/jpeg"),
    ("foto.jpg", b"\xff\xd8\xff\xe1" + bytes(20), "image/jpeg"),
    ("anim.gif", b"GIF89a" + bytes(20), "image/gif"),
    ("billede.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20), "image/webp"),
    ("notat.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("budget.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("oplæg.pptx", PPTX, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("notat.odt", ODT, "application/vnd.oasis.opendocument.text"),
    ("C:\\Users\\åse\\plan.pdf", PDF, "application/pdf"),  # old browsers send the whole path
])
def test_documents_and_images_are_known_by_their_content(name, content, kind):
    checked = check_file(Upload(name, content), RULES)
    assert (checked.media_type, checked.content) == (kind, content)
    assert "\\" not in checked.filename and "/" not in checked.filename


@pytest.mark.parametrize("name, content, code", [
    ("plan.pdf", EXE, "file_type"),  # a renamed program
    ("setup.exe", EXE, "file_type"),
    ("notat.doc", OLE, "file_type"),  # the container of Windows installers too
    ("notat.docx", zipped(("evil.exe", EXE)), "file_type"),  # a ZIP is not a document
    ("makro.docx", DOCM, "file_type"),  # macros refused
    ("both.docx", zipped(("[Content_Types].xml", TYPES), ("word/document.xml", b""), ("xl/workbook.xml", b"")),
     "file_type"),
    ("fake.odt", zipped(("mimetype", b"application/x-msdownload")), "file_type"),
    ("broken.docx", b"PK\x03\x04" + bytes(50), "file_type"),
    ("page.html", b"<html><script>alert(1)</script></html>", "file_type"),
    ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "file_type"),
    ("plan.png", PDF, "file_name_mismatch"),  # a PDF named as an image
    ("tom.pdf", b"", "empty_file"),
    ("stor.pdf", PDF + bytes(1000), "file_too_large"),
    ("a\x00.pdf", PDF, "bad_filename"),
    ("x" * 252 + ".pdf", PDF, "bad_filename"),
])
def test_anything_else_is_refused_with_a_reason(name, content, code):
    with pytest.raises(InvalidSubmission) as refused:
        check_file(Upload(name, content), RULES)
    [problem] = refused.value.problems
    assert (problem.field, problem.code) == ("attachments", code)


def test_too_many_files_are_refused(intake, pool_id, snapshot):
    from intake_helpers import intake_for

    strict = intake_for(intake.engine, attachments=RULES)
    before = snapshot()
    with pytest.raises(InvalidSubmission) as refused:
        submit(strict, pool_id, attachments=(Upload("a.pdf", PDF),) * 3)
    assert [p.code for p in refused.value.problems] == ["too_many_files"]
    with pytest.raises(InvalidSubmission) as refused:  # and what is wrong with each of them, too
        submit(strict, pool_id, attachments=(Upload("a.pdf", PDF), Upload("tom.pdf", b""), Upload("b.txt", b"hej")))
    assert [(p.code, p.params.get("filename")) for p in refused.value.problems] == [
        ("too_many_files", None), ("empty_file", "tom.pdf"), ("file_type", "b.txt")]
    assert snapshot() == before
    submit(strict, pool_id, attachments=(Upload("a.pdf", PDF),) * 2)


def test_every_files_problem_is_reported_at_once(intake, pool_id, snapshot):
    """A citizen who attaches several wrong files learns what is wrong with each in one answer, not one
    file per try."""
    from intake_helpers import intake_for

    before = snapshot()
    with pytest.raises(InvalidSubmission) as refused:
        submit(intake_for(intake.engine, attachments=AttachmentRules(max_bytes=1000, max_count=5)), pool_id,
               attachments=(Upload("noter.txt", b"mine noter"), Upload("fake.pdf", PNG), Upload("tom.pdf", b""),
                            Upload("big.pdf", PDF + bytes(1000)), Upload("x.html", b"<html></html>")))
    assert [(p.field, p.code, p.params["filename"]) for p in refused.value.problems] == [
        ("attachments", "file_type", "noter.txt"), ("attachments", "file_name_mismatch", "fake.pdf"),
        ("attachments", "empty_file", "tom.pdf"), ("attachments", "file_too_large", "big.pdf"),
        ("attachments", "file_type", "x.html")]
    assert snapshot() == before


@pytest.fixture
def idea_with_files(intake, pool_id, smtp) -> tuple[int, list]:
    submit(intake, pool_id, attachments=(Upload("plan.pdf", PDF), Upload("skitse.png", PNG)))
    idea_id = intake.confirm(token_from(smtp.handler.take()[0].message), later(1)).idea_id
    return idea_id, intake.attachments(idea_id, COORDINATOR, later(1))


def test_files_are_stored_with_their_checksum_and_given_to_staff(intake, idea_with_files):
    idea_id, listed = idea_with_files
    assert [(a.filename, a.media_type, a.size_bytes, a.sha256) for a in listed] == [
        ("plan.pdf", "application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest()),
        ("skitse.png", "image/png", len(PNG), hashlib.sha256(PNG).hexdigest())]
    for staff in (COORDINATOR, REVIEWER):
        file = intake.attachment(listed[0].id, staff, later(1))
        assert (file.filename, file.media_type, file.content) == ("plan.pdf", "application/pdf", PDF)


@pytest.mark.parametrize("who", ["aase@example.dk", FOLLOWER])
def test_nobody_else_gets_them_and_the_attempt_is_recorded(engine, intake, idea_with_files, who):
    idea_id, listed = idea_with_files
    with pytest.raises(NotAllowed, match="only a coordinator or reviewer of pool"):
        intake.attachment(listed[0].id, who, later(1))
    with pytest.raises(NotAllowed):
        intake.attachments(idea_id, who, later(1))
    with engine.connect() as connection:
        assert [tuple(r) for r in connection.execute(select(RefusalRow.command, RefusalRow.idea_id))] == [
            ("download", idea_id), ("attachments", idea_id)]


def test_a_pending_submissions_files_and_unknown_ids_are_nobodys(engine, intake, pool_id, smtp):
    submit(intake, pool_id)
    with engine.connect() as connection:
        pending = connection.scalar(select(AttachmentRow.id))
    for attachment_id in (pending, 999, 0, -1, 10**20):
        with pytest.raises(NotFound):
            intake.attachment(attachment_id, COORDINATOR, later(1))


def test_a_file_changed_after_upload_is_not_handed_out(engine, intake, idea_with_files):
    _, listed = idea_with_files
    with engine.begin() as connection:
        connection.execute(update(AttachmentRow).where(AttachmentRow.id == listed[0].id)
                           .values(content=PDF.replace(b"Catalog", b"Katalog")))
    with pytest.raises(Refused, match="does not match its checksum"):
        intake.attachment(listed[0].id, COORDINATOR, later(1))
