"""Jobs that share a transaction of the store's writer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable

import msgspec
import pytest

from intercom_destination.store import Enqueued, Store
from intercom_destination.store.sqlite.thread import Writer
from tests.store.helpers import NOW, event

pytestmark = pytest.mark.anyio


async def test_a_failing_batch_fails_alone_among_batches_and_calls(store: Store) -> None:
    broken = msgspec.structs.replace(event("bad"), message_id=None)

    results = await asyncio.gather(
        store.enqueue([event("m1")]),
        store.put_identity("email", "a@example.com", "c1"),
        store.enqueue([event("m2"), broken]),
        store.enqueue([event("m3"), event("m1")]),
        return_exceptions=True,
    )

    assert results[0] == [Enqueued.ACCEPTED]
    assert results[1] is None
    assert isinstance(results[2], Exception)
    assert results[3] == [Enqueued.ACCEPTED, Enqueued.DUPLICATE]
    assert await store.get_identity("email", "a@example.com") == "c1"
    assert (await store.status(NOW)).backlog == 2


async def test_a_job_failing_after_it_wrote_leaves_no_trace_among_others() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    connection.execute("CREATE TABLE t (x INTEGER)")
    writer: Writer[object, object] = Writer(connection, "test-writer")

    def insert(value: int) -> Callable[[sqlite3.Connection], None]:
        def job(connection: sqlite3.Connection) -> None:
            connection.execute("INSERT INTO t VALUES (?)", (value,))

        return job

    def insert_then_fail(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO t VALUES (2)")
        connection.execute("INSERT INTO missing VALUES (2)")

    try:
        results = await asyncio.gather(
            writer.call(insert(1), rows_only=True),
            writer.call(insert_then_fail, rows_only=True),
            writer.call(insert(3), rows_only=True),
            return_exceptions=True,
        )
        rows = await writer.call(lambda c: c.execute("SELECT x FROM t ORDER BY x").fetchall())
    finally:
        await writer.stop()

    assert isinstance(results[1], sqlite3.OperationalError)
    assert rows == [(1,), (3,)]


class _Upkeep:
    """Upkeep due when the test says, noting how the commit it runs in flushes."""

    def __init__(self) -> None:
        self.due = False
        self.levels: list[int] = []

    def upkeep_in(self) -> float:
        return 0.0 if self.due else 3600.0

    def upkeep(self, connection: sqlite3.Connection) -> None:
        self.due = False
        self.levels.append(_synchronous(connection))

    def rolled_back(self) -> None:
        pass


class _Batcher:
    """Appends nothing, noting how the commit it runs in flushes."""

    def __init__(self) -> None:
        self.levels: list[int] = []

    def append(self, connection: sqlite3.Connection, items: list[object]) -> list[object]:
        self.levels.append(_synchronous(connection))
        return items

    def rolled_back(self) -> None:
        pass


def _synchronous(connection: sqlite3.Connection) -> int:
    """How the open transaction will commit: 1 without flushing the log, 2 flushing it."""
    (level,) = connection.execute("PRAGMA synchronous").fetchone()
    return int(level)


async def test_a_commit_flushes_the_log_unless_every_job_in_it_may_be_undone() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA synchronous = FULL")
    upkeep, batcher = _Upkeep(), _Batcher()
    writer: Writer[object, object] = Writer(
        connection, "test-writer", upkeep=upkeep, batcher=batcher
    )
    taken, release = threading.Event(), threading.Event()

    def held(connection: sqlite3.Connection) -> int:
        taken.set()
        release.wait(5)
        return _synchronous(connection)

    try:
        first = asyncio.ensure_future(writer.call(held, durable=False))
        await asyncio.to_thread(taken.wait, 5)
        # Queued while the writer is busy: the two share the next transaction.
        together = asyncio.gather(
            writer.call(_synchronous, durable=False), writer.call(_synchronous)
        )
        await asyncio.sleep(0)
        release.set()
        levels = [await first, *await together]
        levels.append(await writer.call(_synchronous, durable=False))
        await writer.batch(["an arrival"])
        levels.append(await writer.call(_synchronous, durable=False))
        upkeep.due = True
        levels.append(await writer.call(_synchronous, durable=False))
    finally:
        await writer.stop()

    assert levels == [1, 2, 2, 1, 1, 1]
    assert batcher.levels == [2]
    assert upkeep.levels == [2]
