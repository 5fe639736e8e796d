"""The Segment-compatible HTTP ingest: Segment's Tracking API as real clients use it, storing
each accepted event durably before answering.

Every event path reads its body within Segment's limits, checks the write key, decodes the
events (envelope merged, `receivedAt` stamped, timestamps corrected, messageIds generated),
and answers 200 only once `Store.enqueue` has committed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_destination.ingest.admission import Admission
from intercom_destination.ingest.auth import WriteKeys
from intercom_destination.ingest.body import read_body
from intercom_destination.ingest.cors import BrowserCORSMiddleware
from intercom_destination.ingest.express import ExpressMiddleware
from intercom_destination.ingest.headers import header
from intercom_destination.ingest.metrics import IngestMetrics, exposed, new_registry
from intercom_destination.ingest.payload import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    Decoder,
    envelope_write_key,
    read_envelope,
    read_event,
)
from intercom_destination.ingest.project_settings import api_host, settings_document
from intercom_destination.ingest.responses import (
    Handler,
    Refusal,
    bad_request,
    json_document,
    refused,
    success,
)
from intercom_destination.settings import Settings
from intercom_destination.store import Enqueued, NewEvent, Store
from intercom_destination.store.suppression import SuppressionList

log = logging.getLogger(__name__)

BATCH_PATHS = ("/v1/batch", "/v1/import", "/v1/b")
#: Single-event paths and the type each implies; analytics.js uses the one-letter forms.
SINGLE_PATHS = {
    f"/v1/{path}": kind
    for kind in ("identify", "track", "page", "screen", "group", "alias")
    for path in (kind, kind[0])
}
#: analytics.js's own telemetry: answered and dropped.
TELEMETRY_PATH = "/v1/m"
SETTINGS_PATH = "/v1/projects/{write_key}/settings"

#: Seconds a client is asked to wait when the store failed; it is usually back soon.
STORE_RETRY_AFTER = 10
#: Seconds a client is asked to wait when the backlog is at its bound, for delivery to catch up.
BACKLOG_RETRY_AFTER = 60
#: Seconds between counts of the backlog once it is past half its bound, and below that.
BACKLOG_INTERVAL = 2.0
BACKLOG_FAR_INTERVAL = 60.0
#: The answer to a request that failed unexpectedly (a bug): every client sends it again.
_INTERNAL_ERROR = Refusal(
    500, "internal_error", "the request could not be handled: send again later"
)


def create_app(
    settings: Settings,
    store: Store,
    *,
    clock: Callable[[], float] = time.time,
    make_message_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    registry: CollectorRegistry | None = None,
    backlog_interval: float = BACKLOG_INTERVAL,
    suppressions: SuppressionList | None = None,
) -> Starlette:
    """The ingest app, storing into `store` (which the caller opens and closes).

    `clock` gives Unix seconds for `receivedAt`; `registry` is where the metrics go (a new one
    with the process metrics if None), so a process that delivers too can add its own. While
    the app runs (its lifespan), the backlog is counted every `backlog_interval` seconds when
    it nears `settings.max_backlog` (see `Admission`), and whenever /ready or /metrics is asked.
    Events of suppressed people are refused as `suppressions` (the store's list if None) says.
    """
    registry = new_registry() if registry is None else registry
    metrics = IngestMetrics(registry)
    shown = exposed(registry)
    admission = Admission(store, settings.max_backlog, clock, metrics.observe_status)
    ingest = _Ingest(
        store,
        WriteKeys(settings.write_keys),
        admission,
        Decoder(make_message_id),
        metrics,
        clock,
        settings.body_timeout,
        suppressions or SuppressionList(store),
    )

    async def project_settings(request: Request) -> Response:
        write_key = request.path_params["write_key"]
        ingest.keys.check(None, write_key)
        host, protocol = api_host(
            settings.public_url,
            request.headers.get("host", request.url.netloc),
            request.url.scheme,
        )
        response = json_document(settings_document(write_key, host, protocol))
        # Built from the request's Host: a shared cache must not hand it to other hosts.
        response.headers["Cache-Control"] = "no-store"
        return response

    async def ready(request: Request) -> Response:
        # A store known to be down is not asked again here, which would take as long as it
        # takes to fail (PostgreSQL: the wait for a connection): the admission asks it every
        # few seconds meanwhile, and the events it takes say it is back.
        if admission.store_down or await admission.refresh() is None:
            return json_document({"ready": False, "reason": "the store does not answer"}, 503)
        if admission.full:
            reason = (
                f"{admission.backlog:,} events wait for delivery, "
                f"the bound is {admission.max_backlog:,}"
            )
            return json_document({"ready": False, "reason": reason}, 503)
        return json_document({"ready": True, "backlog": admission.backlog})

    async def exposition(request: Request) -> Response:
        await admission.refresh()
        return Response(generate_latest(shown), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if ingest.keys.open:
            log.warning(
                "no write keys are configured (SEGMENT_WRITE_KEYS): accepting events with any "
                "write key or none; set write keys before exposing this service"
            )
        watcher = asyncio.create_task(admission.watch(backlog_interval, BACKLOG_FAR_INTERVAL))
        try:
            yield
        finally:
            # Cancelled until it ends: on Python 3.11 a cancellation that arrives while the
            # PostgreSQL pool waits for a connection (with wait_for) can be lost.
            while not watcher.done():
                watcher.cancel()
                await asyncio.wait({watcher}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    # One table for the router and for the express path of requests without Origin.
    events: dict[str, Handler] = {
        **{path: ingest.endpoint(path, ingest.batch) for path in BATCH_PATHS},
        **{path: ingest.endpoint(path, ingest.single(kind)) for path, kind in SINGLE_PATHS.items()},
    }
    routes = [
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in events.items()),
        Route(TELEMETRY_PATH, _telemetry, methods=["POST"]),
        Route(SETTINGS_PATH, ingest.endpoint(SETTINGS_PATH, project_settings), methods=["GET"]),
        Route("/health", _health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", exposition, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ExpressMiddleware, endpoints=events),
            # analytics.js in a browser: any site may send, with credentials if it wants;
            # preflights are answered for any header a site adds, and clients can read
            # Retry-After across origins.
            Middleware(
                BrowserCORSMiddleware,
                allow_origin_regex=".*",
                allow_credentials=True,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=["Retry-After", "X-RateLimit-Reset"],
                max_age=7200,
            ),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    # A redirect would be taken for success by analytics-node and analytics.js: never 3xx.
    app.router.redirect_slashes = False
    return app


class _Ingest:
    def __init__(
        self,
        store: Store,
        keys: WriteKeys,
        admission: Admission,
        decoder: Decoder,
        metrics: IngestMetrics,
        clock: Callable[[], float],
        body_timeout: float,
        suppressions: SuppressionList,
    ) -> None:
        self._store = store
        self._suppressions = suppressions
        self._body_timeout = body_timeout
        self.keys = keys
        self._admission = admission
        self._decoder = decoder
        self._metrics = metrics
        self._clock = clock

    def endpoint(self, route: str, handler: Handler) -> Handler:
        """`handler`, its refusals answered, counted and logged (by route: a path may hold a
        write key)."""

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except Refusal as refusal:
                response = self._refused(request, route, refusal)
            except ClientDisconnect:
                # Clients time out, lose their network, are stopped: nothing to answer, and
                # nothing of the request was stored.
                self._metrics.refused.labels("client_disconnected").inc()
                log.info(
                    "the client disconnected before its request arrived",
                    extra={"fields": _request_fields(request, route)},
                )
                return Response(status_code=400)  # goes nowhere: the client is gone
            except Exception:
                # Answered here rather than by Starlette, so it is counted, its JSON is like
                # every other refusal's, and the connection stays usable.
                log.exception(
                    "the request failed", extra={"fields": _request_fields(request, route)}
                )
                response = refused(_INTERNAL_ERROR)
            self._metrics.answered(response.status_code, time.perf_counter() - started)
            return response

        return endpoint

    async def batch(self, request: Request) -> Response:
        received_at = self._clock()
        envelope = read_envelope(await read_body(request, MAX_BATCH_BYTES, self._body_timeout))
        self.keys.check(header(request.scope, b"authorization"), envelope_write_key(envelope))
        self._metrics.received.inc(len(envelope.batch))
        decoded = self._decoder.batch(envelope, received_at)
        for item in decoded.rejected:
            self._metrics.rejected.labels(item.field).inc()
        if decoded.rejected and not decoded.events:
            raise bad_request("invalid_events", "no event of the batch is valid", decoded.rejected)
        await self._enqueue(decoded.events)
        return success(decoded.rejected)

    def single(self, kind: str) -> Handler:
        async def single(request: Request) -> Response:
            received_at = self._clock()
            obj = read_event(await read_body(request, MAX_EVENT_BYTES, self._body_timeout))
            self.keys.check(header(request.scope, b"authorization"), obj.get("writeKey"))
            self._metrics.received.inc()
            try:
                event = self._decoder.single(obj, kind, received_at)
            except Refusal as refusal:
                for item in refusal.rejected:
                    self._metrics.rejected.labels(item.field).inc()
                raise
            await self._enqueue([event])
            return success([])

        return single

    async def _enqueue(self, events: list[NewEvent]) -> None:
        """Stores the events, or raises a Refusal having stored none of them."""
        if not events:
            return
        if self._admission.full:
            self._metrics.rejected.labels("backlog_full").inc(len(events))
            raise Refusal(
                429,
                "backlog_full",
                f"{self._admission.backlog:,} events wait for delivery, the bound is "
                f"{self._admission.max_backlog:,}: send again later",
                retry_after=BACKLOG_RETRY_AFTER,
            )
        try:
            suppressed = await self._suppressions.current()
            kept = [e for e in events if not suppressed.refuses(e.user_id, e.anonymous_id)]
            if len(kept) < len(events):
                # Answered as accepted: the client must not send them again.
                self._metrics.suppressed.inc(len(events) - len(kept))
            results = await self._store.enqueue(kept)
        except Exception as error:
            log.exception("the store did not take the events")
            self._admission.failed(error)
            self._metrics.rejected.labels("store_unavailable").inc(len(events))
            raise Refusal(
                503,
                "store_unavailable",
                "the events could not be stored (none of this request was kept): send again later",
                retry_after=STORE_RETRY_AFTER,
            ) from None
        accepted = results.count(Enqueued.ACCEPTED)
        self._admission.accepted(accepted)
        self._metrics.stored(accepted, len(results) - accepted)

    def _refused(self, request: Request, route: str, refusal: Refusal) -> Response:
        self._metrics.refused.labels(refusal.code).inc()
        fields: dict[str, Any] = {
            "status": refusal.status,
            "code": refusal.code,
            "reason": refusal.message,
            **_request_fields(request, route),
        }
        log.warning("request refused", extra={"fields": fields})
        return refused(refusal)


def _request_fields(request: Request, route: str) -> dict[str, Any]:
    """What a log line says of a request: its route (its path may hold a write key) and
    client."""
    return {
        "route": route,
        "client": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent"),
    }


async def _telemetry(request: Request) -> Response:
    return success([])


async def _health(request: Request) -> Response:
    return json_document({"status": "ok"})


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = "not_found" if error.status_code == 404 else "method_not_allowed"
    body = {
        "success": False,
        "code": code,
        "message": f"{request.method} {request.url.path}: {error.detail}",
    }
    response = json_document(body, error.status_code)
    if error.headers:
        response.headers.update(error.headers)
    return response
