"""The two kinds of "no" the domain can say.

Every entry point maps them the same way: `BadInput` means the request itself is malformed or names
something that does not exist (CLI exit 2); `Refused` means a well-formed request that the rules or
the current state forbid (CLI exit 1). Either way nothing is written.
"""


class IdeaflowError(Exception):
    """Base class; the message is a one-line reason meant for a person."""


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
