"""Every request recorded from a real Segment client, replayed as it was sent: accepted, and
its events stored with their types, ids and corrected timestamps."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from intercom_destination.store import Store
from tests.captures import load_captures
from tests.ingest.conftest import NOW, Ingest, serving
from tests.ingest.helpers import stored

pytestmark = pytest.mark.anyio

#: Headers the HTTP client sets itself for the body it sends.
_TRANSPORT_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}
RECEIVED = datetime.fromtimestamp(NOW, UTC)
CAPTURES = load_captures()


def recorded(name: str) -> dict[str, Any]:
    [capture] = [capture for file, capture in CAPTURES if file == name]
    return capture


def request(capture: dict[str, Any]) -> httpx.Request:
    """The recorded request: method, path, headers and the body's bytes as sent."""
    if capture.get("raw_body_b64"):
        content = base64.b64decode(capture["raw_body_b64"])
    else:
        content = json.dumps(capture["body"]).encode()
    headers = [(k, v) for k, v in capture["headers"] if k.lower() not in _TRANSPORT_HEADERS]
    return httpx.Request(capture["method"], capture["path"], headers=headers, content=content)


def expected_events(capture: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = capture["body"]
    return {item["messageId"]: item for item in body.get("batch", [body])}


def corrected(item: dict[str, Any], envelope_sent_at: str | None) -> datetime:
    """Segment's rule, computed here on its own: receivedAt - (sentAt - timestamp)."""
    sent_at = datetime.fromisoformat(item.get("sentAt") or envelope_sent_at or "")
    return RECEIVED - (sent_at - datetime.fromisoformat(item["timestamp"]))


async def send(client: httpx.AsyncClient, capture: dict[str, Any]) -> httpx.Response:
    built = request(capture)
    return await client.request(
        built.method, built.url.path, headers=built.headers, content=built.content
    )


@pytest.mark.parametrize(("name", "capture"), CAPTURES, ids=[name for name, _ in CAPTURES])
async def test_every_recorded_request_is_accepted_and_stored(
    name: str, capture: dict[str, Any], client: httpx.AsyncClient, store: Store
) -> None:
    response = await send(client, capture)

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    kept = await stored(store)
    if capture["path"] == "/v1/m":
        assert kept == {}  # analytics.js's telemetry is answered and dropped
        return
    expected = expected_events(capture)
    assert kept.keys() == expected.keys()
    sent_at = capture["body"].get("sentAt")
    for message_id, item in expected.items():
        event = kept[message_id]
        assert event["type"] == item["type"]
        assert event.get("userId") == item.get("userId")
        assert event.get("anonymousId") == item.get("anonymousId")
        assert datetime.fromisoformat(event["timestamp"]) == corrected(item, sent_at)
        assert event["originalTimestamp"] == item["timestamp"]
        assert datetime.fromisoformat(event["receivedAt"]) == RECEIVED
        # The transport's fields are not part of the event; the write key is a secret.
        assert not {"writeKey", "sentAt", "_metadata"} & event.keys()


async def test_an_old_timestamp_keeps_its_age_across_the_clock_skew(
    client: httpx.AsyncClient, store: Store
) -> None:
    capture = recorded("python-2.4.0-plain-001.json")

    await send(client, capture)

    kept = await stored(store)
    [purchase] = [e for e in kept.values() if e["originalTimestamp"].startswith("2012")]
    # The client's clock read sentAt when it sent the batch, which arrived at RECEIVED: the
    # difference is its clock's skew, taken off the event's own time, which stays in 2012.
    skew = datetime.fromisoformat(capture["body"]["sentAt"]) - RECEIVED
    assert datetime.fromisoformat(purchase["timestamp"]) == (
        datetime(2012, 12, 2, 0, 30, 12, 984000, tzinfo=UTC) - skew
    )


async def test_a_retried_request_stores_its_events_once(
    client: httpx.AsyncClient, store: Store, ingest: Ingest
) -> None:
    # A 500, a 503, a 429 and the 200 that ended it: the same event sent four times.
    retries = [recorded(f"python-2.4.0-retry-00{n}.json") for n in (1, 2, 3, 4)]
    assert len({c["body"]["batch"][0]["messageId"] for c in retries}) == 1

    for capture in retries:
        assert (await send(client, capture)).status_code == 200

    assert len(await stored(store)) == 1
    assert ingest.metric("ingest_events_accepted_total") == 1
    assert ingest.metric("ingest_events_duplicate_total") == 3


@pytest.mark.parametrize(
    "name",
    [
        "python-2.4.0-gzip-001.json",
        "node-2.3.0-001.json",
        "analytics-next-1.84.3-batching-001.json",
        "analytics-next-1.83.0-standard-003.json",
    ],
)
async def test_recorded_requests_over_real_http(name: str, ingest: Ingest, store: Store) -> None:
    capture = recorded(name)

    async with serving(ingest.app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await send(client, capture)

    assert response.status_code == 200, response.text
    assert (await stored(store)).keys() == expected_events(capture).keys()
