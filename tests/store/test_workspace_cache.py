"""The caches belong to one Intercom workspace, keep the last body delivered, and count an
event name only once Intercom has accepted it."""

from __future__ import annotations

import pytest

from intercom_destination.store import ContactRecord, Store, open_store

pytestmark = pytest.mark.anyio


async def fill(store: Store) -> None:
    await store.put_identity("external_id", "u1", "6651a1")
    await store.put_digest("contact:external_id:u1", b"\x01" * 16, body=b'{"role":"user"}')
    await store.replace_attributes("contact", {"plan": "string"})
    await store.add_event_name("signed up")


async def cached(store: Store) -> tuple[object, ...]:
    return (
        await store.get_identity("external_id", "u1"),
        await store.get_digest("contact:external_id:u1"),
        await store.last_body("contact:external_id:u1"),
        await store.attributes("contact"),
        await store.event_names(),
    )


async def test_a_claim_again_of_the_same_workspace_keeps_the_cache(store: Store) -> None:
    assert await store.claim_workspace("app-a") is None
    await fill(store)
    before = await cached(store)

    assert await store.claim_workspace("app-a") == "app-a"

    assert await cached(store) == before


async def test_a_cache_of_an_unknown_workspace_is_emptied(store: Store) -> None:
    # A store from before workspaces were recorded: whose cache this is, nobody can say.
    await fill(store)

    assert await store.claim_workspace("app-a") is None

    assert await cached(store) == (None, None, None, {}, [])


async def test_another_workspace_starts_from_an_empty_cache(store: Store) -> None:
    await store.claim_workspace("app-a")
    await fill(store)

    assert await store.claim_workspace("app-b") == "app-a"

    assert await cached(store) == (None, None, None, {}, [])


async def test_every_process_of_a_fleet_sees_the_same_workspace(shared_url: str) -> None:
    async with await open_store(shared_url) as first, await open_store(shared_url) as second:
        await first.claim_workspace("app-a")
        await fill(first)
        assert await second.claim_workspace("app-a") == "app-a"
        assert await second.get_identity("external_id", "u1") == "6651a1"


async def test_the_last_body_goes_with_its_digest(store: Store) -> None:
    await store.put_digest("contact:external_id:u1", b"\x01" * 16, body=b'{"name":"Ada"}')
    await store.put_digest("contact:external_id:u1", b"\x02" * 16, body=b'{"name":"Ada L"}')
    await store.put_digest("attached:contact:external_id:u1:acme", b"done")

    assert await store.last_body("contact:external_id:u1") == b'{"name":"Ada L"}'
    assert await store.last_body("attached:contact:external_id:u1:acme") is None
    assert await store.last_body("contact:external_id:u2") is None


async def test_an_event_name_intercom_never_accepted_gives_its_slot_back(store: Store) -> None:
    assert await store.add_event_name("signed up", budget=2)
    assert await store.add_event_name("ordered", budget=2)
    await store.accept_event_name("signed up")
    assert not await store.add_event_name("third", budget=2)

    await store.release_event_name("ordered")
    await store.release_event_name("signed up")

    assert await store.event_names() == ["signed up"]
    assert await store.add_event_name("third", budget=2)


async def test_digests_are_forgotten_by_the_start_and_end_of_their_keys(store: Store) -> None:
    keys = ["attached:u_1:acme", "attached:uX1:acme", "attached:uX1:c%2", "attached:uX1:cc2"]
    for key in [*keys, "contact:u_1"]:
        await store.put_digest(key, b"done")

    await store.delete_digests(prefix="attached:u_1:")
    await store.delete_digests(prefix="attached:", suffix=":c%2")

    left = [key for key in [*keys, "contact:u_1"] if await store.get_digest(key)]
    assert left == ["attached:uX1:acme", "attached:uX1:cc2", "contact:u_1"]


async def test_a_contacts_record_is_its_id_digest_and_body_read_together(store: Store) -> None:
    key = "contact:external_id:u1"
    assert await store.contact_record("external_id", "u1", key) == ContactRecord(None, None, None)

    await store.put_identity("external_id", "u1", "6651a1")
    assert await store.contact_record("external_id", "u1", key) == ContactRecord(
        "6651a1", None, None
    )

    await store.put_digest(key, b"\x01" * 16, body=b'{"name":"Ada"}')
    await store.put_digest("contact:external_id:u2", b"\x02" * 16)
    assert await store.contact_record("external_id", "u1", key) == ContactRecord(
        "6651a1", b"\x01" * 16, b'{"name":"Ada"}'
    )
    # A store written before bodies were kept has only the digest.
    assert await store.contact_record(
        "external_id", "u2", "contact:external_id:u2"
    ) == ContactRecord(None, b"\x02" * 16, None)
