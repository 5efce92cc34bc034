"""Render an outbox row into subject, plain text and HTML, in the recipient's language.

One template per message kind and language (`templates/<lang>/<kind>.j2`) with three blocks:
`subject`, `text` and `html`. Autoescaping is off for subject and text (they are not HTML) and on
inside every `html` block, so a title like `<script>` reaches the HTML only as text. Templates are
compiled once per process.

Links are made here, from the web console's public address (given by the caller, from the settings)
and the path the outbox row carries (`notifications.links`): `link` is the message's page, and a
digest's `item_link(id)` the page of each idea for its reader. Amounts come as `kr()` in text and
`amount()` in HTML, where they cannot wrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from markupsafe import Markup

from notifications import links
from states import formatting as fmt

TEMPLATES = Path(__file__).with_name("templates")

# The words a reader sees for the codes of the lifecycle. Danish text holds no English codes: a test
# renders every kind and checks that none of go/kill/hold/recycle/scale/adjust/gate appears in it.
NAMES = {
    "da": {
        # the definite form, used inside sentences ("Fristen for screeningen ...")
        "gate": {"screening": "screeningen", "funding": "bevillingsbeslutningen", "evaluation": "evalueringen"},
        "decision": {"go": "godkendt", "go_funding": "bevilget", "kill": "afvist", "hold": "sat i bero",
                     "recycle": "sendt tilbage til revision"},
        "stage": {"submitted": "indsendt", "screened": "screenet", "funded": "bevilget", "piloting": "i pilot",
                  "evaluated": "evalueret", "rejected": "afvist", "withdrawn": "trukket tilbage",
                  "on_hold": "i bero"},
        # as the pilot's page says them (web.routes.words; a test keeps them the same)
        "outcome": {"scale": "skal udbredes", "adjust": "skal justeres", "stop": "stoppet"},
        "action": {"submit": "indsendt", "go": "godkendt", "kill": "afvist", "hold": "sat i bero",
                   "recycle": "sendt tilbage til revision", "resume": "genoptaget", "withdraw": "trukket tilbage",
                   "start_pilot": "pilot startet", "open_evaluation": "pilot slut, evaluering åben",
                   "evaluate": "evalueret", "escalate": "frist overskredet", "lapse": "bortfaldet",
                   "assign": "bedømmer spurgt", "plan_pilot": "pilot planlagt", "replan_pilot": "pilot omplanlagt",
                   "conflict": "inhabilitet erklæret", "forget": "personoplysninger slettet",
                   "submit_review": "bedømmelse afgivet", "revise_review": "bedømmelse revideret",
                   "revise": "revideret af forslagsstilleren", "release": "bevilling tilbage i puljen",
                   "close_evaluation": "pilot forlænget, evaluering lukket"},
        # what a proposer's revision changed (`states.model.REVISABLE`)
        "field": {"title": "titel", "description": "beskrivelse", "requested_dkk": "ansøgt beløb",
                  "departments": "område eller afdeling"},
        # what each kind of message is, in plain words (a data export's mail, when its subject cannot be made)
        "kind": {"submission_confirm": "Link til at bekræfte din idé", "idea_received": "Kvittering for din idé",
                 "idea_submitted": "Besked om en ny idé", "gate_decided": "Besked om en beslutning om en idé",
                 "idea_withdrawn": "Besked om en idé, der er trukket tilbage",
                 "withdrawal_received": "Kvittering for, at din idé er trukket tilbage",
                 "idea_resumed": "Besked om en idé, der er genoptaget", "idea_revised": "Besked om en revideret idé",
                 "pilot_started": "Besked om en pilot, der er startet",
                 "pilot_ended": "Besked om en pilot, der er slut",
                 "evaluation_recorded": "Besked om evalueringen af en pilot",
                 "follow_up_joined": "Besked om, at du er med i en pilots følgegruppe",
                 "follow_up_left": "Besked om, at du ikke længere er med i en pilots følgegruppe",
                 "pilot_replanned": "Besked om en ændret plan for en pilot",
                 "pilot_status": "Besked om en pilot, der er sat i bero, genoptaget eller stoppet",
                 "review_requested": "Anmodning om en bedømmelse", "deadline_reminder": "Påmindelse om en frist",
                 "deadline_escalated": "Besked om en overskredet frist", "digest": "Ugens overblik",
                 "signin_link": "Link til at logge ind"},
        "greeting": "Kære {name},",
        "greeting_unknown": "Hej,",
        "footer": "Denne besked er sendt automatisk af ideaflow. Svar venligst ikke på den.",
    },
    "en": {
        "gate": {"screening": "screening", "funding": "funding decision", "evaluation": "evaluation"},
        "decision": {"go": "approved", "go_funding": "funded", "kill": "rejected", "hold": "put on hold",
                     "recycle": "sent back for revision"},
        "stage": {"submitted": "submitted", "screened": "screened", "funded": "funded", "piloting": "piloting",
                  "evaluated": "evaluated", "rejected": "rejected", "withdrawn": "withdrawn", "on_hold": "on hold"},
        "outcome": {"scale": "to be scaled up", "adjust": "to be adjusted", "stop": "stopped"},
        "action": {"submit": "submitted", "go": "approved", "kill": "rejected", "hold": "put on hold",
                   "recycle": "sent back for revision", "resume": "resumed", "withdraw": "withdrawn",
                   "start_pilot": "pilot started", "open_evaluation": "pilot ended, evaluation open",
                   "evaluate": "evaluated", "escalate": "deadline passed", "lapse": "lapsed",
                   "assign": "reviewer asked", "plan_pilot": "pilot planned", "replan_pilot": "pilot re-planned",
                   "conflict": "conflict of interest declared", "forget": "personal data erased",
                   "submit_review": "review submitted", "revise_review": "review revised",
                   "revise": "revised by the proposer", "release": "grant released to the pool",
                   "close_evaluation": "pilot extended, evaluation closed"},
        "field": {"title": "title", "description": "description", "requested_dkk": "amount asked for",
                  "departments": "area or department"},
        "kind": {"submission_confirm": "Link to confirm your idea", "idea_received": "Receipt for your idea",
                 "idea_submitted": "News of a new idea", "gate_decided": "News of a decision on an idea",
                 "idea_withdrawn": "News of an idea withdrawn",
                 "withdrawal_received": "Receipt for withdrawing your idea",
                 "idea_resumed": "News of an idea resumed", "idea_revised": "News of a revised idea",
                 "pilot_started": "News of a pilot started", "pilot_ended": "News of a pilot ended",
                 "evaluation_recorded": "News of a pilot's evaluation", "review_requested": "A request for your review",
                 "follow_up_joined": "News that you are in a pilot's follow-up group",
                 "follow_up_left": "News that you are no longer in a pilot's follow-up group",
                 "pilot_replanned": "News of a pilot's changed plan",
                 "pilot_status": "News of a pilot paused, resumed or stopped",
                 "deadline_reminder": "A reminder of a deadline", "deadline_escalated": "News of a deadline passed",
                 "digest": "The weekly digest", "signin_link": "Link to sign in"},
        "greeting": "Dear {name},",
        "greeting_unknown": "Hello,",
        "footer": "This message was sent automatically by ideaflow. Please do not reply.",
    },
}


def display_name(name: str, email: str) -> str:
    """The person's name, or their address when no name is known (see `known_name`)."""
    return known_name(name, email) or email


def known_name(name: str, email: str) -> str | None:
    """The name, unless it is empty or merely the address's local part.

    A proposer who submits without a name is registered with their address's local part as name
    (`ejendomme@kommune.dk` becomes "ejendomme"), and existing databases hold such names: greeting
    "Kære ejendomme," would read as a machine's guess, so such a name counts as unknown.
    """
    name = name.strip()
    if not name or name.casefold() == email.rpartition("@")[0].casefold():
        return None
    return name


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        auto_reload=False,  # compiled once per process: no stat of the template file for every message
        autoescape=lambda name: name is not None and name.endswith(".html"),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=False,
    )


def render(kind: str, lang: str, payload: dict, recipient_name: str, recipient_email: str, public_url: str,
           unsubscribe_token: str | None = None) -> Rendered:
    """Subject, text and HTML of one message; links lead under `public_url` (the web console)."""
    names = NAMES[lang]
    name = known_name(recipient_name, recipient_email)
    greeting = names["greeting"].format(name=name) if name else names["greeting_unknown"]
    role = payload.get("role")  # digests only: whose digest it is

    def url(path: str) -> str:
        return links.absolute(public_url, path)

    def item_link(idea_id: int) -> str:
        """A digest line's idea, on the page its reader can open (a reviewer: the review form)."""
        return url(links.review_form(idea_id) if role == "reviewer" else links.idea_page(role, idea_id))

    context = {
        **_words(lang, payload),
        "greeting": greeting,
        "footer": names["footer"],
        "link": url(_path(kind, payload)),
        "item_link": item_link,
        "preferences_link": url(links.PREFERENCES),
        "unsubscribe_link": url(links.unsubscribe(unsubscribe_token)) if unsubscribe_token else None,
    }
    template = _environment().get_template(f"{lang}/{kind}.j2")
    subject = "".join(template.blocks["subject"](template.new_context(context))).strip()
    context["subject_line"] = subject
    text = "".join(template.blocks["text"](template.new_context(context))).strip()
    html = "".join(template.blocks["html"](template.new_context(context))).strip()
    # A subject is one header line: fold any line breaks a title might smuggle in.
    subject = " ".join(subject.split())
    return Rendered(subject, f"{greeting}\n\n{text}\n\n-- \n{names['footer']}\n", html)


def subject(kind: str, lang: str, payload: dict) -> str:
    """A message's subject in `lang`, made again from its stored payload as `render` made it (a person's data
    export lists their mail by it); or, where it cannot be made (a kind or payload of an older version), what
    that kind of message is, in plain words."""
    try:
        template = _environment().get_template(f"{lang}/{kind}.j2")
        made = "".join(template.blocks["subject"](template.new_context(_words(lang, payload))))
    except (TemplateError, KeyError, TypeError, ValueError):
        made = ""
    return " ".join(made.split()) or NAMES[lang]["kind"].get(kind, kind)


def _words(lang: str, payload: dict) -> dict:
    """The payload with the reader's words for its codes and the formatting of its values: what a template
    needs besides the greeting and the links."""
    names = NAMES[lang]
    return {
        **payload,
        "lang": lang,
        "when": partial(fmt.moment, lang=lang),
        "date": partial(fmt.day, lang=lang),
        "kr": partial(_amount_text, lang=lang),
        "amount": partial(_amount_html, lang=lang),
        "score": partial(fmt.score, lang=lang),
        "gate_name": names["gate"].get(payload.get("gate") or "", ""),
        "decision_name": _decision_name(names, payload),
        "stage_name": names["stage"].get(payload.get("stage") or "", ""),
        "stage_names": names["stage"],
        "action_names": names["action"],
        "outcome_name": names["outcome"].get(payload.get("outcome") or "", ""),
        "field_names": names["field"],
    }


def _path(kind: str, payload: dict) -> str:
    """The page a message leads to. Rows queued before links existed lead to the idea page."""
    if kind == "digest":
        return links.PREFERENCES
    return payload.get("path") or links.idea_page("coordinator", payload["idea_id"])


def _decision_name(names: dict, payload: dict) -> str:
    decision = payload.get("decision") or ""
    if decision == "go" and payload.get("gate") == "funding":
        return names["decision"]["go_funding"]
    return names["decision"].get(decision, "")


def _amount_text(amount: int | None, lang: str) -> str:
    """An amount whose parts a mail client cannot wrap apart (`1.000.000 kr.` with a no-break space)."""
    return fmt.dkk(amount, lang).replace(" ", "\N{NO-BREAK SPACE}")


def _amount_html(amount: int | None, lang: str) -> Markup:
    """An amount kept on one line also on a 375 px phone: `white-space: nowrap` around no-break spaces."""
    return Markup('<span class="amount" style="white-space:nowrap">{}</span>').format(_amount_text(amount, lang))
