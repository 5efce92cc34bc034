"""The coordinator's portfolio (`/portfolio`): the ideas of their pools, filtered in the URL, counted per
stage, sorted and paged; a selection asks a reviewer for several ideas at once or is exported as CSV or
XLSX. And, for the idea page, previous and next within the list the coordinator came from: the page
includes `_neighbours.html`, which asks `neighbour_links` (a template global) for the links.

Everything here is presentation: which ideas a person sees, the filtering and the counting are the
read model's (`ideaflow.portfolio`, the container's `portfolio`); asking a reviewer is
`Services.assign_reviewers`, once per idea, so each idea's refusal is its own and is shown by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.portfolio import (
    PER_PAGE,
    PortfolioFilter,
    PortfolioLine,
    PortfolioPage,
    csv_bytes,
    local,
    place,
    xlsx_bytes,
)
from ideaflow.signin import Account
from states.errors import IdeaflowError
from states.formatting import dkk, moment
from states.messages import render as render_error
from states.text import whole_number
from states.vocabulary import Gate
from web import pages
from web.auth import signed_in
from web.forms import Form
from web.routes.words import STAGE_NAMES
from web.security import CSRF_FIELD

router = APIRouter()

GATE_NAMES = {Gate.SCREENING: N_("Screening"), Gate.FUNDING: N_("Funding decision"), Gate.EVALUATION: N_("Evaluation")}
SORT_NAMES = (
    ("deadline", N_("Deadline, soonest first")), ("-deadline", N_("Deadline, latest first")),
    ("-submitted", N_("Newest first")), ("submitted", N_("Oldest first")), ("title", N_("Title, A to Z")),
    ("-requested", N_("Requested amount, largest first")), ("requested", N_("Requested amount, smallest first")),
)
EXPORT_HEADINGS = (
    N_("Idea no."), N_("Title"), N_("Pool"), N_("Stage"), N_("Open gate"), N_("Deadline"), N_("Overdue"),
    N_("Requested (kr.)"), N_("Allocated (kr.)"), N_("Departments"), N_("Submitted"), N_("Reviewers asked"),
    N_("Reviews submitted"),
)
SELECT_IDEAS = "select-ideas"
CHOOSE_IDEAS = N_("Select at least one idea.")
CHOOSE_REVIEWER = N_("Choose a reviewer.")
ASKED = N_("asked")
ALREADY_ASKED = N_("already asked")
#: The export's file name (a word without æ, ø or å, as some mail and file systems mangle them).
FILE_NAME = N_("portfolio")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What asking a reviewer did for one selected idea: asked, already asked, or refused and why."""

    idea_id: int
    title: str
    message: str
    refused: bool


@router.get("/portfolio")
def portfolio(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    """The list. The filter form sends every field, empty ones too: it is answered with a redirect to
    the filter's short address (only what differs from the defaults), the one to bookmark and share."""
    wanted = PortfolioFilter.from_query(request.query_params)
    if [(k, v) for k, v in request.query_params.multi_items() if k != "status"] != wanted.query():
        return RedirectResponse(portfolio_href(wanted), status_code=303)
    shown = _portfolio(request).page(person.email, wanted, request.app.state.clock())
    return pages.render(request, "portfolio.html", _context(request, shown, Form({})))


async def _selection(request: Request) -> tuple[Form, list[int]]:
    """The selection form: its single values, and the ideas ticked (several `idea` values)."""
    data = await request.form()
    ids = [n for v in data.getlist("idea") if isinstance(v, str) and (n := whole_number(v, max_digits=11)) is not None]
    return Form({k: v for k, v in data.items() if isinstance(v, str) and k not in (CSRF_FIELD, "idea")}), ids


Selection = Annotated[tuple[Form, list[int]], Depends(_selection)]


@router.post("/portfolio/selection")
def selection(request: Request, person: Annotated[Account, Depends(signed_in)], posted: Selection) -> Response:
    """Ask a reviewer for the ticked ideas, or export them (nothing ticked: every idea of the filter)."""
    form, ids = posted
    wanted = PortfolioFilter.from_query(dict(parse_qsl(form.value("q"))))
    now = request.app.state.clock()
    action = form.value("action")
    if action in ("csv", "xlsx"):
        return _export(request, person, _portfolio(request).lines(person.email, wanted, now, ids=ids), action, now)
    shown = _portfolio(request).page(person.email, wanted, now)
    reviewer = form.value("reviewer")
    if not ids:
        form.error(SELECT_IDEAS, CHOOSE_IDEAS)
    if reviewer not in {r.email for r in shown.reviewers}:
        form.error("reviewer", CHOOSE_REVIEWER)
    if form.errors:
        return pages.render(request, "portfolio.html", _context(request, shown, form, selected=ids), status_code=422)
    outcomes = _ask(request, person, ids, reviewer, now)
    shown = _portfolio(request).page(person.email, wanted, now)  # the counts of asked reviewers have changed
    return pages.render(request, "portfolio.html", _context(request, shown, Form({"reviewer": reviewer}),
                                                            outcomes=outcomes))


def _ask(request: Request, person: Account, ids: list[int], reviewer: str, now: datetime) -> list[Outcome]:
    lang = pages.language(request)
    services = request.app.state.services
    titles = {line.id: line.title for line in _portfolio(request).lines(person.email, PortfolioFilter(), now, ids=ids)}
    outcomes = []
    for idea_id in dict.fromkeys(ids):
        title = titles.get(idea_id, i18n.gettext(lang, N_("Idea %(id)s"), id=idea_id))
        try:
            newly = services.assign_reviewers(idea_id, person.email, now, (reviewer,))
        except IdeaflowError as error:
            # A line's continuation after 'afvist –', like 'spurgt': the message's own lowercase line.
            outcomes.append(Outcome(idea_id, title, render_error(error, lang), refused=True))
        else:
            outcomes.append(Outcome(idea_id, title, i18n.gettext(lang, ASKED if newly else ALREADY_ASKED), False))
    return outcomes


def _export(request: Request, person: Account, lines: list[PortfolioLine], kind: str, now: datetime) -> Response:
    lang = pages.language(request)

    def word(text: str) -> str:
        return i18n.gettext(lang, text)

    headings = [word(h) for h in EXPORT_HEADINGS]
    rows = [[line.id, line.title, line.pool, word(STAGE_NAMES[line.stage]),
             word(GATE_NAMES[line.open_gate]) if line.open_gate else "", local(line.deadline),
             word(N_("yes")) if line.overdue else "", line.requested_dkk, line.allocated_dkk,
             ", ".join(line.departments), local(line.submitted_at), line.asked, line.answered] for line in lines]
    name = f"{word(FILE_NAME)}-{local(now):%Y-%m-%d}"
    if kind == "csv":
        body, media = csv_bytes(headings, rows, delimiter=";" if lang == "da" else ","), "text/csv; charset=utf-8"
    else:
        body = xlsx_bytes(headings, rows, sheet=word(N_("Portfolio")))
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{quote(name)}.{kind}\"; filename*=UTF-8''{quote(name)}.{kind}",
        "Cache-Control": "no-store",
    })


def _portfolio(request: Request):
    return request.app.state.container.portfolio


def portfolio_href(wanted: PortfolioFilter) -> str:
    query = wanted.query()
    return "/portfolio" + (f"?{urlencode(query)}" if query else "")


def idea_href(idea_id: int, wanted: PortfolioFilter, at: str | None = None) -> str:
    """The idea page, remembering the list it was opened from and, as `at` in it, the idea's place there
    (`ideaflow.portfolio.place`): previous and next on the page are the ideas it stood between, also once
    a decision has moved it. Every form on the page and its redirect carry `from` on as it came."""
    remembered = [*wanted.query(), *([("at", at)] if at is not None else [])]
    return f"/ideas/{idea_id}?{urlencode({'from': urlencode(remembered)})}"


def _context(request: Request, shown: PortfolioPage, form: Form, *, selected: list[int] = (),
             outcomes: list[Outcome] = ()) -> dict:
    lang = pages.language(request)
    wanted = shown.filter
    places = {line.id: place(wanted, line) for line in shown.lines}
    return {
        "shown": shown,
        "wanted": wanted,
        "form": form,
        "selected": set(selected),
        "outcomes": outcomes,
        "refusals": sum(o.refused for o in outcomes),
        "stage_name": lambda stage: i18n.gettext(lang, STAGE_NAMES[stage]),
        "gate_name": lambda gate: i18n.gettext(lang, GATE_NAMES[gate]),
        "stages": [(stage.value, i18n.gettext(lang, name)) for stage, name in STAGE_NAMES.items()],
        "gates": [(gate.value, i18n.gettext(lang, name)) for gate, name in GATE_NAMES.items()],
        "sorts": [(key, i18n.gettext(lang, name)) for key, name in SORT_NAMES],
        "amount": lambda value: dkk(value, lang),
        "when": lambda value: moment(value, lang),
        "href": portfolio_href,
        "idea_href": lambda idea_id: idea_href(idea_id, wanted, places.get(idea_id)),
        "query": urlencode(wanted.query()),
        "first": (wanted.page - 1) * PER_PAGE + 1,
    }


# -- previous and next on the idea page -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NeighbourLinks:
    """What `_neighbours.html` shows on an idea page opened from the portfolio: back to the list, and
    the previous and next idea in it ((href, title) or None)."""

    back: str
    previous: tuple[str, str] | None
    next: tuple[str, str] | None


def neighbour_links(request: Request, person: Account, idea_id: int) -> NeighbourLinks | None:
    """For the idea page: when it was opened from the portfolio (`?from=<the portfolio's query>`) by a
    person whose portfolio holds the idea, the links back and to the ideas before and after it.
    Templates call it as `portfolio_neighbours(request, account, idea_id)` (`_neighbours.html`)."""
    if "from" not in request.query_params:
        return None
    remembered = dict(parse_qsl(request.query_params["from"], keep_blank_values=True))  # "at=": no deadline
    wanted = PortfolioFilter.from_query(remembered)
    around = _portfolio(request).neighbours(person.email, wanted, idea_id, request.app.state.clock(),
                                            at=remembered.get("at"))
    if around is None:
        return None
    previous, after = around.previous, around.next
    return NeighbourLinks(
        back=portfolio_href(wanted),
        previous=(idea_href(previous.id, wanted, previous.at), previous.title) if previous else None,
        next=(idea_href(after.id, wanted, after.at), after.title) if after else None,
    )


pages.environment().globals["portfolio_neighbours"] = neighbour_links
