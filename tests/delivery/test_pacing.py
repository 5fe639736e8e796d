"""The pacer's budget and the worker's patience with a failing store, on a controlled clock."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from intercom_destination.delivery.pacer import Pacer
from intercom_destination.intercom.ratelimit import RateLimitState
from intercom_destination.store import Store, open_store
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
    time = Time()
    pacer = Pacer(
        store, rate_limit, share=0.9, clock=time.clock, sleep=time.sleep, rng=random.Random(1)
    )
    for _ in range(calls):
        await pacer.acquire()
    return calls - len(time.slept)


async def test_one_call_at_a_time_until_intercom_says_its_limit() -> None:
    async with await open_store("sqlite:///:memory:") as store:
        assert await calls_without_waiting(store, RateLimitState(), 5) == 1


async def test_waiters_of_one_process_ask_the_shared_bucket_one_at_a_time() -> None:
    time = Time()

    async def sleep(seconds: float) -> None:
        time.now += seconds
        await asyncio.sleep(0)

    async with await open_store("sqlite:///:memory:") as store:
        asked = 0
        take_tokens = store.take_tokens

        async def counted(*args: Any, **kwargs: Any) -> float | None:
            nonlocal asked
            asked += 1
            return await take_tokens(*args, **kwargs)

        store.take_tokens = counted  # type: ignore[method-assign]
        pacer = Pacer(
            store, RateLimitState(), share=0.9, clock=time.clock, sleep=sleep, rng=random.Random(1)
        )
        await asyncio.gather(*(pacer.acquire() for _ in range(20)))

    # Each call waits for its token once: 20 granted, 19 refused once. Each asking for
    # itself, all the waiters woke together and all but one were refused again (210 asks).
    assert asked <= 40


async def test_a_burst_of_up_to_20_once_the_limit_is_known() -> None:
    rate_limit = RateLimitState()
    rate_limit.record(
        {
            "x-ratelimit-limit": "1666",
            "x-ratelimit-remaining": "1666",
            "x-ratelimit-reset": "2000000000",
        }
    )
    async with await open_store("sqlite:///:memory:") as store:
        assert await calls_without_waiting(store, rate_limit, 30) == 20


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
