"""The sandbox as an ASGI app: Intercom's operations behind Intercom's auth, rate limit and
request validation, plus the control endpoints.

Every Intercom request goes through the same steps, in the order Intercom applies them:
the bearer token (401 without rate-limit headers), the 10-second window (429), injected
faults, the 2.14 request schema (400 naming each problem), then the operation. Every answer
after the token check carries the three `X-RateLimit-*` headers.
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from intercom_destination.intercom.schema import Problem, validate_request
from intercom_destination.sandbox import control
from intercom_destination.sandbox.clock import Clock
from intercom_destination.sandbox.errors import ApiError, ErrorItem, error_body
from intercom_destination.sandbox.operations import OPERATIONS, Handler, Incoming
from intercom_destination.sandbox.runtime import Call, Sandbox, SandboxConfig

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_INJECTED = {
    500: ApiError.of(500, "server_error", "Internal Server Error"),
    503: ApiError.of(503, "service_unavailable", "Service Unavailable"),
}


def create_app(config: SandboxConfig, clock: Clock | None = None) -> Starlette:
    """The sandbox app; `app.state.sandbox` is its `Sandbox`. The state file, if any, is
    read now (so a bad one fails at once) and written when the app shuts down."""
    sandbox = Sandbox(config, clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sandbox.save()

    routes = [
        *control.routes(sandbox),
        *(
            Route(template, _api(sandbox, f"{method} {template}", handler), methods=[method])
            for method, template, handler in OPERATIONS
        ),
        Route("/{path:path}", _api(sandbox, "unknown", None), methods=_METHODS),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(_PathAsSent)])
    app.state.sandbox = sandbox
    return app


class _PathAsSent:
    """Routes on the path as the client sent it, percent-encoded, as Intercom's (Rails) router
    does: an id holding `/` or `?` (sent as `%2F`, `%3F`) stays one segment, where the
    server's decoded path would split it or end it early. Handlers decode each parameter
    once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw is not None:
            scope = {**scope, "path": raw.decode("latin-1")}
        await self.app(scope, receive, send)


def _api(
    sandbox: Sandbox, endpoint: str, handler: Handler | None
) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        response = await _answer(sandbox, request, endpoint, handler, request_id)
        # As Intercom does, every answer names the request.
        response.headers["X-Request-Id"] = request_id
        sandbox.calls.record(
            Call(
                at=sandbox.clock.now(),
                method=request.method,
                path=request.url.path,
                endpoint=endpoint,
                status=response.status_code,
                intercom_version=request.headers.get("intercom-version"),
                request_id=request_id,
            )
        )
        return response

    return serve


async def _answer(
    sandbox: Sandbox,
    request: Request,
    endpoint: str,
    handler: Handler | None,
    request_id: str,
) -> Response:
    authorization = request.headers.get("authorization")
    if not _authorized(sandbox, authorization) or sandbox.faults.refuses_token(sandbox.clock.now()):
        # Intercom sends no rate-limit headers to a request without valid credentials.
        return _error(ApiError.of(401, "unauthorized", "Access Token Invalid"), request_id, {})
    quota = sandbox.limiter.take()
    headers = quota.headers()
    if not quota.allowed:
        message = f"Exceeded rate limit of {quota.limit} in 10_seconds"
        return _error(ApiError.of(429, "rate_limit_exceeded", message), request_id, headers)
    delay = sandbox.faults.latency(endpoint)
    if delay:
        await asyncio.sleep(delay)
    injected = sandbox.faults.error_status(endpoint)
    if injected is not None and not sandbox.faults.after_commit():
        return _error(_INJECTED[injected], request_id, headers)
    try:
        if handler is None:
            raise ApiError.of(404, "not_found", "Resource Not Found")
        body = _decode(await request.body())
        target = request.scope["path"]
        if query := request.scope["query_string"].decode("latin-1"):
            target += f"?{query}"
        problems = validate_request(request.method, target, body)
        if problems:
            raise _rejection(problems)
        params = {name: unquote(value) for name, value in request.path_params.items()}
        incoming = Incoming(params, request.query_params, {} if body is None else body)
        status, document = handler(sandbox, incoming)
    except ApiError as error:
        return _error(error, request_id, headers)
    if injected is not None:
        # Served, and the answer lost: the caller cannot tell this from a failure before.
        return _error(_INJECTED[injected], request_id, headers)
    if document is None:
        return Response(status_code=status, headers=headers)
    return Response(msgspec.json.encode(document), status, headers, "application/json")


def _authorized(sandbox: Sandbox, header: str | None) -> bool:
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    expected = sandbox.config.token
    return expected is None or hmac.compare_digest(token.encode(), expected.reveal().encode())


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError.of(400, "bad_request", "The request body is not valid JSON") from None


def _rejection(problems: list[Problem]) -> ApiError:
    status = 404 if any(problem.code == "not_found" for problem in problems) else 400
    return ApiError(
        status,
        *(ErrorItem(p.code, p.intercom_message, p.field or None) for p in problems),
    )


def _error(error: ApiError, request_id: str, headers: dict[str, str]) -> Response:
    body = msgspec.json.encode(error_body(error.errors, request_id))
    return Response(body, error.status, headers, "application/json")
