"""Render an outbox row into subject, plain text and HTML, in the recipient's language.

One template per message kind and language (`templates/<lang>/<kind>.j2`) with three blocks:
`subject`, `text` and `html`. Autoescaping is off for subject and text (they are not HTML) and on
inside every `html` block, so a title like `<script>` reaches the HTML only as text. Templates are
compiled once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from states import formatting as fmt

TEMPLATES = Path(__file__).with_name("templates")

NAMES = {
    "da": {
        "gate": {"screening": "Screeningen", "funding": "Bevillingsgaten", "evaluation": "Evalueringen"},
        "decision": {"go": "go (godkendt)", "kill": "kill (stoppet)", "hold": "hold (sat i bero)",
                     "recycle": "recycle (sendt tilbage til revision)"},
        "stage": {"submitted": "indsendt", "screened": "screenet", "funded": "bevilget", "piloting": "i pilot",
                  "evaluated": "evalueret", "rejected": "afvist", "withdrawn": "trukket tilbage",
                  "on_hold": "i bero"},
        "outcome": {"scale": "udbred (scale)", "adjust": "justér (adjust)", "stop": "stop"},
        "action": {"submit": "indsendt", "go": "go", "kill": "kill", "hold": "sat i bero",
                   "recycle": "sendt til revision",
                   "resume": "genoptaget", "withdraw": "trukket tilbage", "start_pilot": "pilot startet",
                   "open_evaluation": "pilot slut, evaluering åben", "evaluate": "evalueret",
                   "escalate": "frist overskredet", "lapse": "bortfaldet",
                   "assign": "bedømmer spurgt", "plan_pilot": "pilot planlagt", "replan_pilot": "pilot omplanlagt",
                   "conflict": "inhabilitet erklæret", "forget": "personoplysninger slettet",
                   "submit_review": "bedømmelse afgivet", "revise_review": "bedømmelse revideret"},
        "greeting": "Kære {name},",
        "footer": "Denne besked er sendt automatisk af ideaflow. Svar venligst ikke på den.",
    },
    "en": {
        "gate": {"screening": "Screening gate", "funding": "Funding gate", "evaluation": "Evaluation gate"},
        "decision": {"go": "go", "kill": "kill", "hold": "hold", "recycle": "recycle (back for revision)"},
        "stage": {"submitted": "submitted", "screened": "screened", "funded": "funded", "piloting": "piloting",
                  "evaluated": "evaluated", "rejected": "rejected", "withdrawn": "withdrawn", "on_hold": "on hold"},
        "outcome": {"scale": "scale", "adjust": "adjust", "stop": "stop"},
        "action": {"submit": "submitted", "go": "go", "kill": "kill", "hold": "put on hold", "recycle": "recycled",
                   "resume": "resumed", "withdraw": "withdrawn", "start_pilot": "pilot started",
                   "open_evaluation": "pilot ended, evaluation open", "evaluate": "evaluated",
                   "escalate": "deadline passed", "lapse": "lapsed",
                   "assign": "reviewer asked", "plan_pilot": "pilot planned", "replan_pilot": "pilot re-planned",
                   "conflict": "conflict of interest declared", "forget": "personal data erased",
                   "submit_review": "review submitted", "revise_review": "review revised"},
        "greeting": "Dear {name},",
        "footer": "This message was sent automatically by ideaflow. Please do not reply.",
    },
}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=lambda name: name is not None and name.endswith(".html"),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=False,
    )


def render(kind: str, lang: str, payload: dict, recipient_name: str) -> Rendered:
    names = NAMES[lang]
    context = {
        **payload,
        "lang": lang,
        "greeting": names["greeting"].format(name=recipient_name),
        "footer": names["footer"],
        "when": partial(fmt.moment, lang=lang),
        "date": partial(fmt.day, lang=lang),
        "kr": partial(fmt.dkk, lang=lang),
        "score": partial(fmt.score, lang=lang),
        "gate_name": names["gate"].get(payload.get("gate") or "", ""),
        "decision_name": names["decision"].get(payload.get("decision") or "", ""),
        "stage_name": names["stage"].get(payload.get("stage") or "", ""),
        "stage_names": names["stage"],
        "action_names": names["action"],
        "outcome_name": names["outcome"].get(payload.get("outcome") or "", ""),
    }
    template = _environment().get_template(f"{lang}/{kind}.j2")
    subject = "".join(template.blocks["subject"](template.new_context(context))).strip()
    context["subject_line"] = subject
    text = "".join(template.blocks["text"](template.new_context(context))).strip()
    html = "".join(template.blocks["html"](template.new_context(context))).strip()
    # A subject is one header line: fold any line breaks a title might smuggle in.
    subject = " ".join(subject.split())
    greeting = names["greeting"].format(name=recipient_name)
    return Rendered(subject, f"{greeting}\n\n{text}\n\n-- \n{names['footer']}\n", html)
