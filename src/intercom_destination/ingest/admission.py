"""Whether ingest may take more events: the store answers, and its backlog is below the bound.

Counting the backlog (`Store.status`) reads every pending event: far too slow per request, and
it takes the store seconds at a million events. So the count is taken now and then and the
events accepted since are added to it; the estimate errs on the full side until the next count
sees what the workers delivered. Far below the bound the estimate is enough and the store is
counted rarely; once the estimate passes half the bound it is counted every `interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from intercom_destination.store import Status, Store

log = logging.getLogger(__name__)


class Admission:
    def __init__(
        self,
        store: Store,
        max_backlog: int,
        clock: Callable[[], float],
        on_status: Callable[[Status], None],
    ) -> None:
        self._store = store
        self.max_backlog = max_backlog
        self._clock = clock
        self._on_status = on_status
        self._backlog = 0
        #: Events accepted since the start, to tell which arrived while the store was counting.
        self._added = 0
        self._near_bound = asyncio.Event()
        #: Whether the store failed to answer the latest refresh.
        self.store_down = False

    @property
    def backlog(self) -> int:
        """Pending events, as of the latest refresh plus those accepted since."""
        return self._backlog

    @property
    def full(self) -> bool:
        return self._backlog >= self.max_backlog

    def accepted(self, count: int) -> None:
        self._answers()
        self._backlog += count
        self._added += count
        if self._backlog * 2 >= self.max_backlog:
            self._near_bound.set()

    def failed(self, error: Exception) -> None:
        """The store failed to take events: it is down until it answers again (a refresh,
        which `watch` makes every `interval` meanwhile, or events it takes)."""
        if not self.store_down:
            log.error("the store does not answer", extra={"fields": {"error": repr(error)}})
            self._near_bound.set()  # counted now, then every `interval` until it answers
        self.store_down = True

    async def refresh(self) -> Status | None:
        """Asks the store for its status; None (and `store_down`) if it cannot answer."""
        added = self._added
        try:
            status = await self._store.status(self._clock())
        except Exception as error:
            self.failed(error)
            return None
        self._answers()
        # Events accepted while the store counted may be counted twice, never missed.
        self._backlog = status.backlog + self._added - added
        self._on_status(status)
        return status

    def _answers(self) -> None:
        if self.store_down:
            log.info("the store answers again")
        self.store_down = False

    async def watch(self, interval: float, far_interval: float) -> None:
        """Refreshes every `interval` seconds near the bound or while the store is down, every
        `far_interval` seconds otherwise, until cancelled."""
        while True:
            await self.refresh()
            self._near_bound.clear()
            if self._backlog * 2 >= self.max_backlog or self.store_down:
                await asyncio.sleep(interval)
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation
            # that arrives as the event is set, and the watcher then never stops.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(far_interval):
                    await self._near_bound.wait()
