"""Library mode's delivery on one event loop, built from the service's store, worker and executor.

Three tasks. The writer moves what callers queued into the store, one batch per transaction:
whatever queued while the previous batch was written (group commit). A worker from
`open_worker` delivers the store's lanes as `serve` does, woken by each write. A watcher
reports new dead letters to `on_error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import msgspec

from intercom_destination.delivery.engine import open_worker
from intercom_destination.intercom import Transport
from intercom_destination.library.failures import Failure, FailureKind, OnError, report
from intercom_destination.library.queue import BoundedQueue
from intercom_destination.library.timeline import Flushed
from intercom_destination.settings import Settings
from intercom_destination.spec import InvalidEvent, decode_event
from intercom_destination.spec.wire import nesting_error
from intercom_destination.store import NewEvent, Status, Store, new_event, open_store

log = logging.getLogger("intercom_destination.library")

#: An event as the destination took it: its JSON, and when (Unix seconds).
Item = tuple[bytes, float]

#: Events the writer takes from the queue for one transaction at most.
BATCH = 1000
#: How often flush asks the store whether anything is pending: quickly at first, since
#: delivery usually takes milliseconds, then at most every MAX_POLL seconds.
POLL = 0.005
MAX_POLL = 0.1
#: How often new dead letters are looked for, seconds.
DEAD_LETTER_POLL = 1.0
_PAGE = 100


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        intake: BoundedQueue[Item],
        on_error: OnError | None,
        *,
        destination: str,
        clock: Callable[[], float],
        stack: contextlib.AsyncExitStack,
    ) -> None:
        self._settings = settings
        self._store = store
        self._intake = intake
        self._on_error = on_error
        self._destination = destination
        self._clock = clock
        self._stack = stack
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        #: Items taken from the queue and written (or reported): flush waits for its turn.
        self._written = 0
        self._progress = asyncio.Condition()
        #: Events pending in the store, as last counted plus those written since.
        self._pending = 0
        self._last_dead_letter = 0
        self._dead_letters = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        settings: Settings,
        intake: BoundedQueue[Item],
        on_error: OnError | None,
        *,
        destination: str,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Pipeline:
        """Open the store, start delivering and take what `intake` receives from now on."""
        stack = contextlib.AsyncExitStack()
        try:
            store = await open_store(
                settings.database_url,
                trace_retention=settings.trace_retention,
                trace_rows=settings.trace_rows,
            )
            stack.push_async_callback(store.close)
            worker = await stack.enter_async_context(
                open_worker(settings, store, clock=clock, transport=transport)
            )
            pipeline = cls(
                settings,
                store,
                intake,
                on_error,
                destination=destination,
                clock=clock,
                stack=stack,
            )
            await pipeline._pass_old_dead_letters()
        except BaseException:
            await stack.aclose()
            raise
        intake.bind(asyncio.get_running_loop())
        pipeline._tasks = [
            pipeline._start(pipeline._write(), "writer"),
            pipeline._start(worker.run(pipeline._stop, pipeline._wake), "worker"),
            pipeline._start(pipeline._watch_dead_letters(), "dead-letter watcher"),
        ]
        return pipeline

    async def flush(self) -> Flushed:
        """Wait until every event queued before the call is written, and the store has
        nothing pending: each is delivered, skipped, dead, or waiting for its contact."""
        target = self._intake.accepted
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target)
        delay = POLL
        while (status := await self._store.status(self._clock())).backlog:
            await asyncio.sleep(delay)
            delay = min(MAX_POLL, delay * 2)
        await self._report_dead_letters()
        return _left(status)

    async def left(self) -> Flushed:
        """What is not delivered yet: pending (in the store, or queued for it), waiting,
        dead."""
        return _left(await self._store.status(self._clock()), self._intake.accepted - self._written)

    async def close(self) -> Flushed:
        """Write what is queued, finish the deliveries in flight, and close the store; what
        the store still holds then."""
        writer, worker, watcher = self._tasks
        self._intake.close()
        # `wait`, not `await`: a task that crashed was logged, and closing goes on.
        await asyncio.wait([writer])
        self._stop.set()
        await asyncio.wait([worker])
        watcher.cancel()
        await asyncio.wait([watcher])
        await self._report_dead_letters()
        status = await self._store.status(self._clock())
        await self._stack.aclose()
        return _left(status)

    async def _write(self) -> None:
        while batch := await self._intake.take(BATCH):
            events = [event for item in batch if (event := self._new_event(item)) is not None]
            try:
                await self._make_room(len(events))
                await self._store.enqueue(events)
            except Exception as error:
                log.exception("the store refused %d events", len(events))
                for event in events:
                    self._fail("dropped", f"the store refused it: {error}", _json(event.body))
            else:
                self._pending += len(events)
            async with self._progress:
                self._written += len(batch)
                self._progress.notify_all()
            self._wake.set()

    def _new_event(self, item: Item) -> NewEvent | None:
        """The event as the store keeps it, by the conversion ingest uses."""
        body, at = item
        obj = _json(body)
        # Refused past MAX_NESTING, as ingest refuses it: the same events are taken either way.
        event = nesting_error(body, "event") or decode_event(
            obj,
            received_at=datetime.fromtimestamp(at, UTC),
            make_message_id=lambda: str(uuid.uuid4()),
        )
        if isinstance(event, InvalidEvent):
            self._fail("invalid", f"not a Segment event Intercom can take: {event}", obj)
            return None
        return new_event(event, at)

    async def _make_room(self, count: int) -> None:
        """Wait while `max_backlog` events are pending, as ingest does: with the store in
        memory, this is what bounds the memory used (callers then wait, or drop).

        The count is the store's at the last look plus the events written since; the store
        is asked again only when that reaches the bound.
        """
        delay = POLL
        while self._pending and self._pending + count > self._settings.max_backlog:
            self._pending = (await self._store.status(self._clock())).backlog
            if self._pending + count <= self._settings.max_backlog:
                return
            await asyncio.sleep(delay)
            delay = min(MAX_POLL, delay * 2)

    async def _watch_dead_letters(self) -> None:
        while True:
            await asyncio.sleep(DEAD_LETTER_POLL)
            try:
                await self._report_dead_letters()
            except Exception:
                log.exception("could not read the dead letters")

    async def _report_dead_letters(self) -> None:
        """Tell `on_error` of every dead letter that appeared since the last look."""
        async with self._dead_letters:
            while letters := await self._store.dead_letters(_PAGE, self._last_dead_letter):
                for letter in letters:
                    self._fail("dead", letter.reason, _json(letter.event.body))
                self._last_dead_letter = letters[-1].event.id

    async def _pass_old_dead_letters(self) -> None:
        """Dead letters from before this start were reported then; count them for the log."""
        old = 0
        while letters := await self._store.dead_letters(_PAGE * 10, self._last_dead_letter):
            old += len(letters)
            self._last_dead_letter = letters[-1].event.id
        if old:
            log.warning(
                "the store holds %d dead letters from before; `intercom-destination deadletter "
                "list` says why each died, `deadletter replay` sends them again",
                old,
            )

    def _fail(self, kind: FailureKind, reason: str, event: dict[str, Any]) -> None:
        report(self._on_error, Failure.of(self._destination, kind, reason, event))

    def _start(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work, name=f"intercom-destination {name}")
        task.add_done_callback(_log_crash)
        return task


def _left(status: Status, queued: int = 0) -> Flushed:
    return Flushed(waiting=status.parked, dead=status.dead, pending=status.backlog + queued)


def _json(body: bytes) -> dict[str, Any]:
    obj = msgspec.json.decode(body)
    return obj if isinstance(obj, dict) else {"event": obj}


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())
