"""The public intake: when a pool takes ideas, what a submission from the public form must satisfy,
and which files may come with it.

Pure rules, no storage or web: the service layer (`ideaflow.intake`) stores what passes. A public
submission is checked field by field so a form can show every problem at once, each problem naming
its field (the form's input name) and a code a page can translate; the message is a one-line
English reason for logs and the command line.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from states import text
from states.errors import BadInput, Refused
from states.fingerprint import fingerprint
from states.vocabulary import COPENHAGEN

# Field limits of the public form (characters). Title and description match `ideaflow submit`.
TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
DEPARTMENT_MAX = 200
NAME_MAX = 200
FILENAME_MAX = 255
POOL_TEXT_MAX = 5_000


class ProposerKind(StrEnum):
    """Whether the proposer wrote as a citizen or as an employee of the municipality."""

    CITIZEN = "citizen"
    EMPLOYEE = "employee"


class IntakeStatus(StrEnum):
    NOT_YET_OPEN = "not_yet_open"
    OPEN = "open"
    CLOSED = "closed"


class IntakeClosed(Refused):
    """The pool takes no ideas now (`intake.not_yet_open` or `intake.closed`, with the moment)."""


class RateLimited(Refused):
    """Too many submissions from one address or for one e-mail within the window; `retry_after` says
    from when the next window takes them."""


@dataclass(frozen=True, slots=True)
class PoolIntake:
    """A pool's public face: when it takes ideas and what it tells the public about itself.

    `opens_at` empty: open since ever; `closes_at` empty: open until further notice. The window is
    half-open, [opens_at, closes_at).
    """

    opens_at: datetime | None = None
    closes_at: datetime | None = None
    description: str = ""
    criteria_text: str = ""
    grant_min_dkk: int | None = None
    grant_max_dkk: int | None = None

    def __post_init__(self) -> None:
        if self.opens_at is not None and self.closes_at is not None and not self.opens_at < self.closes_at:
            first, last = first_day(self.opens_at), last_day(self.closes_at)
            if first is not None and last is not None:  # said by the days as typed, not the midnight after
                raise BadInput("intake.days_order", field="closes", first_day=first, last_day=last)
            raise BadInput("intake.window_order", field="closes", opens_at=self.opens_at, closes_at=self.closes_at)
        text.text(self.description, "description", max_length=POOL_TEXT_MAX, multiline=True, required=False)
        text.text(self.criteria_text, "criteria_text", max_length=POOL_TEXT_MAX, multiline=True, required=False)
        for amount, field_name in ((self.grant_min_dkk, "grant_min_dkk"), (self.grant_max_dkk, "grant_max_dkk")):
            if amount is not None:
                text.amount_dkk(amount, field_name)
        low, high = self.grant_min_dkk, self.grant_max_dkk
        if low is not None and high is not None and low > high:
            raise BadInput("intake.grant_order", field="grant_min_dkk", low_dkk=low, high_dkk=high)

    def check_change(self, before: PoolIntake, budget_dkk: int, now: datetime) -> None:
        """Refuse setting a pool's intake (from `before`) to this, beyond what any intake must satisfy: an
        amount given above the pool's whole budget, and a last day for ideas that has already passed when
        it is set (a mistyped year, most likely). A closing moment within a day (the command line's ISO
        time) may lie in the past: that is how an operator closes a pool at once."""
        for amount, field_name in ((self.grant_max_dkk, "grant_max_dkk"), (self.grant_min_dkk, "grant_min_dkk")):
            if amount is not None and amount > budget_dkk:
                raise BadInput("intake.grant_above_budget", field=field_name, amount_dkk=amount,
                               budget_dkk=budget_dkk)
        closes = self.closes_at
        if closes is not None and closes != before.closes_at and closes <= now:
            last = last_day(closes)
            if last is not None:
                raise BadInput("intake.last_day_passed", field="closes", last_day=last)

    def fingerprint(self) -> str:
        """These settings' fingerprint (`states.fingerprint`): the console's intake form carries the one it was
        filled in from."""
        return fingerprint(*(getattr(self, name) for name in PoolIntake.__slots__))

    def changed_from(self, before: PoolIntake) -> list[str]:
        """The settings (by name) that differ from `before`, in the order of the form."""
        return [name for name in PoolIntake.__slots__ if getattr(self, name) != getattr(before, name)]

    def check_requested(self, amount_dkk: int | None, pool_name: str, field: str = "requested_dkk") -> None:
        """Refuse an amount outside what the pool says it gives: asked for (an idea submitted on the command
        line, or revised; the public form checks its own, field by field), or allocated by a funding go
        (`field` "amount_dkk": the range is the pool's public word to every proposer; a coordinator who
        means to give more changes the range first, on the record)."""
        if amount_dkk is not None and self.grant_max_dkk is not None and amount_dkk > self.grant_max_dkk:
            raise BadInput("intake.above_grant_max", field=field, amount_dkk=amount_dkk, pool=pool_name,
                           max_dkk=self.grant_max_dkk)
        if amount_dkk is not None and self.grant_min_dkk is not None and amount_dkk < self.grant_min_dkk:
            raise BadInput("intake.below_grant_min", field=field, amount_dkk=amount_dkk, pool=pool_name,
                           min_dkk=self.grant_min_dkk)

    def status(self, now: datetime) -> IntakeStatus:
        if self.opens_at is not None and now < self.opens_at:
            return IntakeStatus.NOT_YET_OPEN
        if self.closes_at is not None and now >= self.closes_at:
            return IntakeStatus.CLOSED
        return IntakeStatus.OPEN

    def require_open(self, pool_name: str, now: datetime) -> None:
        status = self.status(now)
        if status == IntakeStatus.NOT_YET_OPEN:
            raise IntakeClosed("intake.not_yet_open", pool=pool_name, opens_at=self.opens_at)
        if status == IntakeStatus.CLOSED:
            raise IntakeClosed("intake.closed", pool=pool_name, closes_at=self.closes_at)


def first_day(opens_at: datetime) -> date | None:
    """The Copenhagen day a window opens with, when it opens as a day begins (None: within a day)."""
    local = opens_at.astimezone(COPENHAGEN)
    return local.date() if local.time() == datetime.min.time() else None


def last_day(closes_at: datetime) -> date | None:
    """The last Copenhagen day of a window that closes as a day ends, at the next midnight (None: it
    closes within a day)."""
    local = closes_at.astimezone(COPENHAGEN)
    return (local - timedelta(days=1)).date() if local.time() == datetime.min.time() else None


# -- the submission ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one field of the public form."""

    field: str
    code: str
    message: str
    params: dict = field(default_factory=dict)


class InvalidSubmission(BadInput):
    """The form has problems; all of them, not just the first, so the page can list them together."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("intake.invalid", fields=list(dict.fromkeys(p.field for p in problems)))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as it arrived: the name the browser gave and its bytes."""

    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class CheckedFile:
    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class AttachmentRules:
    max_bytes: int = 10 * 1024 * 1024
    max_count: int = 5


@dataclass(frozen=True, slots=True)
class Submission:
    """What the public form sends, before anything is stored."""

    title: str
    description: str
    name: str
    email: str
    proposer_kind: str
    department: str = ""
    requested_dkk: int | None = None
    attachments: tuple[Upload, ...] = ()
    #: The form page's own random key (`states.form_keys`); the same key sent again is the same submission.
    form_key: str | None = None


def check_submission(form: Submission, intake: PoolIntake, rules: AttachmentRules) -> list[CheckedFile]:
    """Every problem of the form at once, or the attachments it carries, checked by their content."""
    problems: list[Problem] = []

    def check(field_name: str, check: Callable[[], object], max_length: int | None = None) -> None:
        try:
            check()
        except BadInput as error:
            code = PROBLEM_OF.get(error.code, "invalid")
            params = {"max": max_length} if code == "too_long" else {}
            problems.append(Problem(field_name, code, str(error), params))

    check("title", lambda: text.text(form.title, "title", max_length=TITLE_MAX), TITLE_MAX)
    check("description", lambda: text.text(form.description, "description", max_length=DESCRIPTION_MAX,
                                           multiline=True), DESCRIPTION_MAX)
    check("department", lambda: text.text(form.department, "department", max_length=DEPARTMENT_MAX,
                                          required=False), DEPARTMENT_MAX)
    check("name", lambda: text.text(form.name, "name", max_length=NAME_MAX), NAME_MAX)
    check("email", lambda: text.email(form.email))
    if form.proposer_kind not in set(ProposerKind):
        problems.append(Problem("proposer_kind", "choose_kind", "say whether you are a citizen or an employee"))
    if form.requested_dkk is not None:
        check("requested_dkk", lambda: text.amount_dkk(form.requested_dkk, "requested_dkk"))
        if intake.grant_max_dkk is not None and form.requested_dkk > intake.grant_max_dkk:
            problems.append(Problem("requested_dkk", "above_grant_max",
                                    f"the requested amount is above the pool's largest grant "
                                    f"({intake.grant_max_dkk} DKK)", {"max_dkk": intake.grant_max_dkk}))
        elif intake.grant_min_dkk is not None and 0 < form.requested_dkk < intake.grant_min_dkk:
            problems.append(Problem("requested_dkk", "below_grant_min",
                                    f"the requested amount is below the pool's smallest grant "
                                    f"({intake.grant_min_dkk} DKK)", {"min_dkk": intake.grant_min_dkk}))
    files = []
    if len(form.attachments) > rules.max_count:
        problems.append(Problem("attachments", "too_many_files",
                                f"at most {rules.max_count} attachments are allowed; {len(form.attachments)} were sent",
                                {"max_count": rules.max_count}))
    for upload in form.attachments:  # every file's problem, also of too many: all are said at once
        try:
            files.append(check_file(upload, rules))
        except InvalidSubmission as error:
            problems += error.problems
    if problems:
        raise InvalidSubmission(problems)
    return files


#: The problem a page shows for each error of `states.text`.
PROBLEM_OF = {"text.empty": "required", "text.too_long": "too_long", "text.control_character": "control_character",
              "text.surrogate": "control_character", "email.invalid": "not_email",
              "amount.out_of_range": "amount_range"}


# -- attachments: known by their content, not their name ------------------------------------------------

#: Kinds accepted, with the name endings each may carry. Legacy binary Office files (.doc/.xls)
#: are not accepted: their container (OLE2) is also that of Windows installers (.msi), so their
#: content cannot tell a document from a program.
KINDS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/vnd.oasis.opendocument.presentation": (".odp",),
}

_OOXML_PART = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def sniff(content: bytes) -> str | None:
    """The media type the bytes themselves show, or None for anything not accepted."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith(b"PK\x03\x04"):
        return _sniff_zip(content)
    return None


def _sniff_zip(content: bytes) -> str | None:
    """An Office Open XML or OpenDocument file, told apart from any other ZIP by its parts.

    Only the ZIP's directory is read, nothing is unpacked (except ODF's tiny `mimetype` entry), so
    a ZIP bomb costs nothing. Macro-enabled documents (a `vbaProject.bin` part) are refused.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if any(name.lower().endswith("vbaproject.bin") for name in names):
                return None
            if "[Content_Types].xml" in names:
                kinds = [kind for part, kind in _OOXML_PART.items() if part in names]
                return kinds[0] if len(kinds) == 1 else None
            if "mimetype" in names and archive.getinfo("mimetype").file_size < 100:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                return declared if declared in KINDS and declared.startswith("application/vnd.oasis") else None
    except (zipfile.BadZipFile, ValueError, KeyError, NotImplementedError, RuntimeError, EOFError):
        return None
    return None


def check_file(upload: Upload, rules: AttachmentRules) -> CheckedFile:
    """Accept a PDF, image or office document within the size limit, whose name fits its content."""
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]

    def refuse(code: str, message: str, **params: object) -> InvalidSubmission:
        return InvalidSubmission([Problem("attachments", code, message, {"filename": name, **params})])

    try:
        text.text(name, "filename", max_length=FILENAME_MAX)
    except BadInput as error:
        raise refuse("bad_filename", f"attachment name: {error}") from None
    if not upload.content:
        raise refuse("empty_file", f"{name!r} is empty")
    if len(upload.content) > rules.max_bytes:
        raise refuse("file_too_large", f"{name!r} is {len(upload.content)} bytes; at most {rules.max_bytes} "
                     "are allowed", max_bytes=rules.max_bytes)
    kind = sniff(upload.content)
    if kind is None:
        raise refuse("file_type", f"{name!r} is not a PDF, image (PNG, JPEG, GIF, WebP) or office document "
                     "(Word, Excel, PowerPoint, OpenDocument) by its content")
    if not name.lower().endswith(KINDS[kind]):
        raise refuse("file_name_mismatch", f"{name!r} holds a {kind} file; name it with "
                     f"{' or '.join(KINDS[kind])}", expected=KINDS[kind][0])
    return CheckedFile(name, kind, upload.content)
