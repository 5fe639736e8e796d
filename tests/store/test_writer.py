"""Jobs that share a transaction of the store's writer."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from intercom_destination.store import Enqueued, Store
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
