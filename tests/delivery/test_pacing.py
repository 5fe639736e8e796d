"""The pacer's budget and the worker's patience with a failing store, on a controlled clock."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from intercom_destination.delivery.pacer import HOLD, Pacer
from intercom_destination.intercom.ratelimit import RateLimitState
from intercom_destination.store import Grant, Store, open_store
from tests.delivery.harness import harness
from tests.waiting import until

pytestmark = pytest.mark.anyio


class Time:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def calls_without_waiting(store: Store, rate_limit: RateLimitState, calls: int) -> int:
    """How many of `calls` made one after another go before the first wait."""
    time = Time()
    pacer = Pacer(
        store, rate_limit, share=0.9, clock=time.clock, sleep=time.sleep, rng=random.Random(1)
    )
    for made in range(calls):
        await pacer.acquire()
        if time.slept:
            return made
    return calls


async def test_one_call_at_a_time_until_intercom_says_its_limit() -> None:
    async with await open_store("sqlite:///:memory:") as store:
        assert await calls_without_waiting(store, RateLimitState(), 5) == 1


class CountedTakes:
    """A store whose `take_tokens` calls are counted."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.asked = 0
        self._take_tokens = store.take_tokens
        store.take_tokens = self._counted  # type: ignore[method-assign]

    async def _counted(self, *args: Any, **kwargs: Any) -> Grant:
        self.asked += 1
        return await self._take_tokens(*args, **kwargs)


def known_limit(limit: int) -> RateLimitState:
    rate_limit = RateLimitState()
    rate_limit.record(
        {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(limit),
            "x-ratelimit-reset": "2000000000",
        }
    )
    return rate_limit


async def test_waiters_of_one_process_ask_the_shared_bucket_one_at_a_time() -> None:
    time = Time()

    async def sleep(seconds: float) -> None:
        time.now += seconds
        await asyncio.sleep(0)

    async with await open_store("sqlite:///:memory:") as store:
        counted = CountedTakes(store)
        pacer = Pacer(
            store, RateLimitState(), share=0.9, clock=time.clock, sleep=sleep, rng=random.Random(1)
        )
        await asyncio.gather(*(pacer.acquire() for _ in range(20)))

    # Each call waits for its token once: 20 granted, 19 refused once. Each asking for
    # itself, all the waiters woke together and all but one were refused again (210 asks).
    assert counted.asked <= 40


async def test_calls_waiting_together_share_trips_to_the_store() -> None:
    time = Time()
    async with await open_store("sqlite:///:memory:") as store:
        counted = CountedTakes(store)
        pacer = paced(store, time)
        await asyncio.gather(*(pacer.acquire() for _ in range(20)))

        # The first call asked for itself before the others queued; they shared a trip for
        # each half a burst (10) of them.
        assert counted.asked == 3


async def test_calls_waiting_together_go_within_the_budget() -> None:
    time = Time()
    async with await open_store("sqlite:///:memory:") as store:
        counted = CountedTakes(store)
        pacer = paced(store, time)
        called: list[float] = []

        async def call() -> None:
            await pacer.acquire()
            called.append(time.now)

        await asyncio.gather(*(call() for _ in range(100)))

        start, burst = called[0], 20
        # Never more calls than the burst and what refilled since; the burst at once; and a
        # trip to the store for many calls at a time.
        assert all(n + 1 <= burst + (at - start) * pacer.rate + 1e-6 for n, at in enumerate(called))
        assert called[:burst] == [start] * burst
        # A trip for each half a burst granted, and one refused between them at most.
        assert counted.asked <= 2 * 100 / 10


async def test_a_burst_of_up_to_20_once_the_limit_is_known() -> None:
    async with await open_store("sqlite:///:memory:") as store:
        assert await calls_without_waiting(store, known_limit(1666), 30) == 20


def paced(store: Store, time: Time) -> Pacer:
    return Pacer(
        store,
        known_limit(1666),
        share=0.9,
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(1),
    )


async def test_a_token_left_by_a_call_that_stopped_waiting_is_not_kept() -> None:
    time = Time()
    async with await open_store("sqlite:///:memory:") as store:
        asked: list[int] = []
        gate = asyncio.Event()
        take_tokens = store.take_tokens

        async def gated(most: int, *args: Any) -> Grant:
            asked.append(most)
            await gate.wait()
            return await take_tokens(most, *args)

        store.take_tokens = gated  # type: ignore[method-assign]
        pacer = paced(store, time)
        first = asyncio.create_task(pacer.acquire())
        await until_asked(asked, 1)
        second, gone = (asyncio.create_task(pacer.acquire()) for _ in range(2))
        gate.set()
        await first
        gate.clear()
        await until_asked(asked, 2)
        gone.cancel()
        gate.set()
        await second
        assert asked == [1, 2]

        time.now += HOLD * 2
        await pacer.acquire()

        assert asked == [1, 2, 1]


async def until_asked(asked: list[int], times: int) -> None:
    while len(asked) < times:
        await asyncio.sleep(0)


class FlakyStore:
    """A store whose first lease fails, as a database restarting would."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failed = False

    async def lease(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise OSError("connection refused")
        return await self._store.lease(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_failing_store_does_not_stop_the_worker(sandbox: str) -> None:
    async with harness(sandbox) as h:
        flaky = FlakyStore(h.store)
        h.worker._store = flaky  # type: ignore[assignment]
        h.worker._store_retry = 0.01
        await h.send({"type": "identify", "userId": "u1", "traits": {"email": "a@x.io"}})
        stop = asyncio.Event()
        running = asyncio.create_task(h.worker.run(stop))

        async def delivered() -> bool:
            return not (await h.store.status(h.clock())).backlog

        await until(delivered, "the backlog is delivered")
        stop.set()
        await running
        assert flaky.failed
        assert h.contact("u1")["email"] == "a@x.io"


async def test_calls_that_line_up_one_by_one_share_trips_while_the_budget_is_the_limit() -> None:
    time = Time()

    async def request() -> None:
        # Each call takes a little time, so that the lanes come back to the pacer one by one.
        time.now += 0.002
        await asyncio.sleep(0)

    async with await open_store("sqlite:///:memory:") as store:
        counted = CountedTakes(store)
        pacer = Pacer(
            store,
            known_limit(1666),
            share=0.9,
            clock=time.clock,
            sleep=request_sleep(time),
            rng=random.Random(1),
        )
        called: list[float] = []

        async def lane() -> None:
            for _ in range(20):
                await pacer.acquire()
                called.append(time.now)
                await request()

        await asyncio.gather(*(lane() for _ in range(32)))

    start, burst = called[0], 20
    assert all(n + 1 <= burst + (at - start) * pacer.rate + 1e-6 for n, at in enumerate(called))
    # A trip per half a burst (10) of calls, and one refused between them at most.
    assert counted.asked <= 2 * len(called) / 10


def request_sleep(time: Time) -> Any:
    async def sleep(seconds: float) -> None:
        time.now += seconds
        await asyncio.sleep(0)

    return sleep
