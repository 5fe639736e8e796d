"""`IntercomDestination`: the Intercom destination as a plugin of an application's timeline.

It delivers as `serve` does, through the same planner, store, worker and executor: an event
the application makes is written to the store (a SQLite file by default, so a restart loses
nothing) and a worker delivers it in the background, on a thread of its own for threaded
applications or as tasks in the application's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import msgspec

from intercom_destination.delivery.connection import NoIntercom, delivery_settings
from intercom_destination.intercom import Transport
from intercom_destination.library.failures import Failure, OnError, report
from intercom_destination.library.loop import LoopThread
from intercom_destination.library.pipeline import Item, Pipeline
from intercom_destination.library.queue import BoundedQueue
from intercom_destination.library.timeline import (
    DestinationPlugin,
    Event,
    Flushed,
    FlushTimeout,
)
from intercom_destination.mapping.integrations import DESTINATION
from intercom_destination.settings import Settings, SettingsError, load_settings
from intercom_destination.store import store_name

log = logging.getLogger("intercom_destination.library")

NO_INTERCOM = (
    "IntercomDestination has no Intercom access token: pass access_token=... (or set "
    "INTERCOM_ACCESS_TOKEN) to deliver to your workspace, or api_url=... of a local Intercom "
    "(run `intercom-destination sandbox`) to try it without one"
)
#: Events held in memory between the caller and the store.
MAX_QUEUE = 10_000
#: Seconds a call waits for room in a full queue before the event is dropped (and reported).
QUEUE_TIMEOUT = 1.0

_encoder = msgspec.json.Encoder()


class IntercomDestination(DestinationPlugin):
    """Delivers the timeline's events to Intercom, as the service would.

    Settings are the service's: keyword arguments (`access_token`, `region`, `api_url`,
    `collect_context`, `nested`, `database_url`, ...) over the environment
    (`INTERCOM_ACCESS_TOKEN`, ...) over the TOML file `config`; or a ready `settings`.
    `database_url = "sqlite:///:memory:"` keeps the store in memory, which a restart loses.

    A call hands its event to a queue of `max_queue` events; if the queue is full (the store
    holds `max_backlog` events, say) the call waits up to `queue_timeout` seconds (None:
    as long as it takes), then drops the event and reports it to `on_error`. `on_error`
    hears of every event that will not be delivered (see `Failure`), from the delivery
    thread or task; without it they are logged as errors. `transport` replaces the network
    (tests, proxies).
    """

    key = DESTINATION

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        config: Path | None = None,
        on_error: OnError | None = None,
        max_queue: int = MAX_QUEUE,
        queue_timeout: float | None = QUEUE_TIMEOUT,
        transport: Transport | None = None,
        **values: Any,
    ) -> None:
        super().__init__()
        if settings is not None and (config is not None or values):
            raise TypeError("pass settings, or config and keyword settings, not both")
        try:
            self.settings = delivery_settings(
                settings or load_settings(config, os.environ, **values)
            )
        except NoIntercom:
            raise SettingsError(NO_INTERCOM) from None
        self._on_error = on_error
        self._queue_timeout = queue_timeout
        self._intake: BoundedQueue[Item] = BoundedQueue(max_queue)
        self._transport = transport
        self._thread: LoopThread | None = None
        self._pipeline: Pipeline | None = None

    def __repr__(self) -> str:
        return f"IntercomDestination(base_url={self.settings.base_url!r})"

    # Threads.

    def start(self) -> None:
        thread = LoopThread("intercom-destination")
        try:
            self._pipeline = thread.run(self._open())
        except BaseException:
            thread.stop()
            raise
        self._thread = thread

    def deliver(self, event: Event) -> None:
        # On the delivery thread itself (an on_error that tracks), waiting for room would
        # keep the writer from making it.
        on_delivery_thread = self._thread is not None and self._thread.is_current
        timeout = 0 if on_delivery_thread else self._queue_timeout
        if not self._intake.put(_item(event), timeout):
            self._dropped(event, timeout)

    def flush(self, timeout: float | None = None) -> Flushed:
        self._running()
        return self._loop_thread().run(self.aflush(timeout))

    def close(self) -> Flushed:
        thread = self._loop_thread()
        left = thread.run(self.aclose())
        thread.stop()
        self._thread = None
        return left

    # asyncio.

    async def astart(self) -> None:
        self._pipeline = await self._open()

    async def adeliver(self, event: Event) -> None:
        if not await self._intake.aput(_item(event), self._queue_timeout):
            self._dropped(event, self._queue_timeout)

    async def aflush(self, timeout: float | None = None) -> Flushed:
        pipeline = self._running()
        try:
            async with asyncio.timeout(timeout):
                return await pipeline.flush()
        except TimeoutError:
            left = await pipeline.left()
            message = f"Intercom: {left.pending} events still pending after {timeout} s"
            raise FlushTimeout(message, left) from None

    async def aclose(self) -> Flushed:
        left = await self._running().close()
        self._pipeline = None
        if left.pending or left.waiting:
            _report_left(left, self.settings.database_url)
        return left

    async def _open(self) -> Pipeline:
        return await Pipeline.open(
            self.settings,
            self._intake,
            self._on_error,
            destination=self.key,
            transport=self._transport,
        )

    def _running(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("IntercomDestination is not running: add it to an Analytics")
        return self._pipeline

    def _loop_thread(self) -> LoopThread:
        if self._thread is None:
            raise RuntimeError(
                "IntercomDestination runs in an event loop (AsyncAnalytics): use aflush, aclose"
            )
        return self._thread

    def _dropped(self, event: Event, waited: float | None) -> None:
        reason = (
            f"the queue stayed full (max_queue={self._intake.capacity}) for {waited} s: "
            "delivery is behind"
        )
        report(self._on_error, Failure.of(self.key, "dropped", reason, event))


def _report_left(left: Flushed, database_url: str) -> None:
    """Say how many events were not delivered, and where they wait (if anywhere)."""
    count = left.pending + left.waiting
    events = "1 event" if count == 1 else f"{count} events"
    kinds = [f"{left.pending} pending"] if left.pending else []
    if left.waiting:
        kinds.append(f"{left.waiting} waiting for their contact's identify")
    if database_url.endswith(":memory:"):
        log.error(
            "Intercom: %s not delivered, lost with the store in memory (%s)",
            events,
            ", ".join(kinds),
        )
    else:
        log.warning(
            "Intercom: %s not delivered, kept in the store %s for the next start (%s)",
            events,
            store_name(database_url),
            ", ".join(kinds),
        )


def _item(event: Event) -> Item:
    # Encoded now, on the caller's thread: later changes to the caller's dicts do not
    # reach the event, and what cannot be JSON fails in the call that sent it.
    return _encoder.encode(event), time.time()
