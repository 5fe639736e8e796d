"""One attempt at one event: the Intercom calls it makes, paced and counted, and its warnings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from intercom_destination.delivery.pacer import Pacer
from intercom_destination.intercom.errors import RateLimited

T = TypeVar("T")


class DeliveryAttempt:
    def __init__(
        self, pacer: Pacer, lane: str, now: float, warnings: list[str], *, parked: bool = True
    ) -> None:
        self.lane = lane
        #: Whether the lane may hold parked events (`Lease.parked`).
        self.parked = parked
        self.now = now
        self.warnings = warnings
        self.calls = 0
        #: The operation being run, for outcome reasons ("POST /events: ...").
        self.step = ""
        #: Whether events were put back into the lane ahead of its others (unparked, or a
        #: visitor's merged in): the events leased behind this one are no longer its next.
        self.reordered = False
        self._pacer = pacer

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        """Make one Intercom call when the shared budget allows it."""
        await self._pacer.acquire()
        self.calls += 1
        try:
            return await request()
        except RateLimited as error:
            await self._pacer.rate_limited(error.reset_at)
            raise
