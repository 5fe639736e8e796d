"""The JSON API under /api/: what the pages show, for scripts.

Every POST carries the CSRF token (`GET /api/csrf`) in the `X-CSRF-Token` header.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_destination.console import actions
from intercom_destination.console.requests import console_of, int_param, posted
from intercom_destination.console.views import dead_letter_page
from intercom_destination.spec import InvalidEvent

#: Dead letters per page of `GET /api/dead`, unless `?limit=` asks for fewer or more.
DEAD_LETTERS_PAGE = 100
MAX_PAGE = 1000


def _json(document: Any, status_code: int = 200) -> Response:
    return Response(
        msgspec.json.encode(document), status_code=status_code, media_type="application/json"
    )


async def csrf(request: Request) -> Response:
    return _json({"token": console_of(request).csrf.value})


async def dead(request: Request) -> Response:
    after = int_param(request, "after", 0, low=0, high=2**62)
    limit = int_param(request, "limit", DEAD_LETTERS_PAGE, low=1, high=MAX_PAGE)
    return _json(await dead_letter_page(console_of(request).store, after=after, limit=limit))


async def replay(request: Request) -> Response:
    console = console_of(request)
    ids = actions.which_dead_letters(await posted(request, console.csrf))
    return _json({"replayed": await console.store.replay(ids, now=console.clock())})


async def purge(request: Request) -> Response:
    console = console_of(request)
    ids = actions.which_dead_letters(await posted(request, console.csrf))
    return _json({"purged": await console.store.purge(ids)})


async def tester_plan(request: Request) -> Response:
    console = console_of(request)
    event = actions.pasted_event(console, await posted(request, console.csrf))
    return _json(actions.try_event(console, event))


async def tester_send(request: Request) -> Response:
    console = console_of(request)
    event = actions.pasted_event(console, await posted(request, console.csrf))
    if isinstance(event, InvalidEvent):
        return _json({"error": str(event)}, status_code=400)
    accepted = await actions.send_event(console, event)
    return _json({"messageId": event.message_id, "accepted": accepted})


routes = [
    Route("/csrf", csrf),
    Route("/dead", dead),
    Route("/dead/replay", replay, methods=["POST"]),
    Route("/dead/purge", purge, methods=["POST"]),
    Route("/tester/plan", tester_plan, methods=["POST"]),
    Route("/tester/send", tester_send, methods=["POST"]),
]
