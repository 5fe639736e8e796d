from __future__ import annotations

import pytest

from intercom_destination.store import Attempt, Store
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio


async def kill_heads(store: Store, reason: str, now: float = NOW) -> None:
    for lease in await store.lease("w", 100, 30, now):
        await store.dead(lease, reason, now=now)


async def test_a_dead_letter_keeps_its_bytes_and_every_attempt(store: Store) -> None:
    original = event("m1")
    await store.enqueue([original, event("m2")])
    [lease] = await store.lease("w", 10, 30, NOW)
    await store.retry(lease, NOW + 10, "503 Service Unavailable", now=NOW)
    [lease] = await store.lease("w", 10, 30, NOW + 10)

    await store.dead(lease, "400 parameter_invalid: email", now=NOW + 10, calls=2)

    [letter] = await store.dead_letters()
    assert letter.event.body == original.body
    assert letter.event.attempts == 2
    assert letter.reason == "400 parameter_invalid: email"
    assert letter.died_at == NOW + 10
    assert letter.history == (
        Attempt(NOW, "503 Service Unavailable"),
        Attempt(NOW + 10, "400 parameter_invalid: email"),
    )
    assert await store.dead_letter(letter.event.id) == letter
    assert await store.dead_letter(letter.event.id + 1000) is None
    # The lane went on without it.
    assert await drain(store, NOW + 10) == ["m2"]


async def test_dead_letters_are_listed_in_pages(store: Store) -> None:
    await store.enqueue([event(f"m{i}", f"u{i}") for i in range(5)])
    await kill_heads(store, "bad")

    first = await store.dead_letters(limit=3)
    rest = await store.dead_letters(limit=3, after_id=first[-1].event.id)

    assert [d.event.message_id for d in first + rest] == ["m0", "m1", "m2", "m3", "m4"]


async def test_replay_puts_dead_letters_back_in_their_original_order(store: Store) -> None:
    await store.enqueue([event("m1"), event("m2"), event("m3"), event("o1", "other")])
    await kill_heads(store, "Intercom was down")
    await kill_heads(store, "Intercom was down")
    # m3 is still pending; m1 and m2 (and o1) are dead.

    assert await store.replay(now=NOW + 60) == 3

    order = await drain(store, NOW + 60)
    assert [m for m in order if m != "o1"] == ["m1", "m2", "m3"]
    assert "o1" in order
    assert await store.dead_letters() == []


async def test_replayed_events_start_over(store: Store) -> None:
    await store.enqueue([event("m1")])
    [lease] = await store.lease("w", 10, 30, NOW)
    await store.retry(lease, NOW, "503", now=NOW)
    await kill_heads(store, "bad")

    await store.replay(now=NOW)

    [lease] = await store.lease("w", 10, 30, NOW)
    assert lease.event.attempts == 0
    await store.dead(lease, "bad again", now=NOW)
    [letter] = await store.dead_letters()
    assert letter.history == (Attempt(NOW, "bad again"),)


async def test_replay_and_purge_take_the_ids_they_are_given(store: Store) -> None:
    await store.enqueue([event(f"m{i}", f"u{i}") for i in range(4)])
    await kill_heads(store, "bad")
    letters = await store.dead_letters()

    assert await store.replay([letters[0].event.id], now=NOW) == 1
    assert await store.purge([letters[1].event.id]) == 1

    assert [d.event.message_id for d in await store.dead_letters()] == ["m2", "m3"]
    assert await drain(store) == ["m0"]
    assert await store.purge() == 2
    assert await store.dead_letters() == []
    assert (await store.status(NOW)).dead == 0
