"""Pools (`/pools`, `/pools/{id}`), people and roles (`/people`) and the mail that waits (`/outbox`).

Who may see what is the read model's (`ideaflow.administration`, the container's `administration`):
a page it refuses answers 403 and the attempt is in the refusals audit. Changes go through the
service layer (`Services.create_pool`, `add_person`, `grant_role`, `revoke_role`, `flush_outbox` of the
mail the person's outbox lists, `Administration.set_criteria`), which checks the person again and
records refusals itself.

A role is revoked only from the page that asks to confirm it (`/people/roles/revoke`: the person, the role,
the pool, and what they lose); `/people` links to it. Mail delivered from `/outbox` answers with a redirect,
so a reload delivers nothing again.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.signin import Account
from states.criteria import TAARNBY_CRITERIA, Criterion
from states.errors import Conflict, IdeaflowError, NotAllowed, NotFound
from states.intake import POOL_TEXT_MAX
from states.model import GatePolicy, local_midnight
from states.text import whole_number
from states.vocabulary import (
    COPENHAGEN,
    GRANTABLE_ROLES,
    MAX_DEADLINE_DAYS,
    MAX_REMINDER_DAYS,
    DeadlinePolicy,
    Language,
    Role,
)
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
SAME_NAME = N_("Another criterion is named %(criterion)s already (capital letters aside): give each criterion its "
               "own name.")
EXTRA_ROWS = 2  # empty criteria at the end of the form, to add new ones without JavaScript
#: Said when somebody else saved the settings while the form was open (`states.fingerprint`): nothing was saved.
CRITERIA_CHANGED_MEANWHILE = N_("Somebody else saved the criteria while you had this page open, so nothing was "
                                "saved. What you typed is kept below; the criteria saved now are on the pool's "
                                "page. Look at them, then save again.")
INTAKE_CHANGED_MEANWHILE = N_("Somebody else saved the intake of ideas while you had this page open, so nothing was "
                              "saved. What you typed is kept below, and what is saved now is shown where it differs. "
                              "Look at it, then save again.")
#: The intake form's fields and their labels, in the order of the form.
INTAKE_FIELDS = {"opens": N_("First day for ideas"), "closes": N_("Last day for ideas"),
                 "description": N_("What the pool supports"), "criteria_text": N_("The criteria in plain words"),
                 "grant_min_dkk": N_("Smallest amount given"), "grant_max_dkk": N_("Largest amount given")}
#: The intake's settings (`states.intake.PoolIntake`) -> the form's fields.
INTAKE_SETTINGS = {"opens_at": "opens", "closes_at": "closes", "description": "description",
                   "criteria_text": "criteria_text", "grant_min_dkk": "grant_min_dkk", "grant_max_dkk": "grant_max_dkk"}


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
    days = {key: form.whole_number(key, required=True, low=1, high=MAX_DEADLINE_DAYS, example=30)
            for key in ("screening_days", "funding_days", "evaluation_days")}
    reminder = form.whole_number("reminder_days", required=True, low=0, high=MAX_REMINDER_DAYS, example=5)
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
                                               "intake_setting": lambda name: _t(request, INTAKE_FIELDS[
                                                   INTAKE_SETTINGS[name]]) if name in INTAKE_SETTINGS else name,
                                               **formatters(request)})


@router.get("/pools/{pool_id}/criteria")
def criteria_form(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    _admin(request).require_administrator(person.email, "edit_criteria", _now(request))
    page = _admin(request).pool(pool_id, person.email, _now(request))
    values, lang = {"seen": page.criteria_seen}, pages.language(request)
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
    criteria, names = [], {}  # each name's case-folded form -> the name as first typed
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
            form.error(f"name-{n}", SAME_NAME, criterion=names[name.casefold()])
        names.setdefault(name.casefold(), name)
        criteria.append(Criterion(name, weight or 1.0, form.value(f"must-{n}") == "yes", description))
    if not criteria and not form.errors:
        form.error("name-0", NO_CRITERIA)
    if not form.errors:
        try:
            changed = _admin(request).set_criteria(pool_id, tuple(criteria), _now(request), by=person.email,
                                                   seen=form.value("seen") or None)
        except Conflict:
            # Saved by somebody else meanwhile: what was typed stays, to look at the criteria and save again.
            fresh = _admin(request).pool(pool_id, person.email, _now(request))
            form.values["seen"] = fresh.criteria_seen
            form.error(Form.GENERAL, CRITERIA_CHANGED_MEANWHILE)
            response = _criteria_page(request, fresh, form, rows)
            response.status_code = 409
            return response
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
    """A criterion's weight as `states.criteria` takes it (above 0, at most 100; empty: 1, as in a criteria
    file), written with a decimal point or comma; None if it is no such number."""
    if not text.strip():
        return 1.0
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if 0 < value <= 100 else None


@router.get("/pools/{pool_id}/intake")
def intake_form(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    page = _admin(request).pool(pool_id, person.email, _now(request))
    return _intake_page(request, page, Form({**_intake_values(page), "seen": page.intake_seen}))


def _intake_values(page) -> dict[str, str]:
    """The intake form's fields as the page's settings fill them in."""
    intake = page.pool.intake
    return {"opens": _local_day(intake.opens_at), "closes": _local_day(intake.closes_at, last=True),
            "description": intake.description, "criteria_text": intake.criteria_text,
            "grant_min_dkk": "" if intake.grant_min_dkk is None else str(intake.grant_min_dkk),
            "grant_max_dkk": "" if intake.grant_max_dkk is None else str(intake.grant_max_dkk)}


@router.post("/pools/{pool_id}/intake")
def save_intake(request: Request, pool_id: int, person: Annotated[Account, Depends(signed_in)],
                form: PostedForm) -> Response:
    """The window (whole Copenhagen days: it opens as the first day begins and closes as the last one
    ends), the public description, the criteria in plain words and the amounts given.

    The form carries the fingerprint of the settings it was filled in from (`seen`): saved from an older
    copy (somebody else saved meanwhile) it answers 409 with what was typed, what is saved now where it
    differs, and nothing saved."""
    page = _admin(request).pool(pool_id, person.email, _now(request))
    opens, closes = _day_field(form, "opens"), _day_field(form, "closes")
    changes = {
        "opens_at": local_midnight(opens) if opens else None,
        "closes_at": local_midnight(closes + timedelta(days=1)) if closes else None,
        "description": form.text("description", max_length=POOL_TEXT_MAX, multiline=True),
        "criteria_text": form.text("criteria_text", max_length=POOL_TEXT_MAX, multiline=True),
        "grant_min_dkk": form.whole_number("grant_min_dkk", low=1),
        "grant_max_dkk": form.whole_number("grant_max_dkk", low=1),
    }
    if not form.errors:
        try:
            request.app.state.container.intake.set_intake(page.pool.name, _now(request), by=person.email,
                                                          seen=form.value("seen") or None, **changes)
        except Conflict:
            fresh = _admin(request).pool(pool_id, person.email, _now(request))
            saved = _intake_values(fresh)
            form.values["seen"] = fresh.intake_seen
            form.error(Form.GENERAL, INTAKE_CHANGED_MEANWHILE)
            differs = [(_t(request, label), saved[name]) for name, label in INTAKE_FIELDS.items()
                       if _typed(form.value(name)) != _typed(saved[name])]
            return _intake_page(request, fresh, form, saved_now=differs, status_code=409)
        except IdeaflowError as error:
            form.failed(error, {name: (name, label) for name, label in INTAKE_FIELDS.items()})
        else:
            return RedirectResponse(f"/pools/{pool_id}?status=intake_saved", status_code=303)
    response = _intake_page(request, page, form)
    response.status_code = 422
    return response


def _intake_page(request: Request, page, form: Form, saved_now: list[tuple[str, str]] = (),
                 status_code: int = 200) -> Response:
    """`saved_now`: (label, value) of the settings saved meanwhile where they differ from what was typed."""
    # A day typed in another form (a browser without a date picker) is shown as typed, in a text field:
    # a date field would show it empty.
    kinds = {name: "text" if form.value(name).strip() and _not_a_day(form.value(name)) else "date"
             for name in ("opens", "closes")}
    return pages.render(request, "pool_intake.html", {"page": page, "form": form, "day_field": kinds,
                                                      "saved_now": saved_now}, status_code=status_code)


def _typed(value: str) -> str:
    """A field's value as compared with what is saved (a browser sends a text area's lines ended by CR LF)."""
    return value.replace("\r\n", "\n").strip()


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
    """Grant a role (the form at the foot of the page). A revocation is confirmed first: "revoke" posted
    here (a page of an older release) leads to the page that asks (`/people/roles/revoke`), and revokes nothing."""
    change = form.value("change")
    email, role, pool_name = form.value("grant_email"), form.value("grant_role"), form.value("grant_pool")
    if change == "revoke":
        return RedirectResponse(_revoke_url(email, role, pool_name), status_code=303)
    if not email:
        form.error("grant_email", CHOOSE)
    if role not in {r.value for r in GRANTABLE_ROLES}:
        form.error("grant_role", CHOOSE)
    if change != "grant":
        form.error(Form.GENERAL, CHOOSE)
    if not form.errors:
        try:
            changed = request.app.state.services.grant_role(email, Role(role), _now(request), pool=pool_name or None,
                                                            by=person.email)
        except IdeaflowError as error:
            form.failed(error, {"email": ("grant_email", N_("Person")), "role": ("grant_role", N_("Role")),
                                "pool": ("grant_pool", N_("Pool"))}, says={"role.everywhere": EVERY_POOL_ONLY})
        else:
            status = "role_granted" if changed else "role_unchanged"
            return RedirectResponse(f"/people?status={status}", status_code=303)
    return _people_page(request, person, form, 422)


def _revoke_url(email: str, role: str, pool: str) -> str:
    return "/people/roles/revoke?" + urlencode({"email": email, "role": role, "pool": pool})


#: What a person loses with each role, said on the page that asks to confirm its revocation.
LOSES = {
    Role.ADMINISTRATOR: N_("They can no longer create pools, add people, give or take roles, change criteria or "
                           "send failed mail again, and no longer see all the mail that waits."),
    Role.COORDINATOR: N_("The pool's ideas leave their portfolio: they can no longer decide its gates, ask its "
                         "reviewers or plan its pilots, and they get no more mail about its ideas and no news of it "
                         "in their weekly digest."),
    Role.REVIEWER: N_("The pool's ideas are no longer asked of them: they leave their list of reviews to do, and "
                      "no review requests or reminders go to them. A review they have begun can no longer be "
                      "submitted; the reviews they have submitted stay in the record and the coordinators "
                      "still see them."),
}


@router.get("/people/roles/revoke")
def confirm_revoke(request: Request, person: Annotated[Account, Depends(signed_in)], email: str = "",
                   role: str = "", pool: str = "") -> Response:
    """The page that asks an administrator to confirm a revocation: whom, which role on which pool, and
    what they lose with it. Only its POST revokes."""
    return _revoke_page(request, person, email, role, pool, Form({}))


@router.post("/people/roles/revoke")
def revoke(request: Request, person: Annotated[Account, Depends(signed_in)], form: PostedForm) -> Response:
    email, role, pool = form.value("email"), form.value("role"), form.value("pool")
    try:
        changed = request.app.state.services.revoke_role(email, _grantable(request, person, role), _now(request),
                                                         pool=pool or None, by=person.email)
    except NotAllowed:
        raise  # not an administrator: a page of its own (403), recorded once
    except IdeaflowError as error:
        form.failed(error, {}, says={"role.everywhere": EVERY_POOL_ONLY})
        return _revoke_page(request, person, email, role, pool, form, 422)
    return RedirectResponse(f"/people?status={'role_revoked' if changed else 'role_unchanged'}", status_code=303)


def _revoke_page(request: Request, person: Account, email: str, role: str, pool: str, form: Form,
                 status_code: int = 200) -> Response:
    revocation = _admin(request).revocation(email, _grantable(request, person, role), pool or None, person.email,
                                            _now(request))
    return pages.render(request, "revoke_role.html", {
        "revocation": revocation, "form": form, "role_name": _t(request, ROLE_NAMES[Role(role)]),
        "loses": _t(request, LOSES[Role(role)])}, status_code=status_code)


def _grantable(request: Request, person: Account, role: str) -> Role:
    """The role a revocation names; no such page for anything else (an administrator's typo), and for
    anybody but an administrator a refusal first, recorded, as for a role there is."""
    if role not in {r.value for r in GRANTABLE_ROLES}:
        _admin(request).require_administrator(person.email, "revoke_roles", _now(request))
        raise NotFound("role.not_grantable", field="role", value=role, choices=list(GRANTABLE_ROLES))
    return Role(role)


def _administers(person: Account) -> bool:
    return Role.ADMINISTRATOR in person.roles


# -- the outbox ----------------------------------------------------------------------------------------


@router.get("/outbox")
def outbox(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """The mail that waits or failed; after a "try again now" or "send again" (`?status=`), what it did, in
    the status region: a failure as a warning, with the delivery's own words (`_delivered`)."""
    lines = _admin(request).outbox(person.email, _now(request))
    outcome = _outcome(request, pages.status_details(request))
    return pages.render(request, "outbox.html", {
        "lines": lines, "administrator": _administers(person),
        "kind_name": lambda kind: _t(request, MAIL_KINDS[kind]) if kind in MAIL_KINDS else kind,
        **({"status": outcome, "status_alert": "alert-warning"} if outcome else {}),
        **formatters(request)})


OUTBOX_FAILED = N_("Delivery failed: %(cause)s. The mail waits and is tried again later.")
OUTBOX_FAILED_FOR_GOOD = N_("Delivery failed for good: %(cause)s. The mail is listed below as failed.")
CAUSE_SHOWN = 500  # characters of a mail server's error, at most


def _delivered(request: Request, report: FlushReport, done: str) -> Response:
    """After a delivery: back to the page (`?status=<done>`, so a reload delivers nothing again). When the mail
    did not reach the mail server, the page says why (the cause the delivery met) or where it went instead;
    those words go along signed for this browser (`pages.redirect_with_status`), not in the address."""
    if report.retrying or report.failed:  # in this delivery (the report's other counts are of all the outbox)
        details = {"failed": "retrying" if report.retrying else "for_good",
                   "cause": (report.cause or "?")[:CAUSE_SHOWN]}
    elif report.folder is not None and report.sent:
        details = {"written": report.sent, "folder": report.folder}
    else:
        details = None
    return pages.redirect_with_status(request, "/outbox", done, details)


def _outcome(request: Request, details: dict | None) -> str:
    """The status region's words for what `_delivered` sent along, in the page's language ("" for none)."""
    lang = pages.language(request)
    if details is None:
        return ""
    if details.get("failed") in ("retrying", "for_good"):
        text = OUTBOX_FAILED if details["failed"] == "retrying" else OUTBOX_FAILED_FOR_GOOD
        return i18n.gettext(lang, text, cause=str(details.get("cause", "?")))
    written = details.get("written")
    if isinstance(written, int) and written > 0:
        return i18n.translations(lang).ngettext(
            "%(num)d message was not sent but written as an .eml file to the folder %(folder)s: no mail server "
            "is set up (IDEAFLOW_SMTP_HOST).",
            "%(num)d messages were not sent but written as .eml files to the folder %(folder)s: no mail server "
            "is set up (IDEAFLOW_SMTP_HOST).", written) % {"num": written, "folder": str(details.get("folder"))}
    return ""


@router.post("/outbox/flush")
def flush(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """Deliver now the mail the page lists for the person, also what waits for its retry (as `ideaflow outbox
    --flush` does for all of it)."""
    container, now = request.app.state.container, _now(request)
    listed = _admin(request).mail_to_flush(person.email, now)
    if not listed:
        return pages.redirect_with_status(request, "/outbox", "mail_tried")
    report = container.services.flush_outbox(now, container.mail_transport(), container.letterhead,
                                             retry_deferred=True, only=listed)
    return _delivered(request, report, "mail_tried")


@router.post("/outbox/resend")
def resend(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """An administrator sends the mail that failed for good again, now (`Services.resend_failed`, as
    `ideaflow outbox --resend-failed --flush`); the service refuses anybody else, recorded."""
    container, now = request.app.state.container, _now(request)
    resent = container.services.resend_failed(now, by=person.email)
    if not resent.ids:
        return pages.redirect_with_status(request, "/outbox", "mail_resent")
    report = container.services.flush_outbox(now, container.mail_transport(), container.letterhead, only=resent.ids)
    return _delivered(request, report, "mail_resent")
