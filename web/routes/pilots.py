"""A follow-up group's pages: its pilots (`/pilots`) and each pilot (`/pilots/{id}`).

What a follower sees is shaped by `ideaflow.pilots` (plan, status, history; nothing personal about
the proposer); another pilot's address answers 404, like an idea that does not exist, and the
attempt is recorded in the refusals audit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ideaflow.signin import Account
from web import pages
from web.auth import signed_in
from web.routes.words import formatters

router = APIRouter()


@router.get("/pilots")
def pilots(request: Request, person: Annotated[Account, Depends(signed_in)]) -> Response:
    followed = request.app.state.container.pilots.followed(person.email)
    return pages.render(request, "pilots.html", {"pilots": followed, **formatters(request)})


@router.get("/pilots/{idea_id}")
def pilot(request: Request, idea_id: int, person: Annotated[Account, Depends(signed_in)]) -> Response:
    page = request.app.state.container.pilots.pilot(idea_id, person.email, request.app.state.clock())
    return pages.render(request, "pilot.html", {"pilot": page, **formatters(request)})
