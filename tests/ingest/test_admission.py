"""The backlog estimate: counted by the store now and then, the events accepted since added."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from intercom_destination.ingest.admission import Admission
from intercom_destination.store import Status

pytestmark = pytest.mark.anyio


class CountingStore:
    """Stands in for a store whose workers deliver: its backlog is whatever the test sets."""

    def __init__(self) -> None:
        self.backlog = 0
        self.counted = asyncio.Event()
        self.counts = 0

    async def status(self, now: float) -> Status:
        self.counts += 1
        self.counted.set()
        return Status(
            lanes=0,
            in_flight=0,
            backlog=self.backlog,
            oldest_pending_age=None,
            parked=0,
            dead=0,
            outcomes={},
        )


async def test_the_estimate_adds_what_was_accepted_since_the_last_count() -> None:
    store = CountingStore()
    admission = Admission(store, 10, lambda: 0.0, lambda status: None)  # type: ignore[arg-type]

    admission.accepted(6)
    assert (admission.backlog, admission.full) == (6, False)
    admission.accepted(4)
    assert (admission.backlog, admission.full) == (10, True)

    store.backlog = 3  # the workers delivered 7
    await admission.refresh()
    assert (admission.backlog, admission.full) == (3, False)


@asynccontextmanager
async def watched(store: CountingStore, interval: float) -> AsyncIterator[Admission]:
    """An admission of `store` whose watcher runs (every hour far from the bound), once the
    watcher's first count is taken."""
    admission = Admission(store, 10, lambda: 0.0, lambda status: None)  # type: ignore[arg-type]
    watcher = asyncio.create_task(admission.watch(interval=interval, far_interval=3600))
    try:
        await asyncio.wait_for(store.counted.wait(), 30)
        store.counted.clear()
        yield admission
    finally:
        watcher.cancel()


async def test_nearing_the_bound_wakes_the_count() -> None:
    store = CountingStore()
    async with watched(store, interval=3600) as admission:
        admission.accepted(4)  # below half the bound: no count
        await asyncio.sleep(0)
        assert store.counts == 1
        admission.accepted(1)  # half the bound: counted at once, not in an hour

        await asyncio.wait_for(store.counted.wait(), 30)
        assert store.counts == 2


async def test_a_store_that_failed_events_is_down_until_a_count_finds_it_back() -> None:
    store = CountingStore()
    async with watched(store, interval=0.01) as admission:
        admission.failed(OSError("connection refused"))  # far from the bound: counted at once
        assert admission.store_down

        await asyncio.wait_for(store.counted.wait(), 30)
        assert not admission.store_down
