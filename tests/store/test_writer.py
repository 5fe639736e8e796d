"""Jobs that share a transaction of the store's writer."""

from __future__ import annotations

import asyncio
import sqlite3
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
