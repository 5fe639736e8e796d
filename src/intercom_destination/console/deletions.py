"""Deleting people through the console's API: `POST /api/deletions` records a request and
starts it, `GET /api/deletions/<id>` reads its progress back.

The work is the deletion service's, the same as `delete` on the command line; the console
only runs it in the background, so that the POST answers at once with the request's id.
Answers never name the people: a request's record keeps their ids only while it runs, and
the audit keeps only salted hashes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_destination.console.requests import console_of, posted
from intercom_destination.deletion import BadSubjects, Deletions, subjects_from_document
from intercom_destination.store import Deletion

log = logging.getLogger("intercom_destination.console")


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """A deletion request as the API answers it."""

    id: int
    state: str
    suppress: bool
    requested_at: float
    #: People named, and done so far.
    people: int
    done: int
    #: Events removed from the store, contacts deleted in Intercom.
    events: int
    contacts: int
    finished_at: float | None
    error: str | None


def progress(deletion: Deletion) -> Progress:
    return Progress(
        id=deletion.id,
        state=deletion.state,
        suppress=deletion.suppress,
        requested_at=deletion.requested_at,
        people=len(deletion.hashes),
        done=deletion.done,
        events=deletion.events,
        contacts=deletion.contacts,
        finished_at=deletion.finished_at,
        error=deletion.error,
    )


class Running:
    """The deletions a console started; they are finished, not abandoned, when it stops."""

    def __init__(self, deletions: Deletions) -> None:
        self.deletions = deletions
        self._tasks: set[asyncio.Task[Deletion]] = set()

    def start(self, deletion: Deletion) -> None:
        task = asyncio.create_task(self.deletions.run(deletion))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish(self) -> None:
        if self._tasks:
            log.info("finishing %d deletion request(s) before stopping", len(self._tasks))
            await asyncio.gather(*self._tasks)


def _running(request: Request) -> Running:
    running: Running | None = request.app.state.deletions
    if running is None:
        raise HTTPException(
            503,
            "deleting people needs Intercom: set INTERCOM_ACCESS_TOKEN (or INTERCOM_API_URL "
            "for a sandbox) where the console runs",
        )
    return running


def _json(document: Any, status_code: int = 200) -> Response:
    return Response(
        msgspec.json.encode(document), status_code=status_code, media_type="application/json"
    )


async def request_deletion(request: Request) -> Response:
    """`{"userIds": [...], "anonymousIds": [...], "suppress": false}`: 202 with the request."""
    fields = await posted(request, console_of(request).csrf)
    running = _running(request)
    try:
        subjects = subjects_from_document(dict(fields))
    except BadSubjects as error:
        raise HTTPException(400, str(error)) from None
    suppress = fields.get("suppress", False)
    if not isinstance(suppress, bool):
        raise HTTPException(400, "suppress: must be true or false")
    deletion = await running.deletions.request(subjects, suppress=suppress)
    running.start(deletion)
    return _json(progress(deletion), status_code=202)


async def deletion_progress(request: Request) -> Response:
    deletion_id: int = request.path_params["deletion_id"]
    deletion = await _running(request).deletions.progress(deletion_id)
    if deletion is None:
        raise HTTPException(404, f"no deletion request {deletion_id}")
    return _json(progress(deletion))


routes = [
    Route("/deletions", request_deletion, methods=["POST"]),
    Route("/deletions/{deletion_id:int}", deletion_progress),
]
