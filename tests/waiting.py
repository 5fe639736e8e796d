"""Waiting on a condition instead of for a fixed time: poll it until it holds, give up after
`PATIENCE` (a hung test, not a threshold)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

PATIENCE = 60.0


def wait_until(condition: Callable[[], T], what: str, patience: float = PATIENCE) -> T:
    """`condition()`'s first true result; fails naming `what` if none comes in time."""
    deadline = time.monotonic() + patience
    while not (result := condition()):
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.05)
    return result


async def until(
    condition: Callable[[], T | Awaitable[T]], what: str, patience: float = PATIENCE
) -> T:
    """`wait_until` in a running loop; `condition` may be a coroutine function."""
    deadline = time.monotonic() + patience
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        await asyncio.sleep(0.01)
