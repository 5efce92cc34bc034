"""The two kinds of "no" the domain can say, as data an entry point can render.

Every entry point maps them the same way: `BadInput` means the request itself is malformed or names
something that does not exist (CLI exit 2); `Refused` means a well-formed request that the rules or
the current state forbid (CLI exit 1). Either way nothing is written.

An error is a `code` from the catalogue in `states.messages`, the `field` of the request it concerns
(a service parameter's name such as `amount_dkk`, or None) and the `values` its message names. Each
entry point renders it in the reader's language and names the field its own way: the CLI by its
flag (`--amount-dkk`), a web form by the field's label. `str(error)` is the English line with the
field's own name, for logs, the refusals audit and Prefect.
"""

from __future__ import annotations

from states.messages import render


class IdeaflowError(Exception):
    """Base class: a catalogue code, the field it concerns, and the values its message names."""

    def __init__(self, code: str, *, field: str | None = None, **values: object) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.values = values

    def __str__(self) -> str:
        return render(self, "en")


class BadInput(IdeaflowError):
    """The request is malformed or refers to an unknown idea, person, pool or criterion."""


class NotFound(BadInput):
    """The request names an idea, person or pool that does not exist."""


class Refused(IdeaflowError):
    """The request is valid but not allowed now."""


class NotAllowed(Refused):
    """The actor's role or relation to the idea does not permit the action."""


class InvalidTransition(Refused):
    """The idea's stage has no such move, or a gate's guard is not satisfied."""


class BudgetExceeded(Refused):
    """The pool cannot afford the requested allocation."""


class Conflict(Refused):
    """Somebody else changed the same thing first; the caller may retry with fresh data."""
