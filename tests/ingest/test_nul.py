"""NUL characters: an event with one in an id or a name is rejected, naming the field, and
one elsewhere is stored as it came, alike on every kind of store (PostgreSQL's text columns
cannot hold a NUL, SQLite's can)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from intercom_destination.store import Store, open_store
from tests.conftest import POSTGRESQL
from tests.ingest.conftest import Ingest, settings
from tests.ingest.helpers import batch, stored, track

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite-memory", POSTGRESQL])
async def any_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    url = (
        request.getfixturevalue("postgres_url")
        if request.param == "postgresql"
        else "sqlite:///:memory:"
    )
    async with await open_store(url) as opened:
        yield opened


async def test_a_nul_in_an_id_rejects_its_event_and_stores_the_others(any_store: Store) -> None:
    ingest = Ingest(any_store, settings())
    body = batch(
        track("m1", properties={"note": "a\x00b"}),
        track("m\x002"),
        track("m3", user_id="u\x003"),
        track("m4", anonymousId="a\x00", userId=None),
        {**track("m5"), "event": "Clicked\x00"},
        {"type": "group", "userId": "u1", "groupId": "g\x00", "messageId": "m6"},
    )

    async with ingest.client() as client:
        response = await client.post("/v1/batch", json=body)

    reason = "must not contain NUL (\\u0000)"
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "rejected": [
            {"index": 1, "messageId": "m\x002", "field": "messageId", "reason": reason},
            {"index": 2, "messageId": "m3", "field": "userId", "reason": reason},
            {"index": 3, "messageId": "m4", "field": "anonymousId", "reason": reason},
            {"index": 4, "messageId": "m5", "field": "track.event", "reason": reason},
            {"index": 5, "messageId": "m6", "field": "group.groupId", "reason": reason},
        ],
    }
    events = await stored(any_store)
    assert list(events) == ["m1"]
    assert events["m1"]["properties"] == {"note": "a\x00b"}
