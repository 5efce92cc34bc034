"""Rendering pages: one Jinja2 environment, the request's language, the signed-in person, the layout.

Templates are `web/templates/*.html`, autoescaped (a title `<script>` is shown as text), with
`{% trans %}` and `_()` for words. Every page gets: `lang`, `account` (None when signed out),
`places` (the person's pages), `csrf_token` (put `{{ csrf_field() }}` in every POST form), `status`
(a message for the live region, from `?status=<key>` of `STATUS`), the footer's links, and the
language switch.

A POST answers with a redirect to its page and `?status=<key>` (`redirect_with_status`), so a reload
sends nothing again. When what the page should then say has words of its own (a mail server's error,
a number), they travel in a cookie signed for this browser's session and that status key
(`status_details`), never in the address, where a crafted link could set them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context, select_autoescape
from markupsafe import Markup

from ideaflow import i18n
from ideaflow.i18n import N_
from ideaflow.signin import Account, places
from web.security import CSRF_FIELD, LANG_COOKIE, SESSION_COOKIE, cookie_attributes, csrf_token

TEMPLATES = Path(__file__).with_name("templates")

# Messages a page may show in its live region after a redirect (`?status=<key>`): only these keys,
# so a crafted link cannot put words of its own on the page.
STATUS = {
    "signed_out": N_("You are signed out."),
    "language": N_("The language has been changed."),
    "saved": N_("Your preferences are saved."),
    "withdrawn": N_("The idea is withdrawn."),
    "already_withdrawn": N_("The idea was already withdrawn; nothing more is changed."),
    "revised": N_("Your revision is saved. The coordinators and the reviewers are told."),
    "revision_unchanged": N_("The idea already said so; nothing is changed."),
    "review_saved": N_("Your review is saved as unfinished. It counts for nothing until you submit it."),
    "review_submitted": N_("Your review is submitted. You may revise it until the gate is decided."),
    # The idea page (web/routes/idea.py):
    "decision_go": N_("Go is recorded: the idea has passed the gate."),
    "decision_kill": N_("The idea is rejected. The proposer is told why."),
    "decision_hold": N_("The idea is on hold."),
    "decision_recycle": N_("The idea is sent back to the proposer for revision."),
    "reviewers_asked": N_("The reviewers are asked."),
    "reviewers_already_asked": N_("The reviewers were already asked; nobody is asked twice."),
    "pilot_planned": N_("The pilot plan is saved."),
    "pilot_already_planned": N_("The pilot plan was already so; nothing is changed."),
    "evaluated": N_("The evaluation is recorded."),
    "already_evaluated": N_("The idea was already evaluated; nothing more is recorded."),
    "resumed": N_("The idea is resumed."),
    "already_resumed": N_("The idea was already resumed; nothing more is changed."),
    "conflict_declared": N_("Your conflict of interest is recorded. You no longer review or decide this idea."),
    "conflict_already_declared": N_("Your conflict of interest was already recorded; nothing more is changed."),
    # Pools, people and the outbox (web/routes/administration.py):
    "pool_created": N_("The pool is created."),
    "criteria_saved": N_("The criteria are saved."),
    "criteria_unchanged": N_("The criteria were already so; nothing is changed."),
    "intake_saved": N_("The intake of ideas is saved."),
    "person_added": N_("The person is added."),
    "role_granted": N_("The role is granted."),
    "role_revoked": N_("The role is revoked."),
    "role_unchanged": N_("The person already had it so; nothing is changed."),
    "mail_tried": N_("Delivery was tried now. What still waits or failed is listed below."),
    "mail_resent": N_("The failed mail was sent again now. What still waits or failed is listed below."),
}

# The person's places (ideaflow.signin.places): name and what it is for.
PLACES = {
    "portfolio": (N_("Portfolio"), N_("The ideas of your pools: decide gates, plan pilots, watch deadlines.")),
    "inbox": (N_("Reviews to do"), N_("The ideas that wait for your review.")),
    "pilots": (N_("Pilots"), N_("The pilots you follow.")),
    "pools": (N_("Pools"), N_("Budgets, allocations, criteria and deadlines of the pools.")),
    "people": (N_("People and roles"), N_("Add people and give them roles.")),
    "outbox": (N_("Mail that waits"), N_("Mail not yet delivered, or that failed, and why.")),
    "my_ideas": (N_("My ideas"), N_("The ideas you have submitted, and where they are now.")),
}


@pass_context
def _gettext(context, message: str) -> str:
    return i18n.translations(context["lang"]).gettext(message)


@pass_context
def _ngettext(context, singular: str, plural: str, n: int) -> str:
    return i18n.translations(context["lang"]).ngettext(singular, plural, n)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        auto_reload=False,  # compiled once per process: no stat of the template's file on every page
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    return env


def account(request: Request) -> Account | None:
    """The signed-in person of this request (looked up once per request), or None."""
    if not hasattr(request.state, "account"):
        session_id = request.cookies.get(SESSION_COOKIE)
        signin = request.app.state.signin
        found = signin.look_up(session_id, request.app.state.clock()) if session_id else None
        request.state.account = found.account if found else None
        request.state.session_ended = found.ended if found else None
    return request.state.account


def session_ended(request: Request) -> str | None:
    """Why this request's session cookie stopped working just now ("idle", "absolute"), else None."""
    account(request)
    return request.state.session_ended


def language(request: Request, *, look_up_person: bool = True) -> str:
    """The signed-in person's language, else the visitor's choice (cookie), else the language of the
    mailed link's reader (`speak_as_the_link`), else Danish."""
    person = account(request) if look_up_person else None
    if person is not None and person.lang in i18n.LANGUAGES:
        return person.lang
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    return _link_language(request) or i18n.DEFAULT


def speak_as_the_link(request: Request, lang: str) -> None:
    """This page was opened by a link mailed to somebody who reads `lang` (a proposer confirming their
    idea, a person signing in): without a choice of their own here yet, the page speaks it, and the
    visit's further pages too (a cookie for the browser's session)."""
    request.state.link_language = lang


def _link_language(request: Request) -> str | None:
    lang = getattr(request.state, "link_language", None)
    return lang if lang in i18n.LANGUAGES else None


def render(request: Request, template: str, context: Mapping[str, object] | None = None, *,
           status_code: int = 200, look_up_person: bool = True) -> HTMLResponse:
    """The page, in the request's language. `look_up_person=False` renders without touching the
    database (the page for a server error, when the database may be what failed)."""
    settings = request.app.state.settings
    lang = language(request, look_up_person=look_up_person)
    person = account(request) if look_up_person else None
    token = csrf_token(request)
    status_key = request.query_params.get("status", "")
    page = {
        "request": request,
        "lang": lang,
        "account": person,
        "places": places(person) if person else [],
        "csrf_token": token,
        "csrf_field": lambda: Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token),
        "status": i18n.gettext(lang, STATUS[status_key]) if status_key in STATUS else "",
        "status_alert": "alert-success",  # a page may say a failure in the status region: "alert-warning"
        "accessibility_url": settings.accessibility_url,
        "privacy_url": settings.privacy_url,
        "languages": [(code, i18n.NAMES[code]) for code in i18n.LANGUAGES if code != lang],
        "here": _here(request),
        "place_name": lambda key: i18n.gettext(lang, PLACES[key][0]),
        "place_help": lambda key: i18n.gettext(lang, PLACES[key][1]),
        **(context or {}),
    }
    response = HTMLResponse(html_of(environment().get_template(template), page), status_code=status_code)
    if lang == _link_language(request) and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(LANG_COOKIE, lang, **cookie_attributes(settings.secure_cookies))
    return response


#: The cookie that carries a status message's own words to the page a POST redirects to (`redirect_with_status`).
DETAILS_COOKIE = "ideaflow_said"
DETAILS_KEPT_S = 10 * 60  # reloading the page keeps saying it for this long


def redirect_with_status(request: Request, path: str, status: str, details: Mapping[str, object] | None = None
                         ) -> RedirectResponse:
    """303 to `path?status=<status>`, `details` (JSON: words and numbers the message needs) in a cookie for
    `path` signed for this session and status, so that only this browser's page after this POST shows them;
    without details an earlier one's are dropped."""
    response = RedirectResponse(f"{path}?status={status}", status_code=303)
    attributes = {**cookie_attributes(request.app.state.settings.secure_cookies), "path": path}
    if details is None:
        response.delete_cookie(DETAILS_COOKIE, **attributes)
        return response
    # Without base64's padding: a cookie value with "=" would be sent quoted.
    body = base64.urlsafe_b64encode(json.dumps({"status": status, **details}, separators=(",", ":")).encode())
    body = body.decode().rstrip("=")
    response.set_cookie(DETAILS_COOKIE, f"{body}.{_details_mac(request, body)}", max_age=DETAILS_KEPT_S,
                        **attributes)
    return response


def status_details(request: Request) -> dict | None:
    """The details `redirect_with_status` sent with this page's `?status=`, if this browser's session got them
    for that status; None for anything else (none sent, another status, another session, tampered with)."""
    body, _, mac = request.cookies.get(DETAILS_COOKIE, "").partition(".")
    status = request.query_params.get("status", "")
    if not body or not status or not hmac.compare_digest(mac.encode(), _details_mac(request, body).encode()):
        return None
    try:
        details = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    return details if isinstance(details, dict) and details.get("status") == status else None


def _details_mac(request: Request, body: str) -> str:
    return request.app.state.signin.keys.digest("status-details", request.cookies.get(SESSION_COOKIE, "") + "|" + body)


def html_of(template: Template, context: Mapping[str, object]) -> str:
    """The template rendered. An error summary comes before the fields it names, so a page whose summary
    found their labels unknown (`render_again`, see templates/_forms.html) is rendered once more, with
    the labels its fields taught the form the first time."""
    render_again: list = []
    html = template.render({**context, "render_again": render_again})
    return template.render({**context, "render_again": []}) if render_again else html


def _here(request: Request) -> str:
    """This page's path and query (without a status message), to come back to after switching language.
    A page that answers a POST (a form shown again with its errors) has no address of its own to come
    back to: the page the form was on (the Referer, when it is this site's) is, else the front page."""
    url = request.url
    if request.method != "GET":
        came_from = urlsplit(request.headers.get("referer", ""))
        if came_from.netloc != url.netloc or not came_from.path.startswith("/"):
            return "/"
        url = request.url.replace(path=came_from.path, query=came_from.query)
    query = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != "status"]
    return url.path + (f"?{urlencode(query)}" if query else "")
