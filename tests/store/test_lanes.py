from __future__ import annotations

import asyncio
import random

import pytest

from intercom_destination.store import Lease, LeaseLost, Store
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio


async def test_a_lane_hands_out_one_event_at_a_time_in_arrival_order(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2", "u2")])
    await store.enqueue([event("m3"), event("m4")])

    first = await store.lease("w1", 10, 30, NOW)
    again = await store.lease("w2", 10, 30, NOW)

    assert sorted(lease.event.message_id for lease in first) == ["m1", "m2"]
    assert again == []
    for lease in first:
        await store.delivered(lease, now=NOW)
    assert await drain(store) == ["m3", "m4"]


async def test_lease_takes_at_most_max_lanes(store: Store) -> None:
    await store.enqueue([event(f"m{i}", f"u{i}") for i in range(10)])

    assert len(await store.lease("w1", 4, 30, NOW)) == 4
    assert len(await store.lease("w2", 4, 30, NOW)) == 4
    assert len(await store.lease("w3", 4, 30, NOW)) == 2


async def test_an_expired_lease_gives_the_same_event_to_another_worker(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2")])
    [first] = await store.lease("w1", 10, 30, NOW)

    assert await store.lease("w2", 10, 30, NOW + 29.9) == []
    [second] = await store.lease("w2", 10, 30, NOW + 30)

    assert second.event == first.event
    assert second.expires_at == NOW + 60


async def test_completing_a_lost_lease_is_rejected_and_changes_nothing(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2")])
    [lost] = await store.lease("w1", 10, 30, NOW)
    [taken] = await store.lease("w2", 10, 30, NOW + 31)

    for complete in (
        store.delivered(lost, now=NOW + 32),
        store.skipped(lost, "no", now=NOW + 32),
        store.dead(lost, "no", now=NOW + 32),
        store.retry(lost, NOW + 40, "503", now=NOW + 32),
        store.park(lost, "external_id:u1", NOW + 90, now=NOW + 32),
        store.extend(lost, 30, NOW + 32),
    ):
        with pytest.raises(LeaseLost):
            await complete

    await store.delivered(taken, now=NOW + 33)
    assert await drain(store, NOW + 33) == ["m2"]
    assert (await store.status(NOW + 33)).dead == 0


async def test_an_expired_lease_nobody_took_over_can_still_complete(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2")])
    [lease] = await store.lease("w1", 10, 30, NOW)

    await store.delivered(lease, now=NOW + 100)

    assert await drain(store, NOW + 100) == ["m2"]


async def test_a_lease_is_spent_by_its_first_completion(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2")])
    [lease] = await store.lease("w1", 10, 30, NOW)
    await store.retry(lease, NOW, "503", now=NOW)

    with pytest.raises(LeaseLost):
        await store.delivered(lease, now=NOW)
    [again] = await store.lease("w1", 10, 30, NOW)
    await store.delivered(again, now=NOW)
    with pytest.raises(LeaseLost):
        await store.delivered(again, now=NOW)


async def test_extend_keeps_other_workers_out_longer(store: Store) -> None:
    await store.enqueue([event("m1")])
    [lease] = await store.lease("w1", 10, 30, NOW)

    extended = await store.extend(lease, 60, NOW + 20)

    assert extended.expires_at == NOW + 80
    assert await store.lease("w2", 10, 30, NOW + 50) == []
    await store.delivered(extended, now=NOW + 70)


async def test_retry_keeps_the_event_at_the_head_and_the_lane_waits(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2"), event("o1", "other")])
    leases = {lease.lane: lease for lease in await store.lease("w", 10, 30, NOW)}

    await store.retry(leases["u1"], NOW + 60, "503 from Intercom", now=NOW)
    await store.delivered(leases["other"], now=NOW)

    assert await store.lease("w", 10, 30, NOW + 59) == []
    [again] = await store.lease("w", 10, 30, NOW + 60)
    assert (again.event.message_id, again.event.attempts) == ("m1", 1)
    await store.retry(again, NOW + 70, "429", now=NOW + 60)
    [third] = await store.lease("w", 10, 30, NOW + 70)
    assert third.event.attempts == 2
    await store.delivered(third, now=NOW + 70)
    assert await drain(store, NOW + 70) == ["m2"]


async def test_lanes_that_waited_longest_come_first(store: Store) -> None:
    hot = [event(f"hot{i}", "hot") for i in range(100)]
    cold = [event(f"cold{i}", f"cold{i}", received_at=NOW + 1) for i in range(9)]
    await store.enqueue(hot + cold)
    served: list[set[str]] = []

    for round in range(3):
        now = NOW + 2 + round
        leases = await store.lease("w", 4, 30, now)
        served.append({lease.lane for lease in leases})
        for lease in leases:
            await store.delivered(lease, now=now)

    # Round robin: the hot lane went back to the end of the queue after its turn.
    assert served[0] == {"hot", "cold0", "cold1", "cold2"}
    assert served[1] == {f"cold{i}" for i in range(3, 7)}
    assert served[2] == {"cold7", "cold8", "hot"}


async def test_order_holds_under_concurrent_workers_with_random_retries(store: Store) -> None:
    lanes = [f"u{i}" for i in range(20)]
    rng = random.Random(7)
    expected: dict[str, list[str]] = {lane: [] for lane in lanes}
    for batch in range(10):
        events = [event(f"m{batch}-{i}", rng.choice(lanes)) for i in range(20)]
        for each in events:
            assert each.user_id is not None
            expected[each.user_id].append(each.message_id)
        await store.enqueue(events)
    delivered: dict[str, list[str]] = {lane: [] for lane in lanes}
    in_flight: set[str] = set()
    clock = [NOW]

    async def complete(lease: Lease) -> None:
        await asyncio.sleep(0)
        if rng.random() < 0.3:
            await store.retry(lease, clock[0] + rng.choice([0, 1, 2]), "503", now=clock[0])
        else:
            await store.delivered(lease, now=clock[0])
            delivered[lease.lane].append(lease.event.message_id)
        in_flight.remove(lease.lane)

    async def worker(name: str) -> None:
        idle = 0
        while idle < 5:
            leases = await store.lease(name, 3, 30, clock[0])
            for lease in leases:
                assert lease.lane not in in_flight, "two events of one lane in flight"
                in_flight.add(lease.lane)
            idle = 0 if leases else idle + 1
            clock[0] += 1
            await asyncio.gather(*(complete(lease) for lease in leases))

    await asyncio.gather(*(worker(f"w{n}") for n in range(4)))

    assert delivered == expected
    assert (await store.status(clock[0])).backlog == 0
