"""CORS for browsers, at no cost to the server libraries that send most events.

Starlette's `CORSMiddleware` reads every request's headers and rewrites every response's, to
add `Vary: Origin` when there is no `Origin`. Here a request with an `Origin` header (every
one from a browser, preflights included) goes through it as it is; any other request goes
straight to the app, and its answer gets that `Vary: Origin` and nothing else, as it would
from `CORSMiddleware`.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intercom_destination.ingest.headers import header

_VARY_ORIGIN = (b"vary", b"Origin")


class BrowserCORSMiddleware:
    """`CORSMiddleware(app, **options)`, for requests with an `Origin` header only."""

    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        self._app = app
        self._cors = CORSMiddleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or from_browser(scope):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, varying(send))


def from_browser(scope: Scope) -> bool:
    """Whether the request has an `Origin` header, as `CORSMiddleware` reads it."""
    return header(scope, b"origin") is not None


def varying(send: Send) -> Send:
    """`send`, adding `Vary: Origin` to the answer, as `CORSMiddleware` does to a request
    without `Origin`."""

    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), _VARY_ORIGIN]
        await send(message)

    return send_varying
