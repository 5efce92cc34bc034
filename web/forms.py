"""Forms that come back right when they are wrong.

    @router.post("/login")
    def ask_for_link(request: Request, form: PostedForm) -> Response:
        email = form.text("email", required=True, max_length=320)
        if form.errors:
            return form.invalid(request, "login.html")      # 422: the form again, with its values
        ...

(`PostedForm` reads the body before the page's own, synchronous, function runs in a worker thread,
where it may call the service layer.)

A form whose input is wrong is shown again with status 422 (never FastAPI's JSON): every value as
typed, an error summary at the top that links to each wrong field (`{{ error_summary(form) }}`;
a message that does not name its field, "Udfyld feltet.", is named there by the field's label: "Titel:
Udfyld feltet.") and each field's own message next to it (`{{ field(form, "email", _("E-mail address")) }}`, see
`templates/_forms.html`). Messages are texts for `_()`; they are translated when shown.

A refusal or bad input from the service layer goes on the field it names, in the reader's language
and naming the field by its label (`states.messages.sentence`):

        try:
            services.decide(..., amount_dkk=amount, ...)
        except IdeaflowError as error:
            form.failed(error, {"amount_dkk": ("amount", N_("Amount"))})   # service field: (form field, label)
            return form.invalid(request, "decide.html")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from ideaflow import i18n
from ideaflow.i18n import N_
from states.errors import IdeaflowError
from states.messages import sentence
from states.text import written_number
from web import pages
from web.security import CSRF_FIELD

REQUIRED = N_("Fill in this field.")
TOO_LONG = N_("Write at most %(max)s characters.")
NOT_WHOLE_NUMBER = N_("Write a whole number, for example %(example)s.")
OUT_OF_RANGE = N_("Write a number from %(low)s to %(high)s.")
#: Said of a number above the field's range: its lower end may be left to the domain's own words
#: (a budget of 0 kr. is refused with why), so it is not named there.
TOO_LARGE = N_("Write a number of at most %(high)s.")
CONTROL_CHARACTER = N_("Remove the control characters from the text.")
CHOOSE = N_("Choose one of the options.")
NOT_AN_ADDRESS = N_("Write an e-mail address, for example navn@kommune.dk.")
NOT_A_DAY = N_("Write a date as year-month-day, for example 2027-02-01.")
BAD_WEIGHT = N_("Write a weight above 0 and at most 100, for example 2 or 1.5.")
#: Messages that do not say which field they are about: the error summary puts the field's label first.
GENERIC = frozenset({REQUIRED, TOO_LONG, NOT_WHOLE_NUMBER, OUT_OF_RANGE, CONTROL_CHARACTER, CHOOSE, NOT_A_DAY,
                     BAD_WEIGHT})


class Form:
    """The values of a submitted form (as typed) and the error of each field, in field order.

    An error that concerns no field of the form (who may do what, the idea's state) is kept under
    `GENERAL` and shown in the summary only."""

    GENERAL = ""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.errors: dict[str, Callable[[str], str]] = {}  # field -> its message in a language
        self.labels: dict[str, str] = {}  # field -> its label as the page shows it (learnt while it renders)
        self._generic: set[str] = set()  # the fields whose message does not name them
        self._more: dict[str, list[Callable[[str], str]]] = {}  # field -> its further messages (`another`)

    @classmethod
    async def read(cls, request: Request) -> Form:
        data = await request.form()
        return cls({k: v for k, v in data.items() if isinstance(v, str) and k != CSRF_FIELD})

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str, message: str, **variables: object) -> None:
        """Record the field's first error (a text for `_()`, with %(name)s variables)."""
        if name not in self.errors and message in GENERIC:
            self._generic.add(name)
        self.errors.setdefault(name, lambda lang: i18n.gettext(lang, message, **variables))

    def another(self, name: str, message: str, **variables: object) -> None:
        """Record one more error of a field that may have several, each said on its own (one per file of the
        attachments): the field shows them all and the error summary has a line, linked to it, for each."""
        if name not in self.errors:
            self.error(name, message, **variables)
        else:
            self._more.setdefault(name, []).append(lambda lang: i18n.gettext(lang, message, **variables))

    def failed(self, error: IdeaflowError, fields: Mapping[str, tuple[str, str]],
               says: Mapping[str, str] | None = None) -> None:
        """Record a service's refusal or bad input on the form field it concerns. `fields` maps the
        service's field names to this form's (field name, label as a text for `_()`); an error of
        another field, or of none, is the form's general error. `says` maps an error's code to the page's
        own words (a text for `_()`, with the error's values as %(name)s) where the line all entry points
        share speaks of another one's ways ("leave out --pool", "with 'ideaflow person grant'")."""
        name = fields[error.field][0] if error.field in fields else self.GENERAL

        def message(lang: str) -> str:
            def label(field: str) -> str:
                return i18n.gettext(lang, fields[field][1]) if field in fields else field

            if says is not None and error.code in says:
                return i18n.gettext(lang, says[error.code], **error.values)
            return sentence(error, lang, label)

        self.errors.setdefault(name, message)

    def message(self, name: str, lang: str) -> str | None:
        """The field's message: its first; a field with several (`another`) shows `messages`."""
        return self.errors[name](lang) if name in self.errors else None

    def messages(self, name: str, lang: str) -> list[str]:
        """Every message of the field, each once, in the order recorded."""
        if name not in self.errors:
            return []
        return list(dict.fromkeys([self.errors[name](lang)] + [more(lang) for more in self._more.get(name, [])]))

    def label(self, name: str, text: str) -> str:
        """Learn the field's label as the page shows it (the field macros call this as they render); prints
        nothing. A field whose label is told apart by what surrounds it (the "Weight" of "Criterion 2", in
        its fieldset) is learnt by the words that tell it apart alone ("Criterion 2, weight"): the summary
        lists it away from its fieldset."""
        self.labels[name] = str(text)
        return ""

    def summary_line(self, name: str, lang: str) -> str | None:
        """The field's line in the error summary: its message, after the field's label when the message
        alone does not say which field it is about ("Titel: Udfyld feltet."), since the summary lists
        them apart from their fields."""
        message = self.message(name, lang)
        if name in self._generic and name in self.labels:
            return f"{self.labels[name]}: {message}"
        return message

    def summary_lines(self, name: str, lang: str) -> list[str]:
        """The field's lines in the error summary: `summary_line`, then a line for each further message."""
        first = self.summary_line(name, lang)
        return list(dict.fromkeys([first] + self.messages(name, lang)[1:])) if first is not None else []

    def text(self, name: str, *, required: bool = False, max_length: int = 200, multiline: bool = False) -> str:
        """The field's text as typed; an error if it is missing, too long or holds control characters."""
        value = self.value(name)
        if required and not value.strip():
            self.error(name, REQUIRED)
        elif len(value) > max_length:
            self.error(name, TOO_LONG, max=i18n.Count(max_length))
        elif any(ord(c) < 32 and not (multiline and c in "\r\n\t") or ord(c) == 127 for c in value):
            self.error(name, CONTROL_CHARACTER)
        return value

    def email(self, name: str = "email") -> str:
        """The field as an e-mail address, trimmed; an error if it is missing, too long or plainly not one
        (no @, or a space), so it is marked with the form's other errors. The service checks it in full."""
        value = self.text(name, required=True, max_length=320).strip()
        if name not in self.errors and ("@" not in value or " " in value):
            self.error(name, NOT_AN_ADDRESS)
        return value

    def whole_number(self, name: str, *, required: bool = False, low: int = 0, high: int = 10**12 - 1,
                     example: int = 250000, grouped: bool = True) -> int | None:
        """The field as a whole number from `low` to `high`; an error naming `example` if it is none, or
        the range if it is outside (in the reader's digit grouping, unless not `grouped`: a year)."""
        value = self.value(name).strip()
        if not value:
            if required:
                self.error(name, REQUIRED)
            return None
        number = written_number(value)  # 250000, 250.000 or 250,000; never 12.50 as 1250
        if number is None:
            self.error(name, NOT_WHOLE_NUMBER, example=str(example))
            return None
        if not low <= number <= high:
            said = i18n.Count if grouped else str
            if number > high:
                self.error(name, TOO_LARGE, high=said(high))
            else:
                self.error(name, OUT_OF_RANGE, low=said(low), high=said(high))
            return None
        return number

    def invalid(self, request: Request, template: str, context: Mapping[str, object] | None = None) -> HTMLResponse:
        """The form's page again, with the values, the summary and the messages: status 422."""
        return pages.render(request, template, {"form": self, **(context or {})}, status_code=422)


async def _posted(request: Request) -> Form:
    return await Form.read(request)


PostedForm = Annotated[Form, Depends(_posted)]
