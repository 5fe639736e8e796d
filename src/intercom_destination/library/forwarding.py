"""`SegmentForwarder`: the timeline's events on to Segment, or to anything that speaks its
HTTP API (this project's `serve`), through segment-analytics-python.

With an `IntercomDestination` on the same timeline this is device mode: the application
delivers to Intercom itself and sends everything to Segment for its other destinations.
As the mobile SDKs mark a bundled destination, forwarded events switch off (in their
`integrations`) each destination of the timeline that takes them, so that Segment's cloud
mode, or `serve`, does not deliver them a second time.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any

from intercom_destination.library.failures import Failure, FailureKind, OnError, report
from intercom_destination.library.timeline import (
    DestinationPlugin,
    Event,
    Flushed,
    FlushTimeout,
    Timeline,
)

INSTALL = (
    "SegmentForwarder sends through segment-analytics-python, which is not installed: "
    "pip install 'intercom-destination[segment]'"
)

#: Each call's positional arguments after user_id in segment-analytics-python, as the event's
#: fields (alias, which has no anonymous_id, is called apart).
_ARGUMENTS = {
    "identify": ("traits",),
    "track": ("event", "properties"),
    "group": ("groupId", "traits"),
    "page": ("category", "name", "properties"),
    "screen": ("category", "name", "properties"),
}


class SegmentForwarder(DestinationPlugin):
    """Forwards every event with segment-analytics-python's client.

    `host` is the endpoint (Segment's by default; `http://127.0.0.1:8088` for a local
    `serve`); `options` go to `segment.analytics.Client` (`gzip`, `max_queue_size`,
    `upload_interval`, `max_retries`, ...). `on_error` hears of events the endpoint did not
    take once the client's retries ran out, and of those its full queue dropped.
    """

    key = "Segment.io"

    def __init__(
        self,
        write_key: str,
        *,
        host: str | None = None,
        on_error: OnError | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        try:
            from segment.analytics import Client  # type: ignore[import-untyped]
        except ImportError:
            raise ImportError(INSTALL) from None
        self._client_class = Client
        self._write_key = write_key
        self._host = host
        self._options = options
        self._on_error = on_error
        self._client: Any = None
        self._others: Timeline | None = None

    def __repr__(self) -> str:
        return f"SegmentForwarder(host={self._host!r})"

    def configure(self, timeline: Timeline) -> None:
        self._others = timeline

    def enabled(self, event: Event) -> bool:
        # Segment itself takes every event; `All: false` is for its cloud destinations.
        integrations = event.get("integrations")
        return not isinstance(integrations, dict) or integrations.get(self.key) is not False

    def start(self) -> None:
        self._client = self._client_class(
            self._write_key, host=self._host, on_error=self._refused, **self._options
        )

    async def astart(self) -> None:
        self.start()

    def deliver(self, event: Event) -> None:
        try:
            accepted, _ = self._send(event)
        except (AssertionError, RuntimeError, TypeError, ValueError, KeyError) as error:
            # The client checks each call's arguments with assert and its size with a
            # RuntimeError: an event a plugin broke, say.
            self._fail("invalid", f"segment-analytics-python refused it: {error}", event)
            return
        if not accepted:
            self._fail("dropped", "segment-analytics-python's queue is full", event)

    def flush(self, timeout: float | None = None) -> Flushed:
        # The client's flush cannot be bounded; wait for it on a thread of its own.
        flushing = threading.Thread(target=self._client.flush, name="segment-flush", daemon=True)
        flushing.start()
        flushing.join(timeout)
        if flushing.is_alive():
            raise self._timed_out(timeout)
        return Flushed()

    async def aflush(self, timeout: float | None = None) -> Flushed:
        try:
            async with asyncio.timeout(timeout):
                await asyncio.to_thread(self._client.flush)
        except TimeoutError:
            raise self._timed_out(timeout) from None
        return Flushed()

    def close(self) -> Flushed:
        self._client.join()
        return Flushed()

    async def aclose(self) -> Flushed:
        await asyncio.to_thread(self._client.join)
        return Flushed()

    def _timed_out(self, timeout: float | None) -> FlushTimeout:
        left = Flushed(pending=self._client.queue.qsize())
        message = f"Segment.io: {left.pending} events still queued after {timeout} s"
        return FlushTimeout(message, left)

    def _send(self, event: Event) -> tuple[bool, Any]:
        client = self._client
        common = {
            "context": dict(event.get("context") or {}),
            "timestamp": datetime.fromisoformat(event["timestamp"]),
            "integrations": self._integrations(event),
            "message_id": event.get("messageId"),
        }
        user_id = event.get("userId")
        match event.get("type"):
            case "alias":
                return client.alias(event.get("previousId"), user_id, **common)  # type: ignore[no-any-return]
            case str(kind) if kind in _ARGUMENTS:
                arguments = [event.get(field) for field in _ARGUMENTS[kind]]
                return getattr(client, kind)(  # type: ignore[no-any-return]
                    user_id, *arguments, anonymous_id=event.get("anonymousId"), **common
                )
            case other:
                raise ValueError(f"no such event type: {other!r}")

    def _integrations(self, event: Event) -> dict[str, Any]:
        """The event's `integrations`, with the timeline's destinations that took it off."""
        integrations = dict(event.get("integrations") or {})
        if self._others is not None:
            for other in self._others.destinations:
                if other is not self and other.enabled(event):
                    integrations[other.key] = False
        return integrations

    def _refused(self, error: Exception, batch: list[dict[str, Any]]) -> None:
        for event in batch:
            self._fail("failed", f"the endpoint did not take it: {error}", event)

    def _fail(self, kind: FailureKind, reason: str, event: Event) -> None:
        report(self._on_error, Failure.of(self.key, kind, reason, event))
