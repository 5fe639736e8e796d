"""Erasing a person from the store, fencing their lanes, suppressions and deletion requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from msgspec.structs import replace

from intercom_destination.store import LeaseLost, Person, Store, Subject, Trace, open_store
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio


async def _everything(store: Store) -> None:
    """Ada (userId ada, once the visitor v-ada) and Bob, with events in every state."""
    await store.enqueue(
        [
            event("ada-anon", None, anonymous_id="v-ada-1815"),
            event("bob-1", "bob"),
        ]
    )
    await drain(store)  # both delivered: finished events, outcome rows
    await store.link("v-ada-1815", "ada-1815", now=NOW)
    await store.enqueue([event("ada-dead", "ada-1815"), event("ada-parked", "ada-1815")])
    [dead] = [lease for lease in await store.lease("w", 10, 30, NOW) if lease.lane == "ada-1815"]
    await store.dead(dead, "refused", now=NOW, trace=Trace(warnings=("ada-1815@example.com",)))
    [parked] = await store.lease("w", 10, 30, NOW)
    await store.park(parked, "contact:ada-1815", NOW + 3600, now=NOW)
    await store.enqueue(
        [event("ada-pending", "ada-1815", anonymous_id="v-ada-1815"), event("bob-2", "bob")]
    )
    await store.put_identity("external_id", "ada-1815", "c-ada")
    await store.put_identity("anonymous_id", "v-ada-1815", "c-lead")
    await store.put_identity("email", "ada-1815@example.com", "c-ada")
    await store.put_identity("external_id", "bob", "c-bob")
    await store.put_digest("contact:external_id:ada-1815", b"d1", b'{"name":"Ada"}')
    await store.put_digest("contact:email:ada-1815@example.com", b"d2")
    await store.put_digest("attached:contact:external_id:ada-1815:acme", b"done")
    await store.put_digest("contact:external_id:bob", b"d3")


async def test_erase_removes_every_row_of_the_person_and_nothing_of_others(store: Store) -> None:
    await _everything(store)
    person = Person(
        user_ids=("ada-1815",), anonymous_ids=tuple(await store.linked_visitors(["ada-1815"]))
    )
    assert person.anonymous_ids == ("v-ada-1815",)
    contacts = await store.contact_ids(person)
    assert contacts == ["c-ada", "c-lead"]

    erased = await store.erase(
        Person(
            user_ids=person.user_ids,
            anonymous_ids=person.anonymous_ids,
            contact_ids=tuple(contacts),
        ),
        now=NOW,
    )

    assert erased == 4  # delivered as a visitor, dead, parked, pending
    assert await store.dead_letters() == []
    assert await store.story("ada-dead") is None
    assert await store.story("bob-2") is not None
    assert await store.waiting_in("ada-1815") is None
    assert await store.get_identity("external_id", "ada-1815") is None
    assert await store.get_identity("anonymous_id", "v-ada-1815") is None
    assert await store.get_identity("email", "ada-1815@example.com") is None
    assert await store.get_digest("contact:external_id:ada-1815") is None
    assert await store.get_digest("contact:email:ada-1815@example.com") is None
    assert await store.get_digest("attached:contact:external_id:ada-1815:acme") is None
    assert await store.linked_visitors(["ada-1815"]) == []
    assert all(row.lane == "bob" for row in await store.outcomes())
    # Bob is untouched: his identity, digest, and his pending event.
    assert await store.get_identity("external_id", "bob") == "c-bob"
    assert await store.get_digest("contact:external_id:bob") == b"d3"
    assert await drain(store) == ["bob-2"]
    status = await store.status(NOW)
    assert (status.backlog, status.parked, status.dead) == (0, 0, 0)


async def test_a_fence_waits_for_a_workers_live_lease_then_takes_the_lane(store: Store) -> None:
    await store.enqueue([event("m1", "ada-1815"), event("m2", "ada-1815")])
    [lease] = await store.lease("w1", 10, 30, NOW)

    assert await store.fence(["ada-1815"], "deletion:1", until=NOW + 600, now=NOW) == ["ada-1815"]
    await store.delivered(lease, now=NOW)
    assert await store.fence(["ada-1815"], "deletion:1", until=NOW + 600, now=NOW) == []

    # No worker gets the fenced lane, and erasing it ends the fence.
    assert await store.lease("w2", 10, 30, NOW + 1) == []
    assert await store.erase(Person(user_ids=("ada-1815",)), now=NOW) == 2
    await store.enqueue([event("m3", "ada-1815")])
    assert await drain(store, NOW + 1) == ["m3"]


async def test_a_fence_takes_over_an_expired_lease_which_is_then_lost(store: Store) -> None:
    await store.enqueue([event("m1", "ada-1815")])
    [lease] = await store.lease("w1", 10, 30, NOW)

    assert (
        await store.fence(["ada-1815", "nobody"], "deletion:1", until=NOW + 600, now=NOW + 31) == []
    )
    with pytest.raises(LeaseLost):
        await store.delivered(lease, now=NOW + 31)


async def test_suppressions_are_kept_by_hash(store: Store) -> None:
    await store.suppress(["h1", "h2"], now=NOW)
    await store.suppress(["h2", "h3"], now=NOW + 1)

    assert [(s.hash, s.suppressed_at) for s in await store.suppressions()] == [
        ("h1", NOW),
        ("h2", NOW),
        ("h3", NOW + 1),
    ]
    assert await store.unsuppress("h2") is True
    assert await store.unsuppress("h2") is False
    assert [s.hash for s in await store.suppressions()] == ["h1", "h3"]


async def test_the_salt_is_made_once_per_store(store: Store) -> None:
    salt = await store.salt()
    assert len(salt) == 32
    assert await store.salt() == salt


async def test_a_deletion_request_forgets_its_subjects_once_it_ends(store: Store) -> None:
    subjects = [Subject("userId", "ada-1815"), Subject("anonymousId", "v-ada-1815")]
    request = await store.request_deletion(subjects, ["h1", "h2"], suppress=True, now=NOW)
    assert request.state == "pending"
    assert await store.deletion(request.id) == request
    assert (await store.deletion(request.id)).subjects == tuple(subjects)  # type: ignore[union-attr]

    running = replace(request, state="running", done=1, events=4)
    await store.record_deletion(running)
    assert await store.deletion(request.id) == running
    await store.record_deletion(
        replace(running, state="done", done=2, contacts=1, finished_at=NOW + 5)
    )

    recorded = await store.deletion(request.id)
    assert recorded is not None
    assert recorded.subjects == ()
    assert (recorded.state, recorded.hashes, recorded.events, recorded.contacts) == (
        "done",
        ("h1", "h2"),
        4,
        1,
    )
    assert [d.id for d in await store.deletions()] == [request.id]
    assert await store.deletion(request.id + 1) is None


async def test_nothing_of_the_person_can_be_read_from_the_sqlite_files(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await open_store(f"sqlite:///{path}") as store:
        await _everything(store)
        await store.enqueue([event("ada-late", "ada-1815")])  # waits in a segment, unsorted
        person = Person(
            user_ids=("ada-1815",), anonymous_ids=("v-ada-1815",), contact_ids=("c-ada",)
        )
        await store.erase(person, now=NOW)

        files = [path, *tmp_path.glob("store.db-*"), *(tmp_path / "store.db-arrivals").iterdir()]
        assert {file.name for file in files} >= {"store.db", "store.db-wal"}
        assert any(file.suffix == ".segment" for file in files)
        for file in files:
            if file.is_file():
                content = file.read_bytes()
                assert b"ada-1815" not in content, file.name
                assert b"Ada" not in content, file.name
        # Bob's events, sorted from the segments' groups that were scrubbed, are all there.
        assert await drain(store) == ["bob-2"]
