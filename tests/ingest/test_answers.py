"""What ingest answers: 200 once the events are durable; the valid events of a batch stored and
the invalid ones named; 503 or 429 with Retry-After, storing nothing, when it cannot take
more; never a redirect."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import httpx
import pytest

from intercom_destination.ingest.payload import Decoder
from intercom_destination.store import Enqueued, NewEvent, Store
from tests.ingest.conftest import Ingest, MakeIngest
from tests.ingest.helpers import basic, batch, stored, track

pytestmark = pytest.mark.anyio


async def test_a_batch_with_invalid_events_stores_the_valid_ones_and_names_the_others(
    client: httpx.AsyncClient, store: Store, ingest: Ingest
) -> None:
    body = batch(
        track("m1"),
        {"type": "track", "userId": "u1", "messageId": "m2"},
        "not an event",
        track("m4", anonymousId="a4", userId=None),
        {"type": "identify", "messageId": "m5", "traits": {}},
        track("m" * 100),
        {"type": "visit", "userId": "u1"},
    )

    response = await client.post("/v1/batch", json=body)

    # 200: every client drops what it sent on a 200 or a 400 alike, and the valid events are
    # stored, so nothing is lost; a 400 would tell the client that nothing was accepted.
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "rejected": [
            {"index": 1, "messageId": "m2", "field": "track.event", "reason": "missing"},
            {"index": 2, "field": "event", "reason": "must be an object"},
            {
                "index": 4,
                "messageId": "m5",
                "field": "identify",
                "reason": "needs userId or anonymousId",
            },
            {"index": 5, "field": "messageId", "reason": "longer than 99 characters"},
            {
                "index": 6,
                "field": "type",
                "reason": "must be one of identify, track, page, screen, group, alias",
            },
        ],
    }
    assert sorted(await stored(store)) == ["m1", "m4"]
    assert ingest.metric("ingest_events_received_total") == 7
    assert ingest.metric("ingest_events_accepted_total") == 2
    assert ingest.metric("ingest_events_rejected_total", reason="track.event") == 1
    assert ingest.metric("ingest_events_rejected_total", reason="messageId") == 1


async def test_an_oversize_event_in_a_batch_is_rejected_alone(
    client: httpx.AsyncClient, store: Store
) -> None:
    big = track("big", properties={"padding": "x" * 33_000})

    response = await client.post("/v1/batch", json=batch(track("m1"), big))

    assert response.status_code == 200
    assert response.json()["rejected"] == [
        {"index": 1, "field": "event", "reason": "larger than 32,768 bytes"}
    ]
    assert list(await stored(store)) == ["m1"]


async def test_a_batch_without_one_valid_event_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    response = await client.post("/v1/batch", json=batch({"type": "track", "userId": "u1"}))

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_events",
        "message": "no event of the batch is valid",
        "rejected": [{"index": 0, "field": "track.event", "reason": "missing"}],
    }


async def test_an_invalid_single_event_is_refused(client: httpx.AsyncClient, store: Store) -> None:
    response = await client.post(
        "/v1/group", json={"userId": "u1", "messageId": "m1"}, headers=basic("WRITEKEY_PY:")
    )

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_event",
        "message": "the event is invalid: group.groupId: missing",
        "rejected": [
            {"index": 0, "messageId": "m1", "field": "group.groupId", "reason": "missing"}
        ],
    }
    assert await stored(store) == {}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/identify", "identify"),
        ("/v1/track", "track"),
        ("/v1/page", "page"),
        ("/v1/screen", "screen"),
        ("/v1/group", "group"),
        ("/v1/alias", "alias"),
    ],
)
async def test_a_single_event_path_gives_its_type_and_a_messageid(
    path: str, kind: str, client: httpx.AsyncClient, store: Store
) -> None:
    # curl, by hand: no type, no messageId, no timestamp.
    event = {"userId": "u1", "event": "E", "groupId": "g1", "previousId": "p1"}

    response = await client.post(path, json=event, headers=basic("WRITEKEY_PY:"))

    assert response.status_code == 200, response.text
    [(message_id, kept)] = (await stored(store)).items()
    assert message_id == "generated-1"
    assert kept["type"] == kind
    assert kept["timestamp"] == kept["receivedAt"] == "2026-11-28T23:00:00+00:00"


async def test_a_type_that_contradicts_the_path_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/track", json=track("m1", type="identify", writeKey="WRITEKEY_PY")
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "the event is invalid: type: is 'identify' but the path is for 'track' events"
    )


async def test_the_envelope_context_and_integrations_reach_every_event(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = batch(
        track("m1"),
        track("m2", context={"ip": "10.0.0.2"}, integrations={"Intercom": False}),
        context={"ip": "10.0.0.1", "library": {"name": "curl"}},
        integrations={"All": False, "Intercom": True},
    )

    await client.post("/v1/import", json=body)

    kept = await stored(store)
    assert kept["m1"]["context"] == {"ip": "10.0.0.1", "library": {"name": "curl"}}
    assert kept["m1"]["integrations"] == {"All": False, "Intercom": True}
    assert kept["m2"]["context"] == {"ip": "10.0.0.2", "library": {"name": "curl"}}
    assert kept["m2"]["integrations"] == {"All": False, "Intercom": False}


async def test_a_batch_sent_twice_is_stored_once(
    client: httpx.AsyncClient, store: Store, ingest: Ingest
) -> None:
    body = batch(track("m1"), track("m2"))

    first = await client.post("/v1/batch", json=body)
    again = await client.post("/v1/batch", json=body)

    assert first.json() == again.json() == {"success": True}
    assert sorted(await stored(store)) == ["m1", "m2"]
    assert ingest.metric("ingest_events_duplicate_total") == 2


async def test_when_the_store_fails_the_client_is_asked_to_retry_and_nothing_is_kept(
    client: httpx.AsyncClient, store: Store, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def disk_full(events: Sequence[NewEvent]) -> list[Enqueued]:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "enqueue", disk_full)

    response = await client.post("/v1/batch", json=batch(track("m1"), track("m2")))

    # 503: every client retries a 5xx; Retry-After paces those that read it.
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert response.json() == {
        "success": False,
        "code": "store_unavailable",
        "message": "the events could not be stored (none of this request was kept): "
        "send again later",
    }
    monkeypatch.undo()
    assert await stored(store) == {}
    assert ingest.metric("ingest_events_rejected_total", reason="store_unavailable") == 2


async def test_a_closed_store_is_unavailable(make_ingest: MakeIngest, store: Store) -> None:
    ingest = make_ingest()
    async with ingest.client() as client:
        await store.close()
        response = await client.post("/v1/batch", json=batch(track("m1")))
        ready = await client.get("/ready")

    assert response.status_code == 503
    assert (ready.status_code, ready.json()) == (
        503,
        {"ready": False, "reason": "the store does not answer"},
    )


async def test_past_the_backlog_bound_clients_are_asked_to_wait(
    make_ingest: MakeIngest, store: Store
) -> None:
    ingest = make_ingest(max_backlog=3)

    async with ingest.client() as client:
        first = await client.post("/v1/batch", json=batch(track("m1"), track("m2"), track("m3")))
        refused = await client.post("/v1/batch", json=batch(track("m4")))
        not_ready = await client.get("/ready")
        await stored(store)  # a worker delivers the backlog
        ready = await client.get("/ready")
        again = await client.post("/v1/batch", json=batch(track("m4")))

    assert first.status_code == 200
    # 429 with Retry-After: python, node and analytics.js wait without counting it as a retry.
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == refused.headers["X-RateLimit-Reset"] == "60"
    assert refused.json() == {
        "success": False,
        "code": "backlog_full",
        "message": "3 events wait for delivery, the bound is 3: send again later",
    }
    assert not_ready.status_code == 503
    assert not_ready.json()["reason"] == "3 events wait for delivery, the bound is 3"
    assert ready.json() == {"ready": True, "backlog": 0}
    assert again.status_code == 200
    assert list(await stored(store)) == ["m4"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/batch/", 404),
        ("POST", "/v1/unknown", 404),
        ("GET", "/v1/batch", 405),
        ("POST", "/", 404),
    ],
)
async def test_other_paths_are_never_redirected(
    method: str, path: str, status: int, client: httpx.AsyncClient
) -> None:
    response = await client.request(method, path, json=batch(track("m1")))

    # a 3xx would be taken for success by analytics-node and analytics.js
    assert response.status_code == status
    assert response.json()["success"] is False


async def test_an_unexpected_error_answers_500_and_is_counted(
    client: httpx.AsyncClient, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Decoder, "batch", broken)

    response = await client.post("/v1/batch", json=batch(track("m1")))

    assert response.status_code == 500
    assert response.json() == {
        "success": False,
        "code": "internal_error",
        "message": "the request could not be handled: send again later",
    }
    assert ingest.metric("ingest_requests_total", status="500") == 1
