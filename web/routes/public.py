"""The public side: the start page with the pools open for ideas, the idea form, the confirmation page
its mail links to, the proposer's "my ideas" (signed in by the mailed link), the accessibility and
privacy pages, and attachments for staff.

Every rule lives in the service layer (`app.state.intake`, `app.state.services`); these pages read
forms, call it and show what it answers. A refused form comes back with its values (files must be
chosen again: browsers never refill a file input), an error summary and status 422.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from functools import partial
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ideaflow.i18n import N_, Count
from ideaflow.intake import UnknownLink
from ideaflow.privacy import PrivacyNotice, PrivacySettings, privacy_notice
from ideaflow.signin import Account
from states import formatting as fmt
from states.errors import BadInput, Conflict, NotAllowed, NotFound, Refused
from states.form_keys import form_key, new_form_key
from states.intake import (
    DEPARTMENT_MAX,
    DESCRIPTION_MAX,
    TITLE_MAX,
    IntakeClosed,
    IntakeStatus,
    InvalidSubmission,
    RateLimited,
    Submission,
    Upload,
)
from states.text import whole_number, written_number
from states.vocabulary import Language, Stage
from web import auth, pages
from web.auth import signed_in
from web.forms import CONTROL_CHARACTER, REQUIRED, TOO_LONG, Form, PostedForm
from web.routes.words import file_size, whole_day
from web.security import CSRF_FIELD

router = APIRouter()

#: The form's hidden field that people never see and bots fill in.
HONEYPOT = "website"
#: Said on the attachments field of a form that comes back after files were chosen.
FILES_AGAIN = N_("Files are not kept when the form comes back: choose them again.")
#: The form's fields in the order they come on the page.
FIELDS = ("title", "description", "department", "requested_dkk", "attachments", "name", "email", "proposer_kind")

#: What each problem the service layer names looks like on the page.
MESSAGES = {
    "required": REQUIRED,
    "too_long": TOO_LONG,
    "control_character": CONTROL_CHARACTER,
    "not_email": N_("Write an e-mail address, for example navn@example.dk."),
    "amount_range": N_("Write an amount in whole kroner, at least 1."),
    "not_whole_number": N_("Write the amount as a whole number of kroner, for example 250000."),
    "above_grant_max": N_("The pool gives at most %(max_dkk)s to an idea."),
    "below_grant_min": N_("The pool gives at least %(min_dkk)s to an idea."),
    "choose_kind": N_("Choose whether you write as a citizen or as an employee."),
    "too_many_files": N_("Attach at most %(max_count)s files."),
    "file_type": N_("%(filename)s is not a PDF, a picture (PNG, JPEG, GIF, WebP) or an office document "
                    "(Word, Excel, PowerPoint, OpenDocument)."),
    "file_name_mismatch": N_("%(filename)s holds another kind of file than its name says; name it …%(expected)s."),
    "file_too_large": N_("%(filename)s is larger than %(max_size)s."),
    "empty_file": N_("%(filename)s is empty."),
    "bad_filename": N_("A file's name is too long or holds control characters; rename the file."),
}


def _now(request: Request):
    return request.app.state.clock()


def _formatting(lang: str) -> dict:
    """Amounts (whose parts never wrap apart, also at 320 px), moments and days, in the page's language."""
    return {"kr": lambda amount: fmt.dkk(amount, lang).replace(" ", "\N{NO-BREAK SPACE}"),
            "number": partial(fmt.number, lang=lang),
            "when": partial(fmt.moment, lang=lang), "date": partial(fmt.day, lang=lang),
            "opening_day": partial(whole_day, lang=lang), "closing_day": partial(whole_day, lang=lang, ending=True)}


def _render(request: Request, template: str, context: dict | None = None, status_code: int = 200) -> Response:
    return pages.render(request, template, {**_formatting(pages.language(request)), **(context or {})},
                        status_code=status_code)


# -- the start page and the form ----------------------------------------------------------------------


@router.get("/")
def start(request: Request) -> Response:
    """The pools open for ideas now, each with what it funds and a way to its form."""
    return _render(request, "public_start.html", {"pools": request.app.state.intake.pools(_now(request))})


@router.get("/pools/{pool_id}/ideas/new")
def idea_form(request: Request, pool_id: int) -> Response:
    pool = request.app.state.intake.pool(pool_id, _now(request))
    return _form_page(request, pool, Form({"proposer_kind": "", "form_key": new_form_key()}),
                      status_code=200 if pool.status == IntakeStatus.OPEN else 409)


def _form_page(request: Request, pool, form: Form, status_code: int = 200, typed: list | None = None) -> Response:
    """The form; a pool closed meanwhile shows, instead, what a POST carried (`typed`), to copy."""
    settings = request.app.state.settings
    lang = pages.language(request)
    return _render(request, "idea_form.html", {
        "pool": pool, "form": form, "honeypot": HONEYPOT, "max_files": settings.attachment_max_count,
        "max_size": file_size(settings.attachment_max_bytes, lang), "description_max": DESCRIPTION_MAX,
        "notice": request.app.state.privacy(lang), "typed": typed or [],
    }, status_code=status_code)


@router.post("/pools/{pool_id}/ideas/new")
async def submit_idea(request: Request, pool_id: int) -> Response:
    """Read the multipart form here (async: files), then hand it to the synchronous part in a thread."""
    data = await request.form()
    values = {k: v for k, v in data.items() if isinstance(v, str) and k != CSRF_FIELD}
    uploads = [Upload(f.filename or "", await f.read()) for f in data.getlist("attachments")
               if isinstance(f, UploadFile) and (f.filename or f.size)]  # an empty file input sends a nameless part
    return await run_in_threadpool(_submit_idea, request, pool_id, Form(values), uploads)


def _submit_idea(request: Request, pool_id: int, form: Form, uploads: list[Upload]) -> Response:
    intake = request.app.state.intake
    now = _now(request)
    lang = pages.language(request)
    if form.value(HONEYPOT):
        # A field no person sees was filled in: a robot, or a browser's overeager autofill. Nothing is
        # stored; a person is told how to go on, with what they wrote to copy.
        return _render(request, "idea_refused.html", {"pool": intake.pool(pool_id, now), "reason": "honeypot",
                                                      "typed": auth.typed_text(request, lang)}, status_code=400)
    requested = _amount(form)
    submission = Submission(
        title=form.value("title"), description=typed(form.value("description")), name=form.value("name"),
        email=form.value("email").strip(), proposer_kind=form.value("proposer_kind"),
        department=form.value("department"), requested_dkk=requested, attachments=tuple(uploads),
        form_key=form_key(form.value("form_key")))
    try:
        if form.errors:  # the amount could not be read: show it with whatever else is wrong
            intake.check(pool_id, submission)
            return _form_page(request, intake.pool(pool_id, now), _files_again(form, uploads), status_code=422)
        receipt = intake.submit(pool_id, submission, client=request.client.host if request.client else "unknown",
                                lang=Language(lang), now=now)
    except InvalidSubmission as invalid:
        _collect(form, invalid, lang)
        return _form_page(request, intake.pool(pool_id, now), _files_again(form, uploads), status_code=422)
    except IntakeClosed:
        return _form_page(request, intake.pool(pool_id, now), form, status_code=409,
                          typed=auth.typed_text(request, lang))
    except RateLimited as limited:
        return _render(request, "idea_refused.html", {"pool": intake.pool(pool_id, now), "reason": "limited",
                                                      "retry_after": limited.values["retry_after"],
                                                      "typed": auth.typed_text(request, lang)}, status_code=429)
    return _receipt_page(request, receipt)


def _receipt_page(request: Request, receipt) -> Response:
    """The receipt, whose language switch comes back to its own signed address (`receipt_again`): the
    answer to a POST has none, and the form it came from would greet the citizen empty."""
    here = f"/submissions/receipt?ref={receipt.submission_id}.{_receipt_mac(request, str(receipt.submission_id))}"
    return _render(request, "idea_received.html", {"receipt": receipt, "here": here})


def _receipt_mac(request: Request, submission_id: str) -> str:
    return request.app.state.signin.keys.digest("receipt", submission_id)


@router.get("/submissions/receipt")
def receipt_again(request: Request, ref: str = "") -> Response:
    """A submission's receipt shown again, in the language just chosen; only by the address its own page
    carries (signed), so nobody can read another's by counting."""
    number, _, signed = ref.partition(".")
    submission_id = whole_number(number, max_digits=11)
    try:
        if submission_id is None or not hmac.compare_digest(signed.encode(), _receipt_mac(request, number).encode()):
            raise UnknownLink("intake.unknown_link")
        receipt = request.app.state.intake.receipt(submission_id, _now(request))
    except UnknownLink:
        return _render(request, "submission_expired.html", status_code=410)
    return _receipt_page(request, receipt)


def typed(text: str) -> str:
    """A textarea's text as the person typed it: browsers send every line break of a textarea as CRLF
    (HTML's form submission value), while the text itself has LF; a lone CR is left as sent."""
    return text.replace("\r\n", "\n")


def _amount(form: Form) -> int | None:
    """The amount asked for as a citizen writes it (250.000 kr., 250,000, DKK 250000); a decimal is refused,
    and a negative amount left to the domain's range."""
    raw = form.value("requested_dkk").strip().removesuffix("kr.").removesuffix("kr").removeprefix("DKK")
    if not raw.strip():
        return None
    amount = written_number(raw)
    if amount is None:
        form.error("requested_dkk", MESSAGES["not_whole_number"])
    return amount


def _files_again(form: Form, uploads: list[Upload]) -> Form:
    """A form that comes back cannot bring its files (no browser fills a file input): if it had files and
    none of them is wrong (a wrong one must be chosen anew anyway, and the field's hint says it), that is
    said on the attachments field and in the error summary, so nobody sends the idea without them unawares."""
    if uploads and "attachments" not in form.errors:
        form.another("attachments", FILES_AGAIN)
        _in_form_order(form)
    return form


def _in_form_order(form: Form) -> None:
    form.errors = {name: form.errors[name] for name in FIELDS if name in form.errors}


def _collect(form: Form, invalid: InvalidSubmission, lang: str) -> None:
    """Every problem the service layer found, on its field, with the page's words, in the form's order
    (the error summary lists them as the fields come). The attachments have one problem per file (and
    one for too many files): each is said, so a citizen fixes every file at once."""
    for problem in invalid.problems:
        params = {name: Count(value) if name in ("max", "max_count") else value
                  for name, value in problem.params.items()}
        for name in ("max_dkk", "min_dkk"):
            if name in params:
                params[name] = fmt.dkk(params[name], lang)
        if "max_bytes" in params:
            params["max_size"] = file_size(params["max_bytes"], lang)
        record = form.another if problem.field == "attachments" else form.error
        record(problem.field, MESSAGES.get(problem.code, REQUIRED), **params)
    _in_form_order(form)


# -- confirming ---------------------------------------------------------------------------------------


@router.get("/submissions/confirm")
def confirm_page(request: Request, token: str = "") -> Response:
    """The page the mailed link opens. Opening it registers nothing: mail scanners open links too."""
    try:
        pending = request.app.state.intake.pending(token, _now(request))
    except UnknownLink:
        return _render(request, "submission_expired.html", status_code=410)
    pages.speak_as_the_link(request, pending.lang)
    return _render(request, "submission_confirm.html", {"pending": pending, "token": token})


@router.post("/submissions/confirm")
def confirm(request: Request, form: PostedForm) -> Response:
    try:
        confirmation = request.app.state.intake.confirm(form.value("token"), _now(request))
    except UnknownLink:
        return _render(request, "submission_expired.html", status_code=410)
    pages.speak_as_the_link(request, confirmation.lang)
    return _render(request, "submission_confirmed.html", {"confirmation": confirmation})


# -- the proposer's own pages ----------------------------------------------------------------------------


@router.get("/my-ideas")
def my_ideas(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    lang = pages.language(request)
    return _render(request, "my_ideas.html",
                   {"ideas": request.app.state.intake.my_ideas(person.email, Language(lang))})


@router.get("/my-ideas/{idea_id}/withdraw")
def withdraw_page(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    return _render(request, "withdraw.html", {"idea": _own_idea(request, person, idea_id), "form": Form({})})


@router.post("/my-ideas/{idea_id}/withdraw")
def withdraw(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)],
             form: PostedForm) -> Response:
    idea = _own_idea(request, person, idea_id)
    reason = typed(form.text("reason", max_length=5000, multiline=True))
    if form.errors:
        return _render(request, "withdraw.html", {"idea": idea, "form": form}, status_code=422)
    try:
        request.app.state.services.withdraw(idea_id, person.email, _now(request), reason)
    except Refused:
        # A second click (or a second tab) finds the idea withdrawn by the first: what the person
        # asked for holds, and the page says so instead of a refusal.
        if _own_idea(request, person, idea_id).stage != Stage.WITHDRAWN:
            raise
        return RedirectResponse("/my-ideas?status=already_withdrawn", status_code=303)
    return RedirectResponse("/my-ideas?status=withdrawn", status_code=303)


#: The revision form's fields as the service names them -> (the form's field, its label), for `Form.failed`.
REVISE_FIELDS = {"title": ("title", N_("Title")), "description": ("description", N_("Description")),
                 "requested_dkk": ("requested_dkk", N_("Amount you ask for, in kroner")),
                 "departments": ("department", N_("Area or department"))}
#: Said when the idea changed while the revision form was open and may still be revised.
CHANGED_MEANWHILE = N_("The idea was changed while you had this page open. Look at it again, then save your "
                       "revision once more.")


@router.get("/my-ideas/{idea_id}/revise")
def revise_page(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """The form to revise an idea sent back for revision, filled in with the idea as it is."""
    idea = _own_idea(request, person, idea_id)
    return _revise_page(request, idea, _revision_form(idea), status_code=200 if idea.may_revise else 409)


def _revision_form(idea) -> Form:
    return Form({"title": idea.title, "description": idea.description, "department": ", ".join(idea.departments),
                 "requested_dkk": str(idea.requested_dkk) if idea.requested_dkk is not None else "",
                 "seen_version": str(idea.version)})


def _revise_page(request: Request, idea, form: Form, status_code: int = 200) -> Response:
    return _render(request, "revise.html", {"idea": idea, "form": form, "description_max": DESCRIPTION_MAX},
                   status_code=status_code)


@router.post("/my-ideas/{idea_id}/revise")
def revise(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)],
           form: PostedForm) -> Response:
    idea = _own_idea(request, person, idea_id)
    title = form.text("title", required=True, max_length=TITLE_MAX)
    description = typed(form.text("description", required=True, max_length=DESCRIPTION_MAX, multiline=True))
    shown = ", ".join(idea.departments)  # the idea's departments as the form showed them
    department = form.value("department")
    if department != shown:
        form.text("department", max_length=DEPARTMENT_MAX)
    departments = tuple(idea.departments) if department == shown else (department,) if department.strip() else ()
    amount = _amount(form)
    if amount is not None and not 1 <= amount < 10**12:
        form.error("requested_dkk", MESSAGES["amount_range"])
    if form.errors:
        return _revise_page(request, idea, form, status_code=422)
    asked = (title, description, amount, list(departments))
    try:
        changed = request.app.state.services.revise(
            idea_id, person.email, _now(request), title=title, description=description, requested_dkk=amount,
            departments=departments, seen_version=whole_number(form.value("seen_version")))
    except NotAllowed:
        raise
    except Refused as refused:
        # Changed meanwhile: a second click or tab that saved the same revision already is done; anything
        # else shows the idea as it is now, with what was typed, to look at before saving again.
        fresh = _own_idea(request, person, idea_id)
        if (fresh.title, fresh.description, fresh.requested_dkk, fresh.departments) == asked:
            return RedirectResponse("/my-ideas?status=revised", status_code=303)
        form.values["seen_version"] = str(fresh.version)
        if fresh.may_revise and isinstance(refused, Conflict):
            form.error(Form.GENERAL, CHANGED_MEANWHILE)
        else:
            form.failed(refused, REVISE_FIELDS)
        return _revise_page(request, fresh, form, status_code=409)
    except BadInput as bad:
        form.failed(bad, REVISE_FIELDS)
        return _revise_page(request, idea, form, status_code=422)
    return RedirectResponse(f"/my-ideas?status={'revised' if changed else 'revision_unchanged'}", status_code=303)


def _own_idea(request: Request, person: Account, idea_id: int):
    """The person's own idea, or the 404 anybody gets for an idea that is not theirs."""
    for idea in request.app.state.intake.my_ideas(person.email, Language(pages.language(request))):
        if idea.id == idea_id:
            return idea
    raise NotFound(f"idea {idea_id} is not one of {person.email}'s")


@router.get("/my-ideas/export")
def export(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """Everything ideaflow holds about the proposer, as a JSON file (GDPR art. 15)."""
    document = request.app.state.intake.export(person.email, _now(request), Language(pages.language(request)))
    return Response(json.dumps(document, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="ideaflow-my-data.json"'})


# -- attachments, for staff ----------------------------------------------------------------------------


@router.get("/attachments/{attachment_id}")
def attachment(request: Request, attachment_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """A file that came with an idea, as a download (never shown inline: `nosniff` comes with every answer)."""
    file = request.app.state.intake.attachment(attachment_id, person.email, _now(request))
    ascii_name = file.filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return Response(file.content, media_type=file.media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file.filename)}",
        "Cache-Control": "no-store"})


# -- the pages every public page links to ---------------------------------------------------------------


@router.get("/privacy")
def privacy(request: Request) -> Response:
    return _render(request, "privacy.html", {"notice": request.app.state.privacy(pages.language(request))})


@router.get("/accessibility")
def accessibility(request: Request) -> Response:
    """ideaflow's own statement, unless the municipality published one elsewhere (WAS-Tool) and set its address."""
    published = request.app.state.settings.accessibility_url
    if published != "/accessibility":
        return RedirectResponse(published, status_code=303)
    # Where to write, as the privacy notice gives it: the contact, or its marked placeholder (none when the
    # municipality's own texts say it), so the two pages never disagree.
    controller = next(s for s in request.app.state.privacy(pages.language(request)).sections if s.key == "controller")
    return _render(request, "accessibility.html", {"contact": request.app.state.settings.privacy_contact.strip(),
                                                   "missing": controller.missing})


def privacy_texts(settings: PrivacySettings) -> Callable[[str], PrivacyNotice]:
    """The notice per language for these settings, made once (a broken texts file stops the start-up)."""
    notices = {lang: privacy_notice(settings, lang) for lang in ("da", "en")}
    return lambda lang: notices.get(lang, notices["da"])
