"""A token Intercom refuses halts delivery for every lane, and says so once, not per event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from intercom_destination.delivery.worker import Halted
from tests.delivery.harness import harness
from tests.events import identify
from tests.waiting import until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


WORKER_LOG = "intercom_destination.delivery.worker"


def worker_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == WORKER_LOG]


@pytest.fixture(scope="module")
def guarded(start_sandbox: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """A sandbox that accepts only the token `right`."""
    with start_sandbox("--token", "right") as url:
        yield url


async def test_drain_stops_at_a_refused_token_without_waiting_out_the_pause(
    guarded: str,
) -> None:
    async with harness(guarded, access_token="wrong") as h:
        users = [f"u{n}" for n in range(3)]
        await h.send(*(identify(user, f"{user}@example.com") for user in users))

        with pytest.raises(Halted) as halted:
            await h.worker.drain()

        assert str(halted.value).startswith("Intercom refused the access token (401")
        status = await h.store.status(h.clock())
        # The attempts Intercom refused (those that called before the pause) wait like the
        # others: nothing is dead or lost.
        assert (status.backlog, status.dead, set(status.outcomes)) == (3, 0, {"retry"})
        pause = await h.store.pause()
        assert pause is not None
        assert pause.reason == str(halted.value)


async def test_a_worker_logs_a_halt_once_and_keeps_running(
    guarded: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with harness(guarded, access_token="wrong") as h:
        await h.send(identify("u1", "ada@example.com"))
        stop = asyncio.Event()
        with caplog.at_level(logging.ERROR, logger=WORKER_LOG):
            running = asyncio.create_task(h.worker.run(stop))
            await until(lambda: worker_errors(caplog), "the worker logs the halt")
            stop.set()
            await running

        [record] = worker_errors(caplog)
        assert record.getMessage().startswith("Intercom refused the access token (401")
        assert "; every lane waits until " in record.getMessage()
        assert "wrong" not in record.getMessage()
        assert (await h.store.status(h.clock())).backlog == 1
