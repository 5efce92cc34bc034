"""The idea page, `/ideas/{id}`, and every form on it, for the staff of the idea's pool.

What the page shows is `ideaflow.ideapage.idea_page`'s answer for the signed-in person, on every
request: the pool's coordinators, reviewers and administrators see the idea; a follower is sent to
their pilot's page (`/pilots/{id}`) and the proposer to their own ideas (`/my-ideas#idea-{id}`);
anybody else gets 404, and the attempt is in the refusals audit.

The forms offer only what the person may do now (`actions`), and each POST calls one service. Every
form carries the idea's version as the person saw it (`seen_version`): when anybody changed the idea
meanwhile (two coordinators deciding one gate at once), the later form is refused with status 409
and the page as it is now, saying so. The decision form also carries a key of its own per showing
(`request_id`, `states.form_keys`), so the same form sent twice records one decision. A form with
bad input comes back with status 422, its values, the error summary and each field's message.
Success answers 303 back to the page, with a status message in the live region. The portfolio's
filtered list travels along as `?from=<its query>` and back (`_neighbours.html`: the way back to the
list, previous and next in it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.ideapage import IdeaPage
from ideaflow.signin import Account
from states import formatting
from states.errors import Conflict, IdeaflowError, NotAllowed
from states.form_keys import form_key, new_form_key
from states.messages import sentence
from states.rules import DECISIONS, Sight
from states.text import whole_number
from states.vocabulary import Decision, Outcome
from web import pages
from web.auth import signed_in
from web.forms import REQUIRED, Form, PostedForm
from web.routes import history_words
from web.routes.words import file_size, weight

router = APIRouter()
#: The longest `from`: the portfolio's query and the idea's place in it hold up to three texts of 200 letters
#: (the text and department filters, a title as `at`), and each æ, ø or å is quoted to six characters (%C3%A6).
FROM_MAX = 4000
SignedIn = Annotated[Account, Depends(signed_in)]

CHOOSE_DECISION = N_("Choose a decision.")
CHOOSE_SCORE = N_("Choose a score from 1 to 5 for %(criterion)s.")
CHOOSE_OUTCOME = N_("Choose an outcome.")
CHOOSE_REVIEWER = N_("Choose at least one reviewer.")
NOT_A_DATE = N_("Write a date, for example 2027-01-04.")
ALREADY_DECIDED = N_("%(who)s decided on this idea while you had the page open. Here is the idea as it is now.")
#: What another coordinator decided meanwhile, said with the gate (`AT_GATE`, or nothing) it was decided at.
DECIDED = {"go": N_("%(who)s approved the idea%(at_gate)s while you had the page open. Here is the idea as it "
                    "is now."),
           "kill": N_("%(who)s rejected the idea%(at_gate)s while you had the page open. Here is the idea as it "
                      "is now."),
           "hold": N_("%(who)s put the idea on hold%(at_gate)s while you had the page open. Here is the idea as it "
                      "is now."),
           "recycle": N_("%(who)s sent the idea back for revision%(at_gate)s while you had the page open. Here is "
                         "the idea as it is now.")}
AT_GATE = {"submitted": N_(" at the screening"), "screened": N_(" at the funding gate")}
YOU_ALREADY_DECIDED = N_("You have already decided on this idea. Here is the idea as it is now.")
ALREADY_EVALUATED = N_("%(who)s evaluated this idea while you had the page open. Here is the idea as it is now.")
YOU_ALREADY_EVALUATED = N_("You have already evaluated this idea. Here is the idea as it is now.")

# Words the page shows for the domain's values (the record keeps the values themselves).
TERMS = {
    "stage": {"submitted": N_("submitted"), "screened": N_("screened"), "funded": N_("funded"),
              "piloting": N_("piloting"), "evaluated": N_("evaluated"), "rejected": N_("rejected"),
              "withdrawn": N_("withdrawn"), "on_hold": N_("on hold")},
    "gate": {"screening": N_("screening"), "funding": N_("funding"), "evaluation": N_("evaluation")},
    "decision": {"go": N_("Go: approve"), "kill": N_("Kill: reject"), "hold": N_("Hold: put on hold"),
                 "recycle": N_("Recycle: send back to the proposer for revision")},
    "outcome": {"scale": N_("Scale up"), "adjust": N_("Adjust"), "stop": N_("Stop")},
    "action": {"submit": N_("Submitted"), "go": N_("Approved"), "kill": N_("Rejected"), "hold": N_("Put on hold"),
               "recycle": N_("Sent back for revision"), "resume": N_("Resumed"), "withdraw": N_("Withdrawn"),
               "assign": N_("Reviewer asked"), "submit_review": N_("Review submitted"),
               "revise_review": N_("Review revised"), "plan_pilot": N_("Pilot planned"),
               "replan_pilot": N_("Pilot re-planned"), "start_pilot": N_("Pilot started"),
               "open_evaluation": N_("Pilot ended, evaluation open"), "evaluate": N_("Evaluated"),
               "escalate": N_("Deadline passed, escalated"), "lapse": N_("Lapsed at the deadline"),
               "conflict": N_("Conflict of interest declared"), "forget": N_("Proposer forgotten"),
               "revise": N_("Revised by the proposer"), "release": N_("Grant released to the pool"),
               "close_evaluation": N_("Pilot extended, evaluation closed")},
}

# The service's field names -> (this page's field, its label), for `Form.failed`.
DECIDE_FIELDS = {"amount_dkk": ("amount", N_("Amount to allocate")), "reason": ("reason", N_("Reason")),
                 "decision": ("decision", N_("Decision"))}
PILOT_FIELDS = {"start": ("start", N_("First day")), "end": ("end", N_("Last day")),
                "sites": ("sites", N_("Test sites")), "followers": ("followers", N_("Follow-up group")),
                "measures": ("measures", N_("Measures"))}
EVALUATE_FIELDS = {"comment": ("evaluation_comment", N_("Comment")), "outcome": ("outcome", N_("Outcome"))}
CONFLICT_FIELDS = {"reason": ("conflict_reason", N_("Why you have a conflict of interest"))}
ASSIGN_FIELDS = {"reviewers": ("reviewer-1", N_("Reviewers"))}


def _now(request: Request):
    return request.app.state.clock()


def _read(request: Request, idea_id: int, person: Account) -> IdeaPage:
    """The page's read model; 404 for anybody who may not see the idea (refusal recorded) or no such idea."""
    try:
        return request.app.state.container.views.idea_page(idea_id, person.email, _now(request))
    except NotAllowed:
        raise HTTPException(404) from None


def _staff(request: Request, idea_id: int, person: Account) -> IdeaPage:
    """The page for a form's POST: only the pool's staff act here (the others' pages are their own)."""
    page = _read(request, idea_id, person)
    if page.sight != Sight.STAFF:
        raise HTTPException(404)
    return page


@router.get("/ideas/{idea_id}")
def idea(request: Request, idea_id: int, person: SignedIn,
         from_: Annotated[str, Query(alias="from", max_length=FROM_MAX)] = "") -> Response:
    page = _read(request, idea_id, person)
    if page.sight == Sight.FOLLOWER:
        return RedirectResponse(f"/pilots/{idea_id}", status_code=303)
    if page.sight == Sight.PROPOSER:
        return RedirectResponse(f"/my-ideas#idea-{idea_id}", status_code=303)
    return _render(request, page, from_)


def _render(request: Request, page: IdeaPage, back: str, failed: str = "", form: Form | None = None, *,
            status_code: int = 200, unsent: tuple[tuple[str, str], ...] = ()) -> Response:
    """The page with every form at its defaults, except the one that `failed` (shown with its values,
    messages and the error summary). `unsent`: (label, text) of what the person typed into a form that
    somebody else's change made moot, shown to copy rather than put back into a form for another gate."""
    forms = _blank_forms(page, back)
    if failed:
        # A new attempt acts on the state shown now, and a decision under a key of its own (the key the
        # form came with may be a decision's already): the blank form's hidden fields, the typed values.
        blank = forms[failed].values
        form.values.update({name: blank[name] for name in HIDDEN_FIELDS if name in blank})
        forms[failed] = form
    lang = pages.language(request)
    return pages.render(request, "idea.html", {
        "page": page, "idea": page.idea, "actions": set(page.idea.actions), "forms": forms, "failed": failed,
        **({"form": form} if failed else {}), **_words(page, lang),
        "unsent": [(i18n.gettext(lang, label), text) for label, text in unsent],
    }, status_code=status_code)


#: What a form carries besides what the person typed (`_blank_forms` sets them, anew for each page).
HIDDEN_FIELDS = ("seen_version", "from", "gate", "decided", "request_id")


def _decisions(page: IdeaPage) -> list:
    """The decisions in the idea's history, oldest first."""
    return [h for h in page.idea.history if h.action in {d.value for d in Decision}]


def _blank_forms(page: IdeaPage, back: str) -> dict[str, Form]:
    hidden = {"seen_version": str(page.version), "from": back}
    pilot = page.idea.pilot
    planned = {"start": pilot.start.isoformat(), "end": pilot.end.isoformat(), "sites": "\n".join(pilot.sites),
               "followers": "\n".join(pilot.followers), "measures": "\n".join(pilot.measures)} if pilot else {}
    seen = {"decide": {"gate": page.idea.open_gate or "", "decided": str(len(_decisions(page))),
                       "request_id": new_form_key()}, "pilot": planned}
    return {name: Form({**hidden, **seen.get(name, {})})
            for name in ("decide", "assign", "pilot", "evaluate", "resume", "conflict")}


def _words(page: IdeaPage, lang: str) -> dict:
    """The page's helpers: amounts, days and moments the reader's way, and the domain's values in words."""
    idea = page.idea
    decisions = [(d.value, i18n.gettext(lang, TERMS["decision"][d.value]))
                 for d in DECISIONS if d.value in idea.actions]
    return {
        "kr": lambda amount: formatting.dkk(amount, lang),
        "when": lambda moment: formatting.moment(moment, lang),
        "day": lambda value: formatting.day(value, lang),
        "score": lambda value: formatting.score(value, lang),
        "term": lambda kind, value: i18n.gettext(lang, TERMS[kind][value]) if value in TERMS[kind] else value,
        "decisions": decisions,
        "outcomes": [(o.value, i18n.gettext(lang, TERMS["outcome"][o.value])) for o in Outcome],
        "score_choices": [(str(n), str(n)) for n in range(1, 6)],
        "name": page.name,
        "size": lambda n_bytes: file_size(n_bytes, lang),
        "weight": lambda value: weight(value, lang),
        "funding_go": idea.open_gate == "funding" and "go" in idea.actions,
        # A gate open without a go among its decisions says why (the domain's reason, as a sentence).
        "no_go": sentence(page.go_blocked, lang) if page.go_blocked and "go" not in idea.actions else "",
        "reason": lambda line: history_words.reason(line.action, line.reason, lang),
    }


def _seen(form: Form) -> int | None:
    value = form.value("seen_version")
    return whole_number(value)


def _done(idea_id: int, status: str, form: Form) -> RedirectResponse:
    query = {"status": status, **({"from": form.value("from")} if form.value("from") else {})}
    return RedirectResponse(f"/ideas/{idea_id}?{urlencode(query)}", status_code=303)


#: Given the idea page as it is now, the status saying that what a form asked for already holds, or None.
Holds = Callable[[IdeaPage], str | None]


@dataclass(frozen=True, slots=True)
class Overtaken:
    """How a form says that somebody else's change did what it was about to do: `by` finds, on the idea
    as it is now, who made that change (None: the change was another); `yours` is said when that was the
    reader, `others` (with `%(who)s`) when it was somebody else, or `said` gives the words and their
    values for the change found (with `%(who)s` too). The change moved the idea on, so the form comes
    back blank: what was typed into its `copy` fields (field, label) is shown as text to copy, not left
    in a form that would now act on another gate."""

    by: Callable[[IdeaPage], str | None]
    yours: str
    others: str
    said: Callable[[IdeaPage, str], tuple[str, dict[str, str]]] | None = None
    copy: tuple[tuple[str, str], ...] = ()


def _attempt(request: Request, page: IdeaPage, name: str, form: Form, fields: dict, act,
             holds: Holds = lambda fresh: None, overtaken: Overtaken | None = None) -> Response | None:
    """Run the service call `act`; None when it worked, else the page with the refusal on the form.

    A change made meanwhile (the version the form carries is not the idea's) answers 409 with the
    page as it is now, unless what the form asked for already `holds` on it (a double click, a second
    tab): that answers as a success does, saying so. Where the change did what the form meant to do
    (a gate decided, the idea evaluated), `overtaken` says who did it. Any other refusal or bad input
    lands on its field (422). Who-may-do-what refusals are not the form's business: they propagate to
    the console's 403 page, recorded."""
    back = form.value("from")
    try:
        act()
    except NotAllowed:
        raise
    except Conflict as changed:
        person = pages.account(request)
        fresh = _read(request, page.idea.id, person)
        if (status := holds(fresh)) is not None:
            return _done(page.idea.id, status, form)
        unsent: tuple[tuple[str, str], ...] = ()
        if overtaken is not None and (by := overtaken.by(fresh)) is not None:
            if by == person.email:  # their own other tab, or a form from the browser's history
                form.error(Form.GENERAL, overtaken.yours)
            elif overtaken.said is not None:
                words, values = overtaken.said(fresh, pages.language(request))
                form.error(Form.GENERAL, words, who=fresh.name(by), **values)
            else:
                form.error(Form.GENERAL, overtaken.others, who=fresh.name(by))
            unsent = tuple((label, typed) for field, label in overtaken.copy if (typed := form.value(field).strip()))
            form.values.clear()  # the hidden fields are the page's as it is now (`_render`)
        else:
            form.failed(changed, {})
        return _render(request, fresh, back, name, form, status_code=409, unsent=unsent)
    except IdeaflowError as error:
        form.failed(error, fields)
        return _render(request, page, back, name, form, status_code=422)
    return None


@router.post("/ideas/{idea_id}/decide")
def decide(request: Request, idea_id: int, person: SignedIn, form: PostedForm) -> Response:
    page = _staff(request, idea_id, person)
    choice = form.value("decision")
    if choice not in {d.value for d in Decision}:
        form.error("decision", CHOOSE_DECISION)
    amount = form.whole_number("amount", low=1)
    reason = form.text("reason", max_length=5000, multiline=True)
    if form.errors:
        return _render(request, page, form.value("from"), "decide", form, status_code=422)
    failed = _attempt(request, page, "decide", form, DECIDE_FIELDS, lambda: request.app.state.services.decide(
        idea_id, Decision(choice), person.email, _now(request), amount_dkk=amount, reason=reason,
        request_id=form_key(form.value("request_id")), seen_version=_seen(form)),
        overtaken=Overtaken(partial(_decider, seen_gate=form.value("gate"), seen=_seen_decisions(form)),
                            YOU_ALREADY_DECIDED, ALREADY_DECIDED,
                            said=partial(_decided, seen=_seen_decisions(form)), copy=(("reason", N_("Reason")),)))
    return failed or _done(idea_id, f"decision_{choice}", form)


def _seen_decisions(form: Form) -> int | None:
    """How many decisions the idea's history had when the decision form was shown (None: a form without it)."""
    return whole_number(form.value("decided"), max_digits=6)


def _overtaking(page: IdeaPage, seen: int | None):
    """The first decision made after the form was shown (the one that decided what the form was about)."""
    decisions = _decisions(page)
    return decisions[seen] if seen is not None and len(decisions) > seen else None


def _decider(page: IdeaPage, seen_gate: str, seen: int | None = None) -> str | None:
    """Who decided the gate the form was shown at, once another decision was made since (a recycle keeps
    the gate but begins a new round) or that gate is no longer open (else None)."""
    if (first := _overtaking(page, seen)) is not None:
        return first.by
    if seen is not None or seen_gate == (page.idea.open_gate or ""):
        return None
    decided = [h.by for h in _decisions(page)]
    return decided[-1] if decided else None


def _decided(page: IdeaPage, lang: str, seen: int | None) -> tuple[str, dict[str, str]]:
    """What the decision made meanwhile was, and at which gate, in the reader's words."""
    first = _overtaking(page, seen) or _decisions(page)[-1]
    at_gate = AT_GATE.get(first.from_ or "")
    return DECIDED[first.action], {"at_gate": i18n.gettext(lang, at_gate) if at_gate else ""}


@router.post("/ideas/{idea_id}/assign")
def assign(request: Request, idea_id: int, person: SignedIn, form: PostedForm) -> Response:
    page = _staff(request, idea_id, person)
    chosen = tuple(value for key, value in form.values.items() if key.startswith("reviewer-"))
    if not chosen:
        form.error("reviewer-1", CHOOSE_REVIEWER)
        return _render(request, page, form.value("from"), "assign", form, status_code=422)
    failed = _attempt(request, page, "assign", form, ASSIGN_FIELDS, lambda: request.app.state.services.assign_reviewers(
        idea_id, person.email, _now(request), chosen, seen_version=_seen(form)),
        holds=lambda fresh: "reviewers_already_asked" if set(chosen) <= {r.email for r in fresh.reviewers if r.named}
        else None)
    return failed or _done(idea_id, "reviewers_asked", form)


def _day(form: Form, name: str) -> date | None:
    value = form.value(name).strip()
    if not value:
        form.error(name, REQUIRED)
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        form.error(name, NOT_A_DATE)
        return None


def _lines(form: Form, name: str, *, required: bool = False) -> tuple[str, ...]:
    text = form.text(name, required=required, max_length=10_000, multiline=True)
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@router.post("/ideas/{idea_id}/pilot")
def plan_pilot(request: Request, idea_id: int, person: SignedIn, form: PostedForm) -> Response:
    page = _staff(request, idea_id, person)
    start, end = _day(form, "start"), _day(form, "end")
    sites = _lines(form, "sites", required=True)
    followers, measures = _lines(form, "followers"), _lines(form, "measures")
    if form.errors:
        return _render(request, page, form.value("from"), "pilot", form, status_code=422)
    asked = (start, end, sites, followers, measures)

    def planned(fresh: IdeaPage) -> str | None:
        pilot = fresh.idea.pilot
        shown = pilot and (pilot.start, pilot.end, tuple(pilot.sites), tuple(pilot.followers), tuple(pilot.measures))
        return "pilot_already_planned" if shown == asked else None

    failed = _attempt(request, page, "pilot", form, PILOT_FIELDS, lambda: request.app.state.services.plan_pilot(
        idea_id, start=start, end=end, sites=sites, now=_now(request), by=person.email, followers=followers,
        measures=measures, seen_version=_seen(form)), holds=planned)
    return failed or _done(idea_id, "pilot_planned", form)


@router.post("/ideas/{idea_id}/evaluate")
def evaluate(request: Request, idea_id: int, person: SignedIn, form: PostedForm) -> Response:
    page = _staff(request, idea_id, person)
    scores = {}
    for number, criterion in enumerate(page.criteria, start=1):
        value = form.value(f"score-{number}")
        if value not in {"1", "2", "3", "4", "5"}:
            form.error(f"score-{number}", CHOOSE_SCORE, criterion=criterion.name)
        else:
            scores[criterion.name] = int(value)
    outcome = form.value("outcome")
    if outcome not in {o.value for o in Outcome}:
        form.error("outcome", CHOOSE_OUTCOME)
    comment = form.text("evaluation_comment", max_length=5000, multiline=True)
    if form.errors:
        return _render(request, page, form.value("from"), "evaluate", form, status_code=422)

    def same_evaluation(fresh: IdeaPage) -> str | None:
        done = fresh.idea.evaluation
        asked = (person.email, scores, outcome, comment)
        return "already_evaluated" if done and (done.by, done.scores, done.outcome, done.comment) == asked else None

    failed = _attempt(request, page, "evaluate", form, EVALUATE_FIELDS, lambda: request.app.state.services.evaluate(
        idea_id, person.email, scores, Outcome(outcome), _now(request), comment, seen_version=_seen(form)),
        holds=same_evaluation, overtaken=Overtaken(lambda fresh: fresh.idea.evaluation and fresh.idea.evaluation.by,
                                                   YOU_ALREADY_EVALUATED, ALREADY_EVALUATED))
    return failed or _done(idea_id, "evaluated", form)


@router.post("/ideas/{idea_id}/resume")
def resume(request: Request, idea_id: int, person: SignedIn, form: PostedForm) -> Response:
    page = _staff(request, idea_id, person)
    failed = _attempt(request, page, "resume", form, {}, lambda: request.app.state.services.resume(
        idea_id, person.email, _now(request), seen_version=_seen(form)),
        holds=lambda fresh: "already_resumed" if fresh.idea.history[-1].action == "resume" else None)
    return failed or _done(idea_id, "resumed", form)


@router.post("/ideas/{idea_id}/conflict")
def declare_conflict(request: Request, idea_id: int, person: SignedIn, form: PostedForm) -> Response:
    page = _staff(request, idea_id, person)
    reason = form.text("conflict_reason", required=True, max_length=5000, multiline=True)
    if form.errors:
        return _render(request, page, form.value("from"), "conflict", form, status_code=422)
    failed = _attempt(request, page, "conflict", form, CONFLICT_FIELDS,
                      lambda: request.app.state.services.declare_conflict(
                          idea_id, person.email, reason, _now(request), seen_version=_seen(form)),
                      holds=lambda fresh: "conflict_already_declared" if person.email in fresh.idea.conflicts else None)
    return failed or _done(idea_id, "conflict_declared", form)
