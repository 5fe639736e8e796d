"""A bounded queue from the application's threads (or tasks) to one task on an event loop.

Putting an item costs a lock and an append; the consumer is woken across threads only when
it is waiting, so a burst of calls costs one wake-up. When the queue is full, a thread waits
on a condition and a task awaits, each up to its timeout, until the consumer takes a batch.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class BoundedQueue(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the queue needs room for at least one event")
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived = asyncio.Event()
        self._freed = asyncio.Event()
        self._consumer_waiting = False
        self._closed = False
        #: Items accepted so far: the sequence number of the latest one.
        self.accepted = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The consumer runs on `loop`."""
        self._loop = loop

    def put(self, item: T, timeout: float | None) -> bool:
        """Queue `item` from a thread other than the loop's, waiting up to `timeout` seconds
        (None: as long as it takes) for room; False if there was none."""
        with self._lock:
            if not self._room.wait_for(self._has_room, timeout) or self._closed:
                return False
            wake = self._append(item)
        if wake and self._loop is not None:
            self._loop.call_soon_threadsafe(self._arrived.set)
        return True

    async def aput(self, item: T, timeout: float | None) -> bool:
        """Queue `item` from a task on the consumer's loop, awaiting room up to `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._closed:
                    return False
                if self._has_room():
                    wake = self._append(item)
                    break
                self._freed.clear()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            try:
                # asyncio.timeout, not wait_for, which on Python 3.11 can lose a cancellation.
                async with asyncio.timeout(remaining):
                    await self._freed.wait()
            except TimeoutError:
                return False
        if wake:
            self._arrived.set()
        return True

    async def take(self, limit: int) -> list[T]:
        """Up to `limit` items, oldest first, once there is one; [] once closed and empty."""
        while True:
            with self._lock:
                if self._items:
                    count = min(limit, len(self._items))
                    batch = [self._items.popleft() for _ in range(count)]
                    self._room.notify_all()
                    self._freed.set()
                    return batch
                if self._closed:
                    return []
                self._consumer_waiting = True
                self._arrived.clear()
            await self._arrived.wait()

    def close(self) -> None:
        """Take no more items; the consumer still gets those queued. Call on the loop."""
        with self._lock:
            self._closed = True
            self._room.notify_all()
        self._arrived.set()
        self._freed.set()

    def _has_room(self) -> bool:
        return self._closed or len(self._items) < self.capacity

    def _append(self, item: T) -> bool:
        """Append under the lock; whether the consumer must be woken."""
        self._items.append(item)
        self.accepted += 1
        wake = self._consumer_waiting
        self._consumer_waiting = False
        return wake
