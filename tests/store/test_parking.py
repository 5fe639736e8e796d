from __future__ import annotations

import pytest

from intercom_destination.store import Lease, LeaseLost, Store
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio

CONTACT = "external_id:u1"


async def head(store: Store, lane: str = "u1", now: float = NOW) -> Lease:
    leases = [lease for lease in await store.lease("w", 100, 30, now) if lease.lane == lane]
    assert len(leases) == 1
    return leases[0]


async def test_parked_events_follow_the_identify_that_unparks_them(store: Store) -> None:
    await store.enqueue([event("t1"), event("t2"), event("i3", type="identify"), event("t4")])
    await store.park(await head(store), CONTACT, NOW + 3600, now=NOW)
    await store.park(await head(store), CONTACT, NOW + 3600, now=NOW)
    identify = await head(store)
    assert identify.event.message_id == "i3"
    assert (await store.status(NOW)).parked == 2

    assert await store.unpark(waiting_for=CONTACT, now=NOW) == 2
    await store.delivered(identify, now=NOW)

    assert await drain(store) == ["t1", "t2", "t4"]
    assert (await store.status(NOW)).parked == 0


async def test_unparked_events_go_ahead_of_a_lane_nobody_holds(store: Store) -> None:
    await store.enqueue([event("t1"), event("t2"), event("t3")])
    await store.park(await head(store), CONTACT, NOW + 3600, now=NOW)

    assert await store.unpark(lane="u1", now=NOW) == 1

    assert await drain(store) == ["t1", "t2", "t3"]


async def test_a_parked_lane_goes_on_with_its_next_event(store: Store) -> None:
    await store.enqueue([event("t1"), event("t2")])

    await store.park(await head(store), CONTACT, NOW + 3600, now=NOW)

    assert await drain(store) == ["t2"]
    assert await store.unpark(lane="u1", now=NOW) == 1
    assert await drain(store) == ["t1"]


async def test_unpark_matches_lane_and_key(store: Store) -> None:
    await store.enqueue([event("a1", "u1"), event("b1", "u2"), event("c1", "u3")])
    for lease in await store.lease("w", 10, 30, NOW):
        key = "email:shared" if lease.lane != "u3" else "email:other"
        await store.park(lease, key, NOW + 3600, now=NOW)

    assert await store.unpark(lane="u2", waiting_for="email:shared", now=NOW) == 1
    assert await drain(store) == ["b1"]
    assert await store.unpark(waiting_for="email:shared", now=NOW) == 1
    assert await drain(store) == ["a1"]
    assert await store.unpark(lane="u3", now=NOW) == 1
    assert await drain(store) == ["c1"]
    with pytest.raises(ValueError, match="unpark needs"):
        await store.unpark(now=NOW)


async def test_expired_parked_events_can_be_dead_lettered(store: Store) -> None:
    await store.enqueue([event("t1"), event("t2", "u2")])
    leases = {lease.lane: lease for lease in await store.lease("w", 10, 30, NOW)}
    await store.park(leases["u1"], CONTACT, NOW + 100, now=NOW)
    await store.park(leases["u2"], "external_id:u2", NOW + 200, now=NOW)

    assert await store.expired_parked(NOW + 99) == []
    [expired] = await store.expired_parked(NOW + 150)
    assert (expired.event.message_id, expired.waiting_for, expired.until) == (
        "t1",
        CONTACT,
        NOW + 100,
    )

    assert await store.dead_parked(expired.event.id, "contact never identified", now=NOW + 150)
    assert not await store.dead_parked(expired.event.id, "again", now=NOW + 150)
    [letter] = await store.dead_letters()
    assert (letter.event.message_id, letter.reason) == ("t1", "contact never identified")
    assert [p.event.message_id for p in await store.expired_parked(NOW + 300)] == ["t2"]
    status = await store.status(NOW + 300)
    assert (status.parked, status.dead) == (1, 1)


async def test_a_lane_says_what_its_oldest_parked_event_waits_for(store: Store) -> None:
    await store.enqueue([event("t1"), event("t2"), event("t3")])
    assert await store.waiting_in("u1") is None
    await store.park(await head(store), "first", NOW + 60, now=NOW)
    await store.park(await head(store), "second", NOW + 60, now=NOW)

    assert await store.waiting_in("u1") == "first"
    assert await store.waiting_in("u2") is None
    await store.unpark(lane="u1", now=NOW)
    assert await store.waiting_in("u1") is None


async def test_link_moves_an_anonymous_lane_behind_the_identify(store: Store) -> None:
    await store.enqueue(
        [
            event("a1", None, anonymous_id="anon"),
            event("a2", None, anonymous_id="anon"),
            event("a3", None, anonymous_id="anon"),
            event("i1", "u1", anonymous_id="anon", type="identify"),
            event("u2", "u1"),
        ]
    )
    leases = {lease.lane: lease for lease in await store.lease("w", 10, 30, NOW)}
    await store.park(leases["anon"], "anonymous_id:anon", NOW + 3600, now=NOW)

    assert await store.link("anon", "u1", now=NOW) == 3
    await store.delivered(leases["u1"], now=NOW)

    await store.enqueue([event("a4", None, anonymous_id="anon")])
    assert await drain(store) == ["a1", "a2", "a3", "u2", "a4"]


@pytest.mark.parametrize(("at", "force"), [(NOW + 30, False), (NOW, True)])
async def test_link_takes_the_visitors_head_once_its_lease_expired_or_when_forced(
    store: Store, at: float, force: bool
) -> None:
    await store.enqueue([event("a1", None, anonymous_id="anon")])
    [lease] = await store.lease("w", 10, 30, NOW)

    assert await store.link("anon", "u1", now=at, force=force) == 1

    with pytest.raises(LeaseLost):
        await store.delivered(lease, now=at)
    assert await drain(store, at) == ["a1"]


async def test_link_merges_the_visitors_events_among_the_users_as_they_arrived(
    store: Store,
) -> None:
    # The visitor's last event came after the user's sign-up identify and track, in the same
    # batch: it stays after them.
    await store.enqueue(
        [
            event("a1", None, anonymous_id="anon"),
            event("i1", "u1", anonymous_id="anon", type="identify"),
            event("u2", "u1"),
            event("a2", None, anonymous_id="anon"),
        ]
    )
    leases = {lease.lane: lease for lease in await store.lease("w", 10, 30, NOW)}
    identify = leases["u1"]
    assert identify.event.message_id == "i1"
    await store.park(leases["anon"], "anonymous_id:anon", NOW + 3600, now=NOW)

    assert await store.link("anon", "u1", now=NOW) == 2
    await store.delivered(identify, now=NOW)

    assert await drain(store) == ["a1", "u2", "a2"]


async def test_link_keeps_the_original_order_of_parked_and_retried_events(
    store: Store,
) -> None:
    await store.enqueue([event(f"a{i}", None, anonymous_id="anon") for i in range(3)])
    await store.park(await head(store, "anon"), "x", NOW + 60, now=NOW)
    await store.retry(await head(store, "anon"), NOW, "503", now=NOW)
    await store.unpark(lane="anon", now=NOW)
    await store.enqueue([event("u1", "u1")])

    await store.link("anon", "u1", now=NOW)

    assert await drain(store) == ["a0", "a1", "a2", "u1"]


async def test_events_after_a_link_go_to_the_users_lane(store: Store) -> None:
    assert await store.link("anon", "u1", now=NOW) == 0

    await store.enqueue(
        [event("a1", None, anonymous_id="anon"), event("b1", "u9", anonymous_id="anon")]
    )

    leases = await store.lease("w", 10, 30, NOW)
    assert sorted((lease.lane, lease.event.message_id) for lease in leases) == [
        ("u1", "a1"),
        ("u9", "b1"),
    ]
