from __future__ import annotations

import asyncio

import pytest

from intercom_destination.store import Store

pytestmark = pytest.mark.anyio


async def test_identity_cache(store: Store) -> None:
    assert await store.get_identity("external_id", "u1") is None

    await store.put_identity("external_id", "u1", "6651a1")
    await store.put_identity("email", "u1", "other-kind")
    await store.put_identity("external_id", "u1", "6651a2")

    assert await store.get_identity("external_id", "u1") == "6651a2"
    assert await store.get_identity("email", "u1") == "other-kind"
    await store.delete_identity("external_id", "u1")
    assert await store.get_identity("external_id", "u1") is None
    assert await store.get_identity("email", "u1") == "other-kind"


async def test_known_attributes_per_model(store: Store) -> None:
    await store.replace_attributes("contact", {"plan": "string", "seats": "integer"})
    await store.add_attribute("contact", "trial", "boolean")
    await store.add_attribute("company", "plan", "string")

    assert await store.attributes("contact") == {
        "plan": "string",
        "seats": "integer",
        "trial": "boolean",
    }
    await store.replace_attributes("contact", {"tier": "string"})
    assert await store.attributes("contact") == {"tier": "string"}
    assert await store.attributes("company") == {"plan": "string"}


async def test_event_names_and_their_budget(store: Store) -> None:
    assert await store.add_event_name("Signed Up")
    assert await store.add_event_name("Order Completed", budget=2)
    assert await store.add_event_name("Signed Up", budget=2)

    assert not await store.add_event_name("Third", budget=2)
    assert await store.add_event_name("Third")

    assert await store.event_names() == ["Order Completed", "Signed Up", "Third"]
    assert await store.count_event_names() == 3


async def test_the_event_name_budget_holds_under_concurrency(store: Store) -> None:
    added = await asyncio.gather(
        *(store.add_event_name(f"event {i}", budget=120) for i in range(200))
    )

    assert sum(added) == 120
    assert await store.count_event_names() == 120


async def test_attribute_digests(store: Store) -> None:
    assert await store.get_digest("external_id:u1") is None

    await store.put_digest("external_id:u1", b"\x01" * 16)
    await store.put_digest("external_id:u1", b"\x02" * 16)

    assert await store.get_digest("external_id:u1") == b"\x02" * 16
    assert await store.get_digest("external_id:u2") is None
