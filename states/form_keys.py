"""Keys that make a form sent twice count once.

A page draws a random key for each showing of a form and puts it in a hidden field; what the form
records is stored with its key, so the same key again (a double click, a browser retrying a slow
answer, two requests at once) is recognised and answered with what the first one did. The public idea
form keys its submission with it (`Submission.form_key`), the idea page its gate decision (the
decision's `request_id`, as a flow run's id keys a decision taken by Prefect).
"""

from __future__ import annotations

import secrets


def new_form_key() -> str:
    """A key for one showing of a form: 32 random bytes, URL-safe, 43 characters."""
    return secrets.token_urlsafe(32)


def form_key(sent: str) -> str | None:
    """The key as sent, if it is one `new_form_key` could have drawn; anything else is no key (what the
    form records is then recorded without the protection against being sent twice, never refused for it)."""
    return sent if len(sent) == 43 and sent.isascii() and sent.replace("-", "").replace("_", "").isalnum() else None
