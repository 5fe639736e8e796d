"""`send`: a backfill. Events from a file go through the store and are delivered, with progress."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from intercom_destination.commands.event_file import Line, read_events
from intercom_destination.commands.feed import OutcomeFeed, Tally
from intercom_destination.commands.followed import MessageIds
from intercom_destination.delivery.engine import open_worker
from intercom_destination.delivery.worker import Halted
from intercom_destination.settings import Settings
from intercom_destination.spec import InvalidEvent
from intercom_destination.store import Enqueued, NewEvent, Store, new_event, open_store
from intercom_destination.store.suppression import SuppressionList

#: Events per store transaction.
CHUNK = 500
#: Seconds between progress updates.
REFRESH = 0.25


@dataclass
class Backfill:
    """What became of a file's events."""

    invalid: int = 0
    #: Events the store had accepted before (same messageId).
    duplicates: int = 0
    #: Events refused because their person is suppressed.
    suppressed: int = 0
    accepted: int = 0
    #: The accepted events' messageIds, kept only to follow their delivery, in 8 bytes each
    #: (a backfill that only stores its events keeps none).
    followed: MessageIds = field(default_factory=MessageIds)
    #: Accepted events by their latest outcome; None when they were only stored.
    tally: Tally | None = None
    #: What stopped delivery before the end (Intercom refused the token), if anything did.
    halted: str | None = None

    @property
    def failed(self) -> bool:
        dead = self.tally is not None and self.tally["dead"] > 0
        return self.invalid > 0 or dead or self.halted is not None

    def summary(self) -> str:
        problems = f"{self.invalid} invalid, {self.duplicates} duplicate"
        if self.suppressed:
            problems += f", {self.suppressed} suppressed"
        if self.tally is None:
            return f"{self.accepted} stored for delivery; {problems}"
        tally = self.tally
        waiting = self.accepted - tally.finished
        if self.halted is not None:
            return (
                f"stopped: {self.halted}. {waiting} of {self.accepted} events wait in the "
                "store: run send again, or a worker, once that is fixed"
            )
        line = (
            f"{self.accepted} events: {tally['delivered']} delivered, "
            f"{tally['skipped']} skipped, {waiting} waiting, {tally['dead']} dead; {problems}"
        )
        if waiting:
            line += "\nwaiting events wait for their contact's identify (see `status`)"
        if tally["dead"]:
            line += "\ndead events are dead letters: `deadletter list` says why"
        return line


async def send(
    settings: Settings,
    lines: Iterable[str],
    *,
    deliver: bool,
    console: Console,
    clock: Callable[[], float] = time.time,
) -> Backfill:
    """Store the events in a file's `lines`, reporting invalid ones on `console`; deliver them
    if asked."""
    since = clock()
    events = read_events(lines, datetime.fromtimestamp(since, UTC))
    async with await open_store(
        settings.database_url,
        trace_retention=settings.trace_retention,
        trace_rows=settings.trace_rows,
    ) as store:
        backfill = await _store_events(store, events, since, console, follow=deliver)
        if deliver:
            feed = OutcomeFeed(store, backfill.followed, since=since)
            async with open_worker(settings, store, clock=clock) as worker:
                draining = asyncio.create_task(worker.drain())
                try:
                    await _show_progress(draining, feed, backfill.accepted, console, clock)
                except Halted as halted:
                    backfill.halted = str(halted)
            backfill.tally = feed.tally
    return backfill


async def _store_events(
    store: Store, lines: Iterable[Line], received_at: float, console: Console, *, follow: bool
) -> Backfill:
    backfill = Backfill()
    chunk: list[NewEvent] = []
    suppressed = await SuppressionList(store).current()

    async def enqueue() -> None:
        results = await store.enqueue(chunk)
        accepted = [
            event.message_id
            for event, result in zip(chunk, results, strict=True)
            if result is Enqueued.ACCEPTED
        ]
        backfill.accepted += len(accepted)
        backfill.duplicates += len(chunk) - len(accepted)
        if follow:
            backfill.followed.add_all(accepted)
        chunk.clear()

    for line in lines:
        if isinstance(line.event, InvalidEvent):
            backfill.invalid += 1
            console.print(f"line {line.number}: {line.event}", markup=False, highlight=False)
            continue
        event = new_event(line.event, received_at)
        if suppressed.refuses(event.user_id, event.anonymous_id):
            backfill.suppressed += 1
            continue
        chunk.append(event)
        if len(chunk) == CHUNK:
            await enqueue()
    if chunk:
        await enqueue()
    return backfill


async def _show_progress(
    draining: asyncio.Task[None],
    feed: OutcomeFeed,
    total: int,
    console: Console,
    clock: Callable[[], float],
) -> None:
    columns = (
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}", markup=False),
        TimeElapsedColumn(),
    )
    # Where no one watches (a log file, CI), the summary line says it all.
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("delivering", total=total, counts="")
        while True:
            done = draining.done()
            await feed.poll()
            tally = feed.tally
            counts = (
                f"{tally['delivered']} delivered · {tally['skipped']} skipped · "
                f"{total - tally.finished} waiting · {tally['dead']} dead · "
                f"{feed.calls_per_second(clock()):.0f} calls/s"
            )
            progress.update(task, completed=tally.finished, counts=counts)
            if done:
                break
            await asyncio.wait({draining}, timeout=REFRESH)
    await draining
