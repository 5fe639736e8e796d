"""A lease's run: the events behind the head handed out with it, and finished together."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from intercom_destination.store import Finished, LeaseLost, Store
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio


async def test_a_lease_carries_the_lanes_next_events_in_order(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2"), event("m3"), event("x1", "u2")])
    await store.enqueue([event("m4")])

    leases = await store.lease("w1", 10, 30, NOW, following=2)

    runs = {lease.lane: [e.message_id for e in (lease.event, *lease.following)] for lease in leases}
    assert runs == {"u1": ["m1", "m2", "m3"], "u2": ["x1"]}
    again = await store.lease("w2", 10, 30, NOW + 31)
    assert [lease.following for lease in again] == [(), ()]


async def test_finish_many_delivers_a_run_in_one_call(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2"), event("m3")])
    [lease] = await store.lease("w1", 10, 30, NOW, following=5)

    done = [
        Finished(event=lease.event, outcome="delivered", calls=1),
        Finished(event=lease.following[0], outcome="skipped", reason="unchanged"),
        Finished(event=lease.following[1], outcome="delivered", reason="folded", calls=0),
    ]
    assert await store.finish_many(lease, done, now=NOW) is None

    rows = [(r.message_id, r.outcome, r.reason, r.calls) for r in await store.outcomes()]
    assert sorted(rows) == [
        ("m1", "delivered", None, 1),
        ("m2", "skipped", "unchanged", 0),
        ("m3", "delivered", "folded", 0),
    ]
    status = await store.status(NOW)
    assert (status.backlog, status.lanes) == (0, 0)
    assert await store.lease("w2", 10, 30, NOW) == []


async def test_finish_many_keeping_the_lane_leases_its_next_event(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2"), event("m3")])
    [lease] = await store.lease("w1", 10, 30, NOW, following=5)

    kept = await store.finish_many(
        lease, [Finished(event=lease.event, outcome="delivered")], now=NOW, keep=True
    )

    assert kept is not None
    assert kept.event.message_id == "m2"
    assert await store.lease("w2", 10, 30, NOW) == []
    await store.retry(kept, NOW + 10, "500", now=NOW)
    with pytest.raises(LeaseLost):
        await store.finish_many(lease, [], now=NOW)
    assert await drain(store, NOW + 10) == ["m2", "m3"]


async def test_finish_many_keeping_an_emptied_lane_ends_it(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2")])
    [lease] = await store.lease("w1", 10, 30, NOW, following=5)

    done = [Finished(event=e, outcome="delivered") for e in (lease.event, *lease.following)]
    assert await store.finish_many(lease, done, now=NOW, keep=True) is None
    await store.enqueue([event("m3")])
    assert await drain(store) == ["m3"]


async def test_finish_many_with_a_lost_lease_changes_nothing(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2")])
    [lost] = await store.lease("w1", 10, 30, NOW, following=5)
    await store.lease("w2", 10, 30, NOW + 31)

    with pytest.raises(LeaseLost):
        await store.finish_many(lost, [Finished(event=lost.event, outcome="delivered")], now=NOW)
    assert (await store.status(NOW)).backlog == 2


async def test_completions_at_once_each_stand_or_fail_alone(store: Store) -> None:
    # PostgreSQL groups concurrent completions in one transaction: a lost lease, or a
    # second completion of a spent one, must fail alone and change nothing.
    await store.enqueue([event("m3", "u3")])
    [lost] = await store.lease("w1", 1, 30, NOW)
    await store.enqueue([event(f"m{i}", f"u{i}") for i in range(20) if i != 3])
    leases = [lost, *await store.lease("w1", 20, 100, NOW)]
    [taken] = await store.lease("w2", 20, 30, NOW + 31)
    [twice] = [lease for lease in leases if lease.lane == "u5"]

    results = await asyncio.gather(
        *(store.delivered(lease, now=NOW, calls=1) for lease in leases),
        store.skipped(twice, "again", now=NOW + 31),
        return_exceptions=True,
    )

    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 2
    assert all(isinstance(r, LeaseLost) for r in failures)
    rows = await store.outcomes()
    assert sorted(r.message_id for r in rows) == sorted(f"m{i}" for i in range(20) if i != 3)
    assert (await store.status(NOW)).backlog == 1
    await store.delivered(taken, now=NOW + 31)
    assert (await store.status(NOW)).backlog == 0


async def test_a_lease_says_whether_its_lane_has_parked_events(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2"), event("x1", "u2")])
    [first, other] = sorted(await store.lease("w1", 10, 30, NOW), key=lambda lease: lease.lane)
    assert (first.parked, other.parked) == (False, False)
    await store.park(first, "contact:u1", NOW + 100, now=NOW)
    await store.delivered(other, now=NOW)

    [again] = await store.lease("w1", 10, 30, NOW)

    assert (again.event.message_id, again.parked) == ("m2", True)


async def test_completions_finishing_together_are_each_counted_once(store: Store) -> None:
    await store.enqueue([event(f"m{user}-{n}", f"u{user}") for user in range(6) for n in range(2)])
    leases = await store.lease("w1", 10, 30, NOW, following=1)
    lost = leases[-1] = msgspec.structs.replace(leases[-1], token=leases[-1].token + 1)

    results = await asyncio.gather(
        *(
            store.finish_many(
                lease,
                [
                    Finished(event=lease.event, outcome="delivered", calls=2),
                    Finished(event=lease.following[0], outcome="skipped", reason="unchanged"),
                ],
                now=NOW,
            )
            for lease in leases
        ),
        return_exceptions=True,
    )

    assert isinstance(results[-1], LeaseLost)
    assert (await store.status(NOW)).outcomes == {"delivered": 5, "skipped": 5}
    overview = await store.overview(NOW, 3600)
    assert {(c.outcome, c.events, c.calls) for c in overview.counts} == {
        ("accepted", 12, 0),
        ("delivered", 5, 10),
        ("skipped", 5, 0),
    }
    logged = {(r.message_id, r.outcome) for r in await store.outcomes()}
    assert len(logged) == 10
    assert not {each.message_id for each in (lost.event, *lost.following)} & {
        message_id for message_id, _ in logged
    }
