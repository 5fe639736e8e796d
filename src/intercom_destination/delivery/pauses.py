"""Delivery's waits, which a halted drain cuts short while calls on their way finish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Pauses:
    """The sleeps of the pacer and the executor, which `interrupt` ends at once.

    A drain halted by a refused token stops the events waiting out its pause, but lets an
    event whose request is on its way finish: cancelling that one could lose Intercom's
    answer to a call it carried out, and have the event sent again.
    """

    def __init__(self) -> None:
        self._interrupted = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds`; cancelled (as a task is) if interrupted first or meanwhile."""
        if not self._interrupted.is_set():
            # asyncio.timeout, not wait_for, which on Python 3.11 can lose a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._interrupted.wait()
        if self._interrupted.is_set():
            raise asyncio.CancelledError

    @contextlib.contextmanager
    def interrupted(self) -> Iterator[None]:
        """Every sleep, now and while the block runs, ends at once."""
        self._interrupted.set()
        try:
            yield
        finally:
            self._interrupted.clear()
