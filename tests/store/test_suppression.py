"""A process's copy of the suppression list: ids refused by their salted hashes, read again
once stale."""

from __future__ import annotations

import pytest

from intercom_destination.store import Store
from intercom_destination.store.suppression import SuppressionList, id_hash
from tests.store.helpers import NOW

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_suppression_is_seen_once_the_copy_is_stale(store: Store) -> None:
    clock = Clock()
    suppressions = SuppressionList(store, refresh=5.0, clock=clock)
    assert not (await suppressions.current()).refuses("u1", None)
    salt = await store.salt()
    await store.suppress(
        [id_hash(salt, "userId", "u1"), id_hash(salt, "anonymousId", "a1")], now=NOW
    )

    clock.now = 4.9
    assert not (await suppressions.current()).refuses("u1", None)
    clock.now = 5.0
    current = await suppressions.current()

    assert current.refuses("u1", None)
    assert current.refuses(None, "a1")
    assert current.refuses("u2", "a1")
    assert not current.refuses("a1", None)  # an anonymousId, not a userId
    assert not current.refuses("u2", "u1")
    assert not current.refuses(None, None)


def test_an_ids_hash_depends_on_the_salt_and_the_kind() -> None:
    assert id_hash(b"s1", "userId", "u1") != id_hash(b"s2", "userId", "u1")
    assert id_hash(b"s1", "userId", "u1") != id_hash(b"s1", "anonymousId", "u1")
    assert len(id_hash(b"s1", "userId", "u1")) == 32
