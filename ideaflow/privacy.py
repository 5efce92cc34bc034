"""The privacy notice shown with the public idea form (GDPR art. 13), in Danish and English.

The defaults fit a Danish municipality running an innovation pool: the legal basis is the authority's
task (art. 6(1)(e)), not consent. The municipality names itself and its contacts in the settings, and
may replace any section's text with its own from a YAML file:

    da:
      purpose: "Vi bruger dine oplysninger til …"
    en:
      purpose: "We use your data to …"

Texts may use `{controller}`, `{contact}`, `{dpo}`, `{expiry_hours}` and `{rate_window_minutes}`.

GDPR art. 13(1)(a)-(b) asks for the controller's identity and contact details and the data protection
officer's: only the municipality can give them. Until it does (`missing_details`), `ideaflow web` and
`ideaflow serve` warn at start-up, and the notice shows a marked placeholder ("Kommunen har ikke oplyst
…", a section's `missing`) instead of a sentence that reads as complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel

from states.errors import BadInput

SECTIONS = ("controller", "dpo", "purpose", "legal_basis", "data", "source", "recipients", "retention", "rights",
            "required", "automated")

#: The controller's name until the municipality gives its own, and how each language says it meanwhile.
UNNAMED_CONTROLLER = {"da": "Kommunen", "en": "The municipality"}
DEFAULT_CONTROLLER = UNNAMED_CONTROLLER["da"]
#: The details only the municipality can give (PrivacySettings fields), each with the section that says it
#: and the placeholders of texts that use it.
DETAILS = {"controller": ("controller", ("{controller}",)),
           "contact": ("controller", ("{contact}", "{contact_sentence}")),
           "dpo": ("dpo", ("{dpo}", "{dpo_sentence}"))}


class PrivacySection(BaseModel):
    key: str
    heading: str
    text: str
    #: What the municipality has not given, said as such: the page marks it apart from the text.
    missing: str = ""


class PrivacyNotice(BaseModel):
    lang: str
    title: str
    sections: list[PrivacySection]
    #: Who is responsible, as the notice names them ("Hvidovre Kommune"; "the municipality" until given).
    controller: str


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    controller: str = "Kommunen"
    contact: str = ""
    dpo: str = ""
    expiry_hours: int = 72
    rate_window_minutes: int = 60
    notice_file: Path | None = None


HEADINGS = {
    "da": {"controller": "Dataansvarlig", "dpo": "Databeskyttelsesrådgiver", "purpose": "Formål",
           "legal_basis": "Retsgrundlag", "data": "Hvilke oplysninger", "source": "Hvor oplysningerne kommer fra",
           "recipients": "Hvem ser oplysningerne",
           "retention": "Hvor længe vi gemmer dem", "rights": "Dine rettigheder",
           "required": "Skal du give oplysningerne?", "automated": "Automatiske afgørelser"},
    "en": {"controller": "Controller", "dpo": "Data protection officer", "purpose": "Purpose",
           "legal_basis": "Legal basis", "data": "What data", "source": "Where the data comes from",
           "recipients": "Who sees the data",
           "retention": "How long we keep it", "rights": "Your rights", "required": "Must you give the data?",
           "automated": "Automated decisions"},
}

TITLES = {"da": "Sådan behandler vi dine oplysninger", "en": "How we process your data"}

DEFAULTS = {
    "da": {
        "controller": "{controller} er dataansvarlig for de oplysninger, du giver i formularen.{contact_sentence}",
        "dpo": "{dpo_sentence}",
        "purpose": "Vi bruger oplysningerne til at modtage, vurdere og træffe beslutning om din idé til "
                   "innovationspuljen, til at afprøve den, hvis den bliver valgt, og til at give dig besked "
                   "undervejs.",
        "legal_basis": "Behandlingen er nødvendig for at udføre en opgave i samfundets interesse og som led i "
                       "myndighedsudøvelse, som kommunen har fået pålagt (databeskyttelsesforordningens artikel "
                       "6, stk. 1, litra e). Vi beder ikke om dit samtykke.",
        "data": "Dit navn, din e-mailadresse, om du er borger eller medarbejder, din idé og de filer, du "
                "vedhæfter. Din internetadresse (IP) bruges kun til at begrænse misbrug og gemmes alene som "
                "en uigenkaldelig kode.",
        "source": "Oplysningerne kommer fra dig: fra formularen, og når du reviderer eller trækker idéen tilbage. "
                  "Det, kommunen registrerer om idéen undervejs (beslutninger, begrundelser og piloten), "
                  "skriver kommunens medarbejdere selv.",
        "recipients": "Puljens koordinatorer og bedømmere i kommunen. Bliver idéen til en pilot, ser den "
                      "politiske følgegruppe idéen, men ikke dine kontaktoplysninger. Kommunens leverandører af "
                      "drift og e-mail behandler oplysningerne på kommunens vegne.",
        "retention": "En idé, du ikke bekræfter, slettes efter {expiry_hours} timer sammen med dens filer. En "
                     "registreret idé er en del af kommunens sagsbehandling og opbevares efter arkivlovens "
                     "regler. Koderne til at begrænse misbrug slettes efter {rate_window_minutes} minutter.",
        "rights": "Du har ret til indsigt i dine oplysninger (under \"Mine idéer\" kan du hente dem alle), til "
                  "at få forkerte oplysninger rettet, til begrænsning af behandlingen og til at gøre indsigelse. "
                  "Sletning kan ske, når kommunen ikke længere skal opbevare oplysningerne. Du kan klage til "
                  "Datatilsynet, www.datatilsynet.dk.",
        "required": "Navn og e-mail er nødvendige for at registrere idéen og give dig besked. Uden dem kan vi "
                    "ikke modtage idéen gennem formularen.",
        "automated": "Der træffes ingen automatiske afgørelser om dig eller din idé.",
    },
    "en": {
        "controller": "{controller} is the controller of the data you give in the form.{contact_sentence}",
        "dpo": "{dpo_sentence}",
        "purpose": "We use the data to receive, assess and decide on your idea for the innovation pool, to try "
                   "it out if it is chosen, and to keep you informed along the way.",
        "legal_basis": "The processing is necessary for a task carried out in the public interest and in the "
                       "exercise of official authority vested in the municipality (Article 6(1)(e) of the "
                       "General Data Protection Regulation). We do not ask for your consent.",
        "data": "Your name, your e-mail address, whether you are a citizen or an employee, your idea and the "
                "files you attach. Your internet address (IP) is used only to limit abuse and is stored only "
                "as a code that cannot be reversed.",
        "source": "The data comes from you: from the form, and when you revise or withdraw your idea. What the "
                  "municipality records about the idea along the way (decisions, their reasons and the pilot) "
                  "is written by its own staff.",
        "recipients": "The pool's coordinators and reviewers in the municipality. If the idea becomes a pilot, "
                      "the political follow-up group sees the idea, but not your contact details. The "
                      "municipality's hosting and e-mail suppliers process the data on its behalf.",
        "retention": "An idea you do not confirm is deleted after {expiry_hours} hours, with its files. A "
                     "registered idea is part of the municipality's case records and is kept under the Danish "
                     "Archives Act. The codes that limit abuse are deleted after {rate_window_minutes} minutes.",
        "rights": "You have the right to access your data (under \"My ideas\" you can download all of it), to "
                  "have wrong data corrected, to restrict the processing and to object to it. Data can be "
                  "erased when the municipality no longer has to keep it. You can complain to the Danish Data "
                  "Protection Agency, www.datatilsynet.dk.",
        "required": "Your name and e-mail are needed to register the idea and keep you informed. Without them "
                    "we cannot receive the idea through the form.",
        "automated": "No automated decisions are made about you or your idea.",
    },
}


#: The placeholders for what the municipality has not given (`PrivacySection.missing`).
MISSING = {
    "da": {"contact": "Kommunen har ikke oplyst sine kontaktoplysninger her.",
           "dpo": "Kommunen har ikke oplyst, hvordan du kontakter dens databeskyttelsesrådgiver."},
    "en": {"contact": "The municipality has not given its contact details here.",
           "dpo": "The municipality has not given how to contact its data protection officer."},
}


def privacy_notice(settings: PrivacySettings, lang: str) -> PrivacyNotice:
    """The notice in `lang` (da or en), with the municipality's own texts where it gave them; a contact it
    has not given is a marked placeholder (`PrivacySection.missing`), not a sentence that reads as complete."""
    overrides = _overrides(settings.notice_file)
    texts = {**DEFAULTS[lang], **overrides.get(lang, {})}
    values = {
        "controller": settings.controller if _named(settings) else UNNAMED_CONTROLLER[lang],
        "contact": settings.contact, "dpo": settings.dpo,
        "expiry_hours": settings.expiry_hours, "rate_window_minutes": settings.rate_window_minutes,
        "contact_sentence": (f" Kontakt: {settings.contact}." if lang == "da" else f" Contact: {settings.contact}.")
        if settings.contact else "",
        "dpo_sentence": (f"Du kan kontakte kommunens databeskyttelsesrådgiver: {settings.dpo}." if lang == "da"
                         else f"You can contact the municipality's data protection officer: {settings.dpo}.")
        if settings.dpo else "",
    }
    missing = missing_details(settings, overrides)
    sections = []
    for key in SECTIONS:
        try:
            text = texts[key].format(**values)
        except (KeyError, IndexError, ValueError) as error:
            raise BadInput("privacy.bad_placeholder", lang=lang, section=key, detail=str(error)) from None
        placeholders = " ".join(MISSING[lang][detail] for detail in ("contact", "dpo")
                                if detail in missing and DETAILS[detail][0] == key)
        sections.append(PrivacySection(key=key, heading=HEADINGS[lang][key], text=text, missing=placeholders))
    return PrivacyNotice(lang=lang, title=TITLES[lang], sections=sections, controller=values["controller"])


def missing_details(settings: PrivacySettings, overrides: dict[str, dict[str, str]] | None = None) -> list[str]:
    """The details art. 13(1)(a)-(b) asks for that the notice lacks, as PrivacySettings fields: the
    municipality's name (left at "Kommunen"), its contact details, its data protection officer's. A section
    the municipality's texts file replaces in both languages says them in its own words, unless its text
    uses the missing setting."""
    if overrides is None:
        overrides = _overrides(settings.notice_file)
    given = {"controller": _named(settings),
             "contact": bool(settings.contact.strip()), "dpo": bool(settings.dpo.strip())}
    missing = []
    for detail, (section, placeholders) in DETAILS.items():
        if given[detail]:
            continue
        texts = [overrides.get(lang, {}).get(section) for lang in ("da", "en")]
        if all(text is not None and not any(p in text for p in placeholders) for text in texts):
            continue  # the municipality's own words for this section in both languages
        missing.append(detail)
    return missing


def _named(settings: PrivacySettings) -> bool:
    return settings.controller.strip() not in ("", DEFAULT_CONTROLLER)


def _overrides(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise BadInput("privacy.unreadable", path=str(path), reason=error.strerror) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise BadInput("privacy.unparsable", path=str(path), reason=str(error).splitlines()[0]) from None
    if not isinstance(document, dict) or set(document) - {"da", "en"}:
        raise BadInput("privacy.bad_languages", path=str(path))
    for lang, texts in document.items():
        if not isinstance(texts, dict) or set(texts) - set(SECTIONS) or \
                not all(isinstance(value, str) for value in texts.values()):
            raise BadInput("privacy.bad_sections", path=str(path), lang=lang, sections=list(SECTIONS))
    return document
