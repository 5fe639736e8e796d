from __future__ import annotations

import asyncio

import msgspec
import pytest

from intercom_destination.store import Enqueued, NewEvent, Store
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio

ACCEPTED, DUPLICATE = Enqueued.ACCEPTED, Enqueued.DUPLICATE


async def test_an_event_is_stored_with_its_original_bytes(store: Store) -> None:
    original = event("m1", type="identify")
    assert await store.enqueue([original]) == [ACCEPTED]

    [lease] = await store.lease("w", 10, 30, NOW)

    stored = lease.event
    assert (stored.message_id, stored.lane, stored.type, stored.received_at) == (
        "m1",
        "u1",
        "identify",
        NOW,
    )
    assert stored.body == original.body
    assert stored.attempts == 0


async def test_lane_is_the_user_id_else_the_anonymous_id(store: Store) -> None:
    await store.enqueue(
        [event("m1", "u1", anonymous_id="a1"), event("m2", None, anonymous_id="a2")]
    )

    leases = await store.lease("w", 10, 30, NOW)

    assert sorted((lease.lane, lease.event.message_id) for lease in leases) == [
        ("a2", "m2"),
        ("u1", "m1"),
    ]


async def test_a_message_id_seen_before_is_a_duplicate_and_not_stored_again(
    store: Store,
) -> None:
    assert await store.enqueue([event("m1"), event("m2")]) == [ACCEPTED, ACCEPTED]

    results = await store.enqueue([event("m2"), event("m3"), event("m3")])

    assert results == [DUPLICATE, ACCEPTED, DUPLICATE]
    assert await drain(store) == ["m1", "m2", "m3"]


async def test_a_delivered_event_stays_a_duplicate(store: Store) -> None:
    await store.enqueue([event("m1")])
    await drain(store)

    assert await store.enqueue([event("m1")]) == [DUPLICATE]
    assert await drain(store) == []


async def test_concurrent_enqueues_share_transactions_and_keep_their_results(
    store: Store,
) -> None:
    batches = [[event(f"m{b}-{i}", f"u{i}") for i in range(5)] for b in range(50)]
    # Every batch also repeats one id of the batch before it.
    for b in range(1, 50):
        batches[b].append(event(f"m{b - 1}-0", "u0"))

    results = await asyncio.gather(*(store.enqueue(batch) for batch in batches))

    accepted = [r for batch in results for r in batch if r is ACCEPTED]
    assert len(accepted) == 250
    assert results[0] == [ACCEPTED] * 5
    assert all(batch[-1] is DUPLICATE for batch in results[1:])
    assert (await store.status(NOW)).backlog == 250


async def test_a_batch_that_fails_stores_nothing(store: Store) -> None:
    broken = msgspec.structs.replace(event("m2"), message_id=None)

    with pytest.raises(Exception, match=r"(?i)not[- ]null|cannot be stored"):
        await store.enqueue([event("m1"), broken, event("m3")])

    assert (await store.status(NOW)).backlog == 0
    assert await store.enqueue([event("m1"), event("m3")]) == [ACCEPTED, ACCEPTED]


async def test_a_failing_batch_does_not_fail_the_batches_committed_with_it(
    store: Store,
) -> None:
    broken = msgspec.structs.replace(event("bad"), message_id=None)
    good = [[event(f"m{b}-{i}", f"u{b}") for i in range(3)] for b in range(10)]

    results = await asyncio.gather(
        *(store.enqueue(batch) for batch in good[:5]),
        store.enqueue([event("x"), broken]),
        *(store.enqueue(batch) for batch in good[5:]),
        return_exceptions=True,
    )

    assert [type(r) for r in results].count(list) == 10
    assert isinstance(results[5], Exception)
    assert (await store.status(NOW)).backlog == 30
    assert await store.enqueue([event("x")]) == [ACCEPTED]


async def test_an_empty_batch_is_nothing(store: Store) -> None:
    assert await store.enqueue([]) == []


def _many(count: int) -> list[NewEvent]:
    return [event(f"m{i}", f"u{i % 7}") for i in range(count)]


async def test_a_batch_larger_than_a_transaction_is_kept_whole(store: Store) -> None:
    results = await store.enqueue(_many(4500))

    assert results == [ACCEPTED] * 4500
    assert (await store.status(NOW)).backlog == 4500


async def test_a_nul_in_an_events_json_is_kept_as_it_came(store: Store) -> None:
    # What ingest stores with a NUL: properties and traits (a NUL in an id or a name is
    # refused when the event is decoded, whatever the store).
    document = {"type": "track", "messageId": "m1", "userId": "u1", "properties": {"k\x00": "\x00"}}
    original = NewEvent(
        message_id="m1",
        type="track",
        user_id="u1",
        anonymous_id=None,
        received_at=NOW,
        body=msgspec.json.encode(document),
    )
    assert await store.enqueue([original]) == [ACCEPTED]

    [lease] = await store.lease("w", 10, 30, NOW)

    assert lease.event.body == original.body
    assert msgspec.json.decode(lease.event.body) == document
