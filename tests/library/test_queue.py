"""The bounded queue between the application's calls and the store's writer."""

from __future__ import annotations

import asyncio
import threading

import pytest

from intercom_destination.library.queue import BoundedQueue

pytestmark = pytest.mark.anyio


async def test_the_consumer_gets_batches_in_order_once_items_arrive_from_threads() -> None:
    intake: BoundedQueue[int] = BoundedQueue(100)
    intake.bind(asyncio.get_running_loop())
    taking = asyncio.create_task(intake.take(10))
    await asyncio.sleep(0)
    assert not taking.done()
    thread = threading.Thread(target=lambda: [intake.put(i, None) for i in range(25)])
    thread.start()
    thread.join()
    first = await taking
    rest = await intake.take(100)
    assert first + rest == list(range(25))
    assert len(first) <= 10
    assert intake.accepted == 25


async def test_a_full_queue_refuses_after_the_timeout_and_takes_again_once_emptied() -> None:
    intake: BoundedQueue[str] = BoundedQueue(2)
    intake.bind(asyncio.get_running_loop())
    assert intake.put("a", 0)
    assert await intake.aput("b", 0)
    assert not intake.put("c", 0)
    assert not await intake.aput("c", 0.01)
    assert await intake.take(1) == ["a"]
    assert intake.put("c", 0)
    assert await intake.take(10) == ["b", "c"]


async def test_a_waiting_thread_gets_room_when_the_consumer_takes() -> None:
    intake: BoundedQueue[int] = BoundedQueue(1)
    intake.bind(asyncio.get_running_loop())
    intake.put(1, 0)
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(intake.put(2, None)))
    thread.start()
    assert await intake.take(1) == [1]
    assert await intake.take(1) == [2]
    await asyncio.to_thread(thread.join)
    assert result == [True]


async def test_a_waiting_task_gets_room_when_the_consumer_takes() -> None:
    intake: BoundedQueue[int] = BoundedQueue(1)
    intake.bind(asyncio.get_running_loop())
    await intake.aput(1, None)
    putting = asyncio.create_task(intake.aput(2, None))
    await asyncio.sleep(0)
    assert not putting.done()
    assert await intake.take(5) == [1]
    assert await putting
    assert await intake.take(5) == [2]


async def test_closing_hands_over_what_is_queued_then_ends_and_refuses_more() -> None:
    intake: BoundedQueue[int] = BoundedQueue(10)
    intake.bind(asyncio.get_running_loop())
    intake.put(1, 0)
    intake.close()
    assert not intake.put(2, None)
    assert not await intake.aput(2, None)
    assert await intake.take(10) == [1]
    assert await intake.take(10) == []


def test_a_queue_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        BoundedQueue(0)
