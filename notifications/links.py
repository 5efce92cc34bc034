"""Where a mail leads: the web console's page for its reader, as a path under the public base address.

Paths are stored in outbox payloads (relative, so a changed `IDEAFLOW_PUBLIC_URL` applies to mail
still waiting) and joined with the base address only when a message is built. The page depends on
who reads: staff open the idea page (a reviewer asked for a review, the review form), a proposer
their own ideas (each row of the list carries `id="idea-N"` for the fragment), a follower the pilot's
own page; one who has left a follow-up group, their pilots.
"""

from __future__ import annotations

from urllib.parse import quote

PREFERENCES = "/preferences"
PILOTS = "/pilots"


def idea_page(audience: str, idea_id: int) -> str:
    """The page where `audience` (a role: coordinator, reviewer, proposer, follower) sees the idea."""
    if audience == "proposer":
        return f"/my-ideas#idea-{idea_id}"
    if audience == "follower":
        return f"/pilots/{idea_id}"
    return f"/ideas/{idea_id}"


def review_form(idea_id: int) -> str:
    return f"/ideas/{idea_id}/review"


def unsubscribe(token: str) -> str:
    """The page that stops the weekly digest; it asks for a POST, so a link scanner opening it changes nothing."""
    return f"/preferences/unsubscribe?token={quote(token, safe='')}"


def absolute(public_url: str, path: str) -> str:
    """`path` under the public base address, keeping a prefix such as `https://kommune.dk/ideaflow/`."""
    return public_url.rstrip("/") + path
