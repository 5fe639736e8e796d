"""The JSON API under /api/: what the pages show, for scripts.

Every POST carries the CSRF token (`GET /api/csrf`) in the `X-CSRF-Token` header.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_destination.console import actions
from intercom_destination.console.events import event_query, story_document
from intercom_destination.console.overview import WINDOWS, overview_view, window_of
from intercom_destination.console.requests import console_of, int_param, posted
from intercom_destination.console.views import (
    DEAD_LETTERS_PAGE,
    MAX_DEAD_LETTERS_PAGE,
    dead_letter_page,
)
from intercom_destination.spec import InvalidEvent


def _json(document: Any, status_code: int = 200) -> Response:
    return Response(
        msgspec.json.encode(document), status_code=status_code, media_type="application/json"
    )


async def csrf(request: Request) -> Response:
    return _json({"token": console_of(request).csrf.value})


async def overview(request: Request) -> Response:
    console = console_of(request)
    window = window_of(request)
    found = await console.store.overview(console.clock(), WINDOWS[window])
    return _json(overview_view(found, console.settings, window))


async def events(request: Request) -> Response:
    return _json(await console_of(request).store.search(event_query(request)))


async def story(request: Request) -> Response:
    message_id = request.path_params["message_id"]
    found = await console_of(request).store.story(message_id)
    if found is None:
        raise HTTPException(404, f"the store knows no event with messageId {message_id!r}")
    return _json(story_document(found))


async def dead(request: Request) -> Response:
    after = int_param(request, "after", 0, low=0, high=2**62)
    limit = int_param(request, "limit", DEAD_LETTERS_PAGE, low=1, high=MAX_DEAD_LETTERS_PAGE)
    return _json(await dead_letter_page(console_of(request).store, after=after, limit=limit))


async def replay(request: Request) -> Response:
    console = console_of(request)
    return _json({"replayed": await actions.replay(console, await posted(request, console.csrf))})


async def purge(request: Request) -> Response:
    console = console_of(request)
    return _json({"purged": await actions.purge(console, await posted(request, console.csrf))})


async def tester_plan(request: Request) -> Response:
    console = console_of(request)
    event = actions.pasted_event(console, await posted(request, console.csrf))
    return _json(actions.try_event(console, event))


async def tester_send(request: Request) -> Response:
    console = console_of(request)
    event = actions.pasted_event(console, await posted(request, console.csrf))
    if isinstance(event, InvalidEvent):
        return _json({"error": str(event)}, status_code=400)
    return _json(actions.sent_answer(event, await actions.send_event(console, event)))


routes = [
    Route("/csrf", csrf),
    Route("/overview", overview),
    Route("/events", events),
    Route("/events/{message_id:path}", story),
    Route("/dead", dead),
    Route("/dead/replay", replay, methods=["POST"]),
    Route("/dead/purge", purge, methods=["POST"]),
    Route("/tester/plan", tester_plan, methods=["POST"]),
    Route("/tester/send", tester_send, methods=["POST"]),
]
