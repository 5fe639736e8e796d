from __future__ import annotations

import pytest

from intercom_destination.store import Enqueued, Store, open_store
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio

DAY = 24 * 3600.0


async def test_every_completion_is_in_the_outcome_log(store: Store) -> None:
    await store.enqueue([event(f"m{i}", f"u{i}", type="identify") for i in range(5)])
    leases = sorted(await store.lease("w", 10, 30, NOW), key=lambda lease: lease.lane)

    await store.delivered(leases[0], now=NOW + 1, calls=2, note="metadata key dropped")
    await store.skipped(leases[1], "attributes unchanged", now=NOW + 2)
    await store.dead(leases[2], "400 bad email", now=NOW + 3, calls=1)
    await store.retry(leases[3], NOW + 60, "429", now=NOW + 4, calls=1)
    await store.park(leases[4], "external_id:u4", NOW + 600, now=NOW + 5)

    rows = await store.outcomes()
    assert [(r.outcome, r.reason, r.calls, r.at) for r in rows] == [
        ("parked", "external_id:u4", 0, NOW + 5),
        ("retry", "429", 1, NOW + 4),
        ("dead", "400 bad email", 1, NOW + 3),
        ("skipped", "attributes unchanged", 0, NOW + 2),
        ("delivered", "metadata key dropped", 2, NOW + 1),
    ]
    assert (rows[-1].message_id, rows[-1].lane, rows[-1].type) == ("m0", "u0", "identify")
    assert await store.outcomes(limit=2) == rows[:2]
    counts = (await store.status(NOW + 5)).outcomes
    assert counts == {"delivered": 1, "skipped": 1, "dead": 1, "retry": 1, "parked": 1}


async def test_status_figures(store: Store) -> None:
    empty = await store.status(NOW)
    assert (empty.lanes, empty.backlog, empty.oldest_pending_age) == (0, 0, None)

    await store.enqueue([event("m1", "u1", received_at=NOW - 50), event("m2", "u1")])
    await store.enqueue([event(f"n{i}", f"v{i}") for i in range(4)])
    leases = {lease.lane: lease for lease in await store.lease("w", 3, 30, NOW)}
    await store.delivered(leases.pop("u1"), now=NOW)
    first, second = leases.values()
    await store.park(first, "external_id:x", NOW + 600, now=NOW)
    await store.dead(second, "bad", now=NOW)
    await store.lease("w", 1, 30, NOW)

    status = await store.status(NOW + 10)

    assert status.lanes == 3  # u1 and two of v0..v3
    assert status.in_flight == 1
    assert status.backlog == 3
    assert status.oldest_pending_age == 10
    assert (status.parked, status.dead) == (1, 1)
    assert (await store.status(NOW + 40)).in_flight == 0


async def test_prune_forgets_finished_events_after_the_dedup_window(shared_url: str) -> None:
    async with await open_store(shared_url, dedup_window=DAY) as store:
        await store.enqueue([event("old"), event("new", "u2"), event("dead", "u3")])
        leases = {lease.lane: lease for lease in await store.lease("w", 10, 30, NOW)}
        await store.delivered(leases["u1"], now=NOW)
        await store.delivered(leases["u2"], now=NOW + 3600)
        await store.dead(leases["u3"], "bad", now=NOW)

        assert await store.prune(NOW + DAY) == 0
        assert await store.prune(NOW + DAY + 1) == 1

        results = await store.enqueue([event("old"), event("new", "u2"), event("dead", "u3")])
        assert results == [Enqueued.ACCEPTED, Enqueued.DUPLICATE, Enqueued.DUPLICATE]
        assert await drain(store, NOW + DAY + 1) == ["old"]


async def test_prune_bounds_the_outcome_log(shared_url: str) -> None:
    async with await open_store(shared_url, outcome_log_rows=3) as store:
        await store.enqueue([event(f"m{i}") for i in range(5)])
        await drain(store)

        assert await store.prune(NOW, limit=1) == 1
        assert await store.prune(NOW) == 1

        assert [row.message_id for row in await store.outcomes()] == ["m4", "m3", "m2"]
        assert await store.prune(NOW) == 0
