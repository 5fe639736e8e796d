"""An express path to the event endpoints for the server libraries that send most events.

A POST without `Origin` to an event path (the table: path to endpoint) is answered by its
endpoint here, skipping CORS, `ExceptionMiddleware`, the router's matching of every route in
turn and Starlette's `request_response` wrapper, layers that took more of the event loop's
time than the endpoint's own work besides decoding.
The answer is the same: it gets the `Vary: Origin` CORS would add, the endpoints raise no
`HTTPException` (their refusals are answered by themselves), and an unexpected error still
reaches `ServerErrorMiddleware`, outside this one, as a 500.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from intercom_destination.ingest.cors import from_browser, varying
from intercom_destination.ingest.responses import Handler


class ExpressMiddleware:
    """`app`, but for the POSTs without `Origin` to a path of `endpoints`, answered by its
    endpoint directly."""

    def __init__(self, app: ASGIApp, /, *, endpoints: Mapping[str, Handler]) -> None:
        self._app = app
        self._endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self._endpoints.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if endpoint is None or from_browser(scope):
            await self._app(scope, receive, send)
            return
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, varying(send))
