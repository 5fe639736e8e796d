"""An event no decoder can read whole (nested past Python's recursion limit, holding a lone
UTF-16 surrogate or bytes that are not UTF-8) or whose time no datetime can hold is rejected
alone, with its reason: the batch's other events are stored, and the connection stays usable
for the next request."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from intercom_destination.store import Store
from tests.ingest.conftest import Ingest, serving
from tests.ingest.helpers import batch, stored, track

pytestmark = pytest.mark.anyio

GOOD = json.dumps(track("good")).encode()
DEEP = b'{"type": "track", "event": "E", "userId": "u", "properties": {"x": %s}}' % (
    b"[" * 1_100 + b"]" * 1_100
)
FAR = "9999-12-31T23:59:59Z"
NEAR = "2026-11-28T22:59:59Z"
OUT_OF_YEARS = "corrected for clock skew, outside years 1-9999"


def with_good(second: bytes, envelope: bytes = b"") -> bytes:
    """A batch body of GOOD and `second`, and whatever else `envelope` adds to it."""
    return b'{"writeKey": "WRITEKEY_PY", "batch": [%s, %s]%s}' % (GOOD, second, envelope)


def tracked(**fields: str) -> bytes:
    return json.dumps(track("m2", **fields)).encode()


#: Batch bodies, GOOD first, and what is said of the second item.
DEFECTS = {
    "nested 1,100 levels": (
        with_good(DEEP),
        {"field": "event", "reason": "nested deeper than 256 levels"},
    ),
    "nested 1,100 levels, in an envelope with context": (
        with_good(DEEP, b', "context": {"ip": "1.2.3.4"}'),
        {"field": "event", "reason": "nested deeper than 256 levels"},
    ),
    "a lone surrogate": (
        with_good(b'{"type": "track", "event": "E", "userId": "\\ud800"}'),
        {"field": "event", "reason": "holds a lone UTF-16 surrogate (\\ud800), which is not text"},
    ),
    "bytes that are not UTF-8 in a value": (
        with_good(b'{"type": "track", "event": "E", "userId": "u", "properties": {"a": "\xff"}}'),
        {"field": "event", "reason": "is not UTF-8: invalid start byte at byte 68"},
    ),
    "bytes that are not UTF-8 in a key": (
        with_good(b'{"type": "track", "event": "E", "userId": "u", "\xc3": 1}'),
        {"field": "event", "reason": "is not UTF-8: invalid continuation byte at byte 48"},
    ),
    "a timestamp of 9999-12-31": (
        with_good(tracked(timestamp=FAR, sentAt=NEAR)),
        {"messageId": "m2", "field": "timestamp", "reason": f"too far from sentAt: {OUT_OF_YEARS}"},
    ),
    "a timestamp of 400 digits": (
        with_good(tracked(timestamp="1" * 400)),
        {
            "messageId": "m2",
            "field": "timestamp",
            "reason": "not a timestamp (ISO-8601 or Unix seconds)",
        },
    ),
    "a sentAt of 9999-12-31": (
        with_good(tracked(timestamp=NEAR, sentAt=FAR)),
        {"messageId": "m2", "field": "sentAt", "reason": f"too far from timestamp: {OUT_OF_YEARS}"},
    ),
    "an envelope sentAt of 9999-12-31": (
        with_good(tracked(timestamp=NEAR), b', "sentAt": "%s"' % FAR.encode()),
        {"messageId": "m2", "field": "sentAt", "reason": f"too far from timestamp: {OUT_OF_YEARS}"},
    ),
}


@pytest.mark.parametrize(("body", "said"), DEFECTS.values(), ids=DEFECTS)
async def test_the_event_is_rejected_alone_and_the_others_stored(
    client: httpx.AsyncClient, store: Store, ingest: Ingest, body: bytes, said: dict[str, str]
) -> None:
    response = await client.post("/v1/batch", content=body)

    assert response.status_code == 200
    assert response.json() == {"success": True, "rejected": [{"index": 1, **said}]}
    assert list(await stored(store)) == ["good"]
    assert ingest.metric("ingest_events_rejected_total", reason=said["field"]) == 1


@pytest.mark.parametrize("name", ["context", "integrations"])
async def test_an_envelope_object_too_deep_for_the_events_it_is_merged_into_is_refused(
    client: httpx.AsyncClient, store: Store, name: str
) -> None:
    def body(levels: int) -> bytes:
        nested = b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)
        return with_good(tracked(), b', "%s": %s' % (name.encode(), nested))

    # 256 levels in the envelope are 257 in each event, under its own `context`.
    response = await client.post("/v1/batch", content=body(256))

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_json",
        "message": f"the body is not a batch: {name}: nested deeper than 256 levels",
    }
    assert await stored(store) == {}
    assert (await client.post("/v1/batch", content=body(255))).status_code == 200


async def test_a_single_event_too_deep_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/track", content=DEEP)

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_json",
        "message": "the body is not an event: nested deeper than 256 levels",
    }


async def test_the_connection_stays_usable(ingest: Ingest, store: Store) -> None:
    # Over real HTTP, each body and then a plain batch on one keep-alive connection: a request
    # that fails inside the app would have the server close the connection after its answer.
    bodies = [body for body, _ in DEFECTS.values()]
    bodies.append(json.dumps(batch(track("last"))).encode())
    async with serving(ingest.app) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for body in bodies:
                writer.write(
                    b"POST /v1/batch HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body)
                )
                status, answer = await _response(reader)
                assert status == 200, answer
        finally:
            writer.close()
    assert sorted(await stored(store)) == ["good", "last"]


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of the next response on the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    assert headers.get("connection") != "close"
    return int(lines[0].split()[1]), await reader.readexactly(int(headers["content-length"]))
