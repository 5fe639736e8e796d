"""One rate budget for every worker of a workspace.

A token bucket in the store refills at `rate_share` of Intercom's limit, which the
`X-RateLimit-*` headers report for each 10-second window (until the first response, a
configured default is assumed). A 429 pauses every worker sharing the store until the
window resets, plus jitter, instead of each request retrying on its own.

The calls waiting in one process are served together: the first in line takes a token for
each of them (up to half a burst) from the store in one round trip, and the others are handed
theirs as their turns come, at once: the bucket has already counted them against the rate.
(Spaced out at the rate instead, each call cost a timer and a wake-up of its own: 30 % more of
the sender's CPU while the budget was the limit.) A trip that leaves the bucket drained (less
than a token in it) has the next wait until half a burst has refilled, the calls lining up
meanwhile: asking as soon as a token was back, a trip served three calls on average while the
budget was the limit, and each trip is a transaction of the store.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from intercom_destination.intercom.ratelimit import RateLimitState
from intercom_destination.store import Store

WINDOW = 10.0
#: Intercom's default for a private app: 10,000 calls a minute in 10-second windows.
DEFAULT_LIMIT = 1666
#: Why a 429 pauses every worker, as `status` says.
RATE_LIMITED = "Intercom's rate limit (429): the app's 10-second window is spent"
#: Seconds the tokens taken for the calls waiting in line are kept for them. The calls take
#: theirs as their turns come; one that gave up waiting (its task cancelled) leaves its token
#: unused, which is dropped after this and lost to the budget, at most one per call cancelled
#: while waiting.
HOLD = 0.25


class Pacer:
    def __init__(
        self,
        store: Store,
        rate_limit: RateLimitState,
        *,
        share: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
        default_limit: int = DEFAULT_LIMIT,
    ) -> None:
        self._store = store
        self._rate_limit = rate_limit
        self._share = share
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._default_limit = default_limit
        #: One task of the process asks the shared bucket at a time, the others queue here:
        #: each waiter asking for itself woke together with all the others, and all but one
        #: found the bucket empty again, a store transaction each.
        self._turn = asyncio.Lock()
        #: Calls waiting in `acquire`, the one whose turn it is included.
        self._waiting = 0
        #: Tokens taken for calls waiting in line, and until when they are kept.
        self._held = 0
        self._held_until = 0.0
        #: No trip to the store before this time: the bucket was drained.
        self._next_trip = 0.0

    @property
    def limit(self) -> int:
        """Calls allowed per 10-second window, as Intercom last said."""
        window = self._rate_limit.window
        return window.limit if window is not None else self._default_limit

    @property
    def rate(self) -> float:
        """Calls per second this destination allows itself."""
        return self._share * self.limit / WINDOW

    def _burst(self) -> float:
        # Small enough that a burst at a window's edge never pushes a window past its limit;
        # one call at a time until Intercom's headers have said what the limit is.
        if self._rate_limit.window is None:
            return 1.0
        return max(1.0, min(20.0, self.limit * 0.05))

    async def acquire(self) -> None:
        """Wait until one more call fits the budget."""
        self._waiting += 1
        try:
            async with self._turn:
                await self._window()
                if not self._take_held():
                    await self._take()
        finally:
            self._waiting -= 1

    async def _window(self) -> None:
        # Other apps may share the workspace's window: when it is about spent, wait it out.
        window = self._rate_limit.window
        now = self._clock()
        if window is not None and window.remaining < self._burst() and now < window.reset_at:
            self._held = 0  # the wait is longer than tokens are kept
            await self._sleep(window.reset_at - now)

    def _take_held(self) -> bool:
        """Whether a token taken for the calls in line was left for this one."""
        if not self._held:
            return False
        if self._clock() > self._held_until:
            self._held = 0
            return False
        self._held -= 1
        return True

    async def _take(self) -> None:
        """Take a token for each call waiting in line (up to half a burst), one of them this
        call's, the others kept for the rest."""
        while True:
            now = self._clock()
            if now < self._next_trip:
                await self._sleep(self._next_trip - now)
                now = self._clock()
            burst = self._burst()
            # Half a burst at most: a caller refused sleeps until what it asked for has
            # refilled, and asking for a whole burst it would wake to a full bucket, which
            # drops what refills while the loop is late to wake it (2 % of the budget).
            half = max(1, int(burst) // 2)
            most = min(self._waiting, half)
            grant = await self._store.take_tokens(most, now, self.rate, burst)
            if grant.left < 1:
                self._next_trip = now + (half - grant.left) / self.rate
            if grant.ask_again_at is None:
                break
            self._next_trip = max(self._next_trip, grant.ask_again_at)
        self._held = grant.tokens - 1
        self._held_until = self._clock() + HOLD

    async def rate_limited(self, reset_at: float | None) -> float:
        """A 429: pause every worker until the window resets; returns when that is."""
        now = self._clock()
        until = max(reset_at or now + WINDOW, now) + self._rng.uniform(0.1, 1.0)
        await self._store.pause_until(until, RATE_LIMITED)
        return until
