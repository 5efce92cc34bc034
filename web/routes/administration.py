"""Pools (`/pools`, `/pools/{id}`), people and roles (`/people`) and the mail that waits (`/outbox`).

Who may see what is the read model's (`ideaflow.administration`, the container's `administration`):
a page it refuses answers 403 and the attempt is in the refusals audit. Changes go through the
service layer (`Services.create_pool`, `add_person`, `grant_role`, `revoke_role`, `flush_outbox` of the
mail the person's outbox lists, `Administration.set_criteria`), which checks the person again and
records refusals itself.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.signin import Account
from states.criteria import TAARNBY_CRITERIA, Criterion
from states.errors import IdeaflowError
from states.intake import POOL_TEXT_MAX
from states.model import GatePolicy, local_midnight
from states.text import whole_number
from states.vocabulary import COPENHAGEN, GRANTABLE_ROLES, DeadlinePolicy, Language, Role
from web import pages
from web.auth import signed_in
from web.forms import BAD_WEIGHT, CHOOSE, NOT_A_DAY, REQUIRED, Form, PostedForm
from web.routes.words import formatters, weight

if TYPE_CHECKING:
    from ideaflow.services import FlushReport

router = APIRouter()

ROLE_NAMES = {Role.ADMINISTRATOR: N_("administrator"), Role.COORDINATOR: N_("coordinator"),
              Role.REVIEWER: N_("reviewer")}
ON_DEADLINE = {DeadlinePolicy.ESCALATE: N_("Tell the pool's coordinators"),
               DeadlinePolicy.LAPSE: N_("Let the idea lapse (it is rejected)")}
#: What each kind of mail is, in words (notifications/templates names the kinds).
MAIL_KINDS = {
    "deadline_escalated": N_("Deadline passed"), "deadline_reminder": N_("Reminder of a deadline"),
    "digest": N_("Weekly digest"), "evaluation_recorded": N_("Evaluation recorded"),
    "gate_decided": N_("Decision"), "idea_received": N_("Receipt to the proposer"),
    "idea_resumed": N_("Idea resumed"), "idea_submitted": N_("New idea"), "idea_withdrawn": N_("Idea withdrawn"),
    "follow_up_joined": N_("Joined a pilot's follow-up group"), "follow_up_left": N_("Left a pilot's follow-up group"),
    "pilot_ended": N_("Pilot ended"), "pilot_replanned": N_("Pilot re-planned, to its follow-up group"),
    "pilot_started": N_("Pilot started"), "pilot_status": N_("Pilot put on hold, resumed or stopped"),
    "review_requested": N_("Review requested"), "signin_link": N_("Sign-in link"),
    "submission_confirm": N_("Confirmation of a submitted idea"),
    "withdrawal_received": N_("Receipt of a withdrawal, to the proposer"),
}
EVERY_POOL = ""
#: The page's words for refusals whose shared line speaks of the command line (`states.messages`).
PERSON_EXISTS = N_("%(email)s already exists; give them a role under 'Give a role'.")
EVERY_POOL_ONLY = N_("The administrator role holds for every pool: choose 'Every pool' under Pool.")
NO_CRITERIA = N_("Name at least one criterion.")
SAME_NAME = N_("Give each criterion its own name.")
EXTRA_ROWS = 2  # empty criteria at the end of the form, to add new ones without JavaScript


def _admin(request: Request):
    return request.app.state.container.administration


def _now(request: Request) -> datetime:
    return request.app.state.clock()


# -- pools ---------------------------------------------------------------------------------------------


@router.get("/pools")
def pools(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    listed = _admin(request).pools(person.email, _now(request))
    return pages.render(request, "pools.html", {"pools": listed, "administrator": _administers(person),
                                                **formatters(request)})


@router.get("/pools/new")
def new_pool(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    _admin(request).require_administrator(person.email, "create_pools", _now(request))
    policy = GatePolicy()
    return _new_pool_page(request, Form({
        "year": str(_now(request).year), "screening_days": str(policy.screening_days),
        "funding_days": str(policy.funding_days), "evaluation_days": str(policy.evaluation_days),
        "reminder_days": str(policy.reminder_days), "on_screening_deadline": policy.on_screening_deadline.value}))


@router.post("/pools/new")
def create_pool(request: Request, person: Annotated[Account, Depends(signed_in)], form: PostedForm) -> Response:
    name = form.text("name", required=True, max_length=200).strip()
    year = form.whole_number("year", required=True, low=2000, high=2200, example=2027, grouped=False)
    # Any whole number: what a budget must be (at least 1 krone) the domain says (`states.model.check_budget`).
    budget = form.whole_number("budget_dkk", required=True, low=-(10**12 - 1))
    days = {key: form.whole_number(key, required=True, low=1, high=365, example=30)
            for key in ("screening_days", "funding_days", "evaluation_days")}
    reminder = form.whole_number("reminder_days", required=True, low=0, high=365, example=5)
    on_deadline = form.value("on_screening_deadline")
    if on_deadline not in {p.value for p in DeadlinePolicy}:
        form.error("on_screening_deadline", CHOOSE)
    if form.errors:
        return form.invalid(request, "pool_new.html", _choices(request))
    policy = GatePolicy(days["screening_days"], days["funding_days"], days["evaluation_days"], reminder,
                        DeadlinePolicy(on_deadline))
    try:
        pool = request.app.state.services.create_pool(name, budget, year, _now(request), TAARNBY_CRITERIA, policy,
                                                      by=person.email)
    except IdeaflowError as error:
        form.failed(error, {"pool_name": ("name", N_("Name")), "budget_dkk": ("budget_dkk", N_("Budget")),
                            "year": ("year", N_("Budget year")),
                            "reminder_days": ("reminder_days", N_("Reminders: days before a deadline"))})
        return form.invalid(request, "pool_new.html", _choices(request))
    return RedirectResponse(f"/pools/{pool.id}?status=pool_created", status_code=303)


def _new_pool_page(request: Request, form: Form) -> Response:
    return pages.render(request, "pool_new.html", {"form": form, **_choices(request)})


def _choices(request: Request) -> dict:
    return {"on_deadline": [(p.value, _t(request, text)) for p, text in ON_DEADLINE.items()]}


def _t(request: Request, text: str) -> str:
    return i18n.gettext(pages.language(request), text)


@router.get("/pools/{pool_id}")
def pool(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    page = _admin(request).pool(pool_id, person.email, _now(request))
    return pages.render(request, "pool.html", {"page": page, "on_deadline": ON_DEADLINE,
                                               **formatters(request)})


@router.get("/pools/{pool_id}/criteria")
def criteria_form(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    _admin(request).require_administrator(person.email, "edit_criteria", _now(request))
    page = _admin(request).pool(pool_id, person.email, _now(request))
    values, lang = {}, pages.language(request)
    for n, c in enumerate(page.pool.criteria):
        values.update({f"name-{n}": c.name, f"weight-{n}": weight(c.weight, lang), f"description-{n}": c.description})
        if c.must_meet:
            values[f"must-{n}"] = "yes"
    extra = 0 if page.criteria_in_use else EXTRA_ROWS  # criteria reviewed on are kept: none to add
    return _criteria_page(request, page, Form(values), len(page.pool.criteria) + extra)


@router.post("/pools/{pool_id}/criteria")
def save_criteria(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)],
                  form: PostedForm) -> Response:
    page = _admin(request).pool(pool_id, person.email, _now(request))
    rows = min(whole_number(form.value("rows")) or 0, 60)
    criteria, names = [], set()
    for n in range(rows):
        name = form.text(f"name-{n}", max_length=60).strip()
        description = form.text(f"description-{n}", max_length=2000, multiline=True)
        if not name:
            # An emptied name removes a criterion; a new row with anything typed in it needs its name,
            # and is checked like any other (what was typed is not thrown away in silence).
            typed = form.value(f"weight-{n}").strip() or description.strip() or form.value(f"must-{n}")
            if n < len(page.pool.criteria) or not typed:
                continue
            form.error(f"name-{n}", REQUIRED)
        weight = _parse_weight(form.value(f"weight-{n}"))
        if weight is None:
            form.error(f"weight-{n}", BAD_WEIGHT)
        if name.casefold() in names:  # "Effekt" and "effekt" are one name (`states.criteria.check_criteria`)
            form.error(f"name-{n}", SAME_NAME)
        names.add(name.casefold())
        criteria.append(Criterion(name, weight or 1.0, form.value(f"must-{n}") == "yes", description))
    if not criteria and not form.errors:
        form.error("name-0", NO_CRITERIA)
    if not form.errors:
        try:
            changed = _admin(request).set_criteria(pool_id, tuple(criteria), _now(request), by=person.email)
        except IdeaflowError as error:
            form.failed(error, {})
        else:
            status = "criteria_saved" if changed else "criteria_unchanged"
            return RedirectResponse(f"/pools/{pool_id}?status={status}", status_code=303)
    response = _criteria_page(request, page, form, rows)
    response.status_code = 422
    return response


def _criteria_page(request: Request, page, form: Form, rows: int) -> Response:
    return pages.render(request, "pool_criteria.html", {"page": page, "form": form, "rows": rows})


def _parse_weight(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if 1 <= value <= 100 else None


@router.get("/pools/{pool_id}/intake")
def intake_form(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    page = _admin(request).pool(pool_id, person.email, _now(request))
    intake = page.pool.intake
    return _intake_page(request, page, Form({
        "opens": _local_day(intake.opens_at), "closes": _local_day(intake.closes_at, last=True),
        "description": intake.description, "criteria_text": intake.criteria_text,
        "grant_min_dkk": "" if intake.grant_min_dkk is None else str(intake.grant_min_dkk),
        "grant_max_dkk": "" if intake.grant_max_dkk is None else str(intake.grant_max_dkk)}))


@router.post("/pools/{pool_id}/intake")
def save_intake(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)],
                form: PostedForm) -> Response:
    """The window (whole Copenhagen days: it opens as the first day begins and closes as the last one
    ends), the public description, the criteria in plain words and the amounts given."""
    page = _admin(request).pool(pool_id, person.email, _now(request))
    opens, closes = _day_field(form, "opens"), _day_field(form, "closes")
    changes = {
        "opens_at": local_midnight(opens) if opens else None,
        "closes_at": local_midnight(closes + timedelta(days=1)) if closes else None,
        "description": form.text("description", max_length=POOL_TEXT_MAX, multiline=True),
        "criteria_text": form.text("criteria_text", max_length=POOL_TEXT_MAX, multiline=True),
        "grant_min_dkk": form.whole_number("grant_min_dkk"), "grant_max_dkk": form.whole_number("grant_max_dkk"),
    }
    if not form.errors:
        try:
            request.app.state.container.intake.set_intake(page.pool.name, _now(request), by=person.email, **changes)
        except IdeaflowError as error:
            form.failed(error, {"opens": ("opens", N_("First day for ideas")),
                                "closes": ("closes", N_("Last day for ideas")),
                                "grant_min_dkk": ("grant_min_dkk", N_("Smallest amount given")),
                                "grant_max_dkk": ("grant_max_dkk", N_("Largest amount given")),
                                "description": ("description", N_("What the pool supports")),
                                "criteria_text": ("criteria_text", N_("The criteria in plain words"))})
        else:
            return RedirectResponse(f"/pools/{pool_id}?status=intake_saved", status_code=303)
    response = _intake_page(request, page, form)
    response.status_code = 422
    return response


def _intake_page(request: Request, page, form: Form) -> Response:
    # A day typed in another form (a browser without a date picker) is shown as typed, in a text field:
    # a date field would show it empty.
    kinds = {name: "text" if form.value(name).strip() and _not_a_day(form.value(name)) else "date"
             for name in ("opens", "closes")}
    return pages.render(request, "pool_intake.html", {"page": page, "form": form, "day_field": kinds})


def _local_day(moment: datetime | None, *, last: bool = False) -> str:
    """The Copenhagen day a window bound falls on (for its end: the last day before it)."""
    if moment is None:
        return ""
    local = moment.astimezone(COPENHAGEN) - (timedelta(microseconds=1) if last else timedelta())
    return local.date().isoformat()


def _day_field(form: Form, name: str) -> date | None:
    value = form.value(name).strip()
    if not value:
        return None
    if _not_a_day(value):
        form.error(name, NOT_A_DAY)
        return None
    return date.fromisoformat(value)


def _not_a_day(value: str) -> bool:
    """Whether a date field's value is not a day as a date field sends it (year-month-day; `fromisoformat`
    also reads 20270201 and 2027-W05-1)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return True
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return True
    return False


# -- people and roles ----------------------------------------------------------------------------------


@router.get("/people")
def people(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    return _people_page(request, person, Form({"grant_pool": EVERY_POOL}))


def _people_page(request: Request, person: Account, form: Form, status_code: int = 200) -> Response:
    admin = _admin(request)
    now = _now(request)
    listed = admin.people(person.email, now)
    pool_names = [p.name for p in admin.pools(person.email, now)]
    return pages.render(request, "people.html", {
        "people": listed, "form": form,
        "role_name": lambda role: _t(request, ROLE_NAMES[role]) if role in ROLE_NAMES else role,
        "roles": [(r.value, _t(request, ROLE_NAMES[r])) for r in GRANTABLE_ROLES],
        "pool_choices": [(EVERY_POOL, _t(request, N_("Every pool")))] + [(name, name) for name in pool_names],
        "person_languages": [(lang.value, i18n.NAMES[lang.value], lang.value) for lang in Language],  # in its own
        "emails": [(p.email, f"{p.name} <{p.email}>") for p in listed],
    }, status_code=status_code)


@router.post("/people")
def add_person(request: Request, person: Annotated[Account, Depends(signed_in)], form: PostedForm) -> Response:
    email = form.email()
    name = form.text("name", required=True, max_length=200).strip()
    if form.value("lang") not in {lang.value for lang in Language}:
        form.error("lang", CHOOSE)
    if not form.errors:
        try:
            request.app.state.services.add_person(email, name, Role.PROPOSER, _now(request),
                                                  Language(form.value("lang")), by=person.email)
        except IdeaflowError as error:
            form.failed(error, {"email": ("email", N_("E-mail address")), "name": ("name", N_("Name"))},
                        says={"person.exists": PERSON_EXISTS})
        else:
            return RedirectResponse("/people?status=person_added", status_code=303)
    return _people_page(request, person, form, 422)


@router.post("/people/roles")
def change_role(request: Request, person: Annotated[Account, Depends(signed_in)], form: PostedForm) -> Response:
    """Grant (the form at the foot of the page) or revoke (a button beside each grant) a role."""
    change = form.value("change")
    email, role, pool_name = form.value("grant_email"), form.value("grant_role"), form.value("grant_pool")
    if not email:
        form.error("grant_email", CHOOSE)
    if role not in {r.value for r in GRANTABLE_ROLES}:
        form.error("grant_role", CHOOSE)
    if change not in ("grant", "revoke"):
        form.error(Form.GENERAL, CHOOSE)
    if not form.errors:
        services = request.app.state.services
        act = services.grant_role if change == "grant" else services.revoke_role
        try:
            changed = act(email, Role(role), _now(request), pool=pool_name or None, by=person.email)
        except IdeaflowError as error:
            form.failed(error, {"email": ("grant_email", N_("Person")), "role": ("grant_role", N_("Role")),
                                "pool": ("grant_pool", N_("Pool"))}, says={"role.everywhere": EVERY_POOL_ONLY})
        else:
            status = ("role_granted" if change == "grant" else "role_revoked") if changed else "role_unchanged"
            return RedirectResponse(f"/people?status={status}", status_code=303)
    return _people_page(request, person, form, 422)


def _administers(person: Account) -> bool:
    return Role.ADMINISTRATOR in person.roles


# -- the outbox ----------------------------------------------------------------------------------------


@router.get("/outbox")
def outbox(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    return _outbox_page(request, person)


def _outbox_page(request: Request, person: Account, outcome: str = "", *, failed: bool = False) -> Response:
    """The outbox page; `outcome`: what a "try again now" or "send again" just did, in the status region
    (a failure as a warning), when it needs words of the delivery's own (its cause, the mail folder)."""
    lines = _admin(request).outbox(person.email, _now(request))
    return pages.render(request, "outbox.html", {
        "lines": lines, "administrator": _administers(person),
        "kind_name": lambda kind: _t(request, MAIL_KINDS[kind]) if kind in MAIL_KINDS else kind,
        **({"status": outcome, "status_alert": "alert-warning" if failed else "alert-success"} if outcome else {}),
        **formatters(request)})


OUTBOX_FAILED = N_("Delivery failed: %(cause)s. The mail waits and is tried again later.")
OUTBOX_FAILED_FOR_GOOD = N_("Delivery failed for good: %(cause)s. The mail is listed below as failed.")


def _delivered(request: Request, person: Account, report: FlushReport, done: str) -> Response:
    """After a delivery: back to the page (`?status=<done>`) when the mail went to the mail server, else the
    page at once, saying why it did not (the cause the delivery met) or where the mail went instead."""
    lang = pages.language(request)
    if report.retrying or report.failed:  # in this delivery (the report's other counts are of all the outbox)
        text = OUTBOX_FAILED if report.retrying else OUTBOX_FAILED_FOR_GOOD
        return _outbox_page(request, person, i18n.gettext(lang, text, cause=report.cause or "?"), failed=True)
    if report.folder is not None and report.sent:
        outcome = i18n.translations(lang).ngettext(
            "%(num)d message was not sent but written as an .eml file to the folder %(folder)s: no mail server "
            "is set up (IDEAFLOW_SMTP_HOST).",
            "%(num)d messages were not sent but written as .eml files to the folder %(folder)s: no mail server "
            "is set up (IDEAFLOW_SMTP_HOST).", report.sent) % {"num": report.sent, "folder": report.folder}
        return _outbox_page(request, person, outcome, failed=True)
    return RedirectResponse(f"/outbox?status={done}", status_code=303)


@router.post("/outbox/flush")
def flush(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """Deliver now the mail the page lists for the person, also what waits for its retry (as `ideaflow outbox
    --flush` does for all of it)."""
    container, now = request.app.state.container, _now(request)
    listed = _admin(request).mail_to_flush(person.email, now)
    if not listed:
        return RedirectResponse("/outbox?status=mail_tried", status_code=303)
    report = container.services.flush_outbox(now, container.mail_transport(), container.letterhead,
                                             retry_deferred=True, only=listed)
    return _delivered(request, person, report, "mail_tried")


@router.post("/outbox/resend")
def resend(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """An administrator sends the mail that failed for good again, now (`Services.resend_failed`, as
    `ideaflow outbox --resend-failed --flush`); the service refuses anybody else, recorded."""
    container, now = request.app.state.container, _now(request)
    resent = container.services.resend_failed(now, by=person.email)
    if not resent.ids:
        return RedirectResponse("/outbox?status=mail_resent", status_code=303)
    report = container.services.flush_outbox(now, container.mail_transport(), container.letterhead, only=resent.ids)
    return _delivered(request, person, report, "mail_resent")
