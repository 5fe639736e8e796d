"""Intercom's rate limit: a number of requests per 10-second window.

Windows are aligned to multiples of 10 Unix seconds, so `X-RateLimit-Reset` (Unix seconds)
is always a whole number and the same for every request of a window.
"""

from __future__ import annotations

import math

import msgspec

from intercom_destination.sandbox.clock import Clock

WINDOW_SECONDS = 10


class Quota(msgspec.Struct, frozen=True, kw_only=True):
    """What one request was granted, and what the headers say about its window."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Counts requests per window; can also refuse everything until a given time (a forced
    429 window, for tests)."""

    def __init__(self, clock: Clock, limit: int) -> None:
        self._clock = clock
        self.limit = limit
        self._window_start = -1.0
        self._used = 0
        self._refuse_until: float | None = None

    def take(self) -> Quota:
        now = self._clock.now()
        if self._refuse_until is not None and now < self._refuse_until:
            return Quota(
                allowed=False, limit=self.limit, remaining=0, reset=math.ceil(self._refuse_until)
            )
        start = now // WINDOW_SECONDS * WINDOW_SECONDS
        if start != self._window_start:
            self._window_start = start
            self._used = 0
        allowed = self._used < self.limit
        if allowed:
            self._used += 1
        return Quota(
            allowed=allowed,
            limit=self.limit,
            remaining=self.limit - self._used,
            reset=int(start) + WINDOW_SECONDS,
        )

    def refuse_until(self, until: float | None) -> None:
        self._refuse_until = until

    def clear(self) -> None:
        self._window_start = -1.0
        self._used = 0
        self._refuse_until = None
