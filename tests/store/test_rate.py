from __future__ import annotations

import asyncio

import pytest

from intercom_destination.store import Grant, Pause, Store, open_store
from tests.store.helpers import NOW

pytestmark = pytest.mark.anyio

RATE, BURST = 10.0, 5.0


async def test_a_full_bucket_grants_its_burst_then_says_when_to_ask_again(store: Store) -> None:
    assert await store.take_tokens(3, NOW, RATE, BURST) == Grant(3, None, 2.0)
    assert await store.take_tokens(4, NOW, RATE, BURST) == Grant(2, None, 0.0)

    assert await store.take_tokens(2, NOW, RATE, BURST) == Grant(0, pytest.approx(NOW + 0.2), 0.0)
    assert await store.take_tokens(2, NOW + 0.15, RATE, BURST) == Grant(1, None, pytest.approx(0.5))
    assert await store.take_tokens(2, NOW + 0.17, RATE, BURST) == Grant(
        0, pytest.approx(NOW + 0.3), pytest.approx(0.7)
    )


async def test_the_bucket_refills_up_to_its_burst(store: Store) -> None:
    assert await store.take_tokens(5, NOW, RATE, BURST) == Grant(5, None, 0.0)

    assert await store.take_tokens(5, NOW + 60, RATE, BURST) == Grant(5, None, 0.0)
    assert (await store.take_tokens(1, NOW + 60, RATE, BURST)).tokens == 0


async def test_more_than_the_burst_can_never_be_taken(store: Store) -> None:
    with pytest.raises(ValueError, match="never"):
        await store.take_tokens(6, NOW, RATE, BURST)


async def test_a_pause_holds_every_token_until_it_ends(store: Store) -> None:
    assert await store.pause() is None
    assert await store.take_tokens(1, NOW, RATE, BURST) == Grant(1, None, 4.0)

    await store.pause_until(NOW + 30, "429")
    await store.pause_until(NOW + 10, "401")

    assert await store.pause() == Pause(NOW + 30, "429")
    assert await store.take_tokens(1, NOW + 1, RATE, BURST) == Grant(0, NOW + 30, 5.0)
    assert await store.take_tokens(1, NOW + 30, RATE, BURST) == Grant(1, None, 4.0)


async def test_a_longer_pause_brings_its_reason(store: Store) -> None:
    await store.pause_until(NOW + 10, "429")
    await store.pause_until(NOW + 60, "401")

    assert await store.pause() == Pause(NOW + 60, "401")


async def test_a_pause_before_any_take_starts_an_empty_bucket(store: Store) -> None:
    await store.pause_until(NOW + 30, "429")

    assert await store.take_tokens(1, NOW, RATE, BURST) == Grant(0, NOW + 30, 0.0)
    assert await store.take_tokens(1, NOW + 30, RATE, BURST) == Grant(
        0, pytest.approx(NOW + 30.1), 0.0
    )


async def test_workers_of_several_processes_share_one_budget(shared_url: str) -> None:
    async with await open_store(shared_url) as one, await open_store(shared_url) as two:
        granted = 0
        steps = 200  # 10 seconds in steps of 50 ms, four takers asking at every step

        async def taker(store: Store) -> None:
            nonlocal granted
            for step in range(steps + 1):
                grant = await store.take_tokens(2, NOW + step * 0.05, RATE, BURST)
                granted += grant.tokens
                await asyncio.sleep(0)

        await asyncio.gather(taker(one), taker(one), taker(two), taker(two))

        # The burst, plus ten seconds of refill: never more, whoever asks.
        assert BURST + 10 * RATE - 1 <= granted <= BURST + 10 * RATE
        await one.pause_until(NOW + 100, "429")
        assert await two.pause() == Pause(NOW + 100, "429")
