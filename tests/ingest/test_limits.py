"""Bodies: any Content-Type, gzip, chunked; Segment's size limits on the decoded body, and a
400 whose JSON body names the problem for anything that can never be accepted."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from intercom_destination.ingest.body import _inflate
from intercom_destination.ingest.responses import Refusal
from intercom_destination.store import Store
from tests.ingest.conftest import Ingest, serving
from tests.ingest.helpers import basic, batch, gzipped, stored, track

pytestmark = pytest.mark.anyio

AUTH = basic("WRITEKEY_PY:")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/json; charset=utf-8", None],
)
async def test_the_body_is_json_whatever_the_content_type_says(
    content_type: str | None, client: httpx.AsyncClient, store: Store
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = await client.post(
        "/v1/batch", content=json.dumps(batch(track("m1"))), headers=headers
    )

    assert response.status_code == 200
    assert list(await stored(store)) == ["m1"]


async def test_gzip_bodies_are_inflated(client: httpx.AsyncClient, store: Store) -> None:
    response = await client.post(
        "/v1/batch",
        content=gzipped(batch(track("m1"), track("m2"))),
        headers={"Content-Encoding": "gzip", **AUTH},
    )

    assert response.status_code == 200
    assert sorted(await stored(store)) == ["m1", "m2"]


async def test_a_gzip_body_of_several_members_is_read_whole(
    client: httpx.AsyncClient, store: Store
) -> None:
    text = json.dumps(batch(track("m1"))).encode()
    members = gzip.compress(text[:20]) + gzip.compress(text[20:])

    response = await client.post("/v1/batch", content=members, headers={"Content-Encoding": "gzip"})

    assert response.status_code == 200, response.text
    assert list(await stored(store)) == ["m1"]


async def test_a_chunked_gzip_body_over_real_http(ingest: Ingest, store: Store) -> None:
    # analytics-kotlin: text/plain, always gzip, chunked streaming, no Authorization header.
    body = gzipped(batch(track("m1"), track("m2"), write_key="WRITEKEY_AJS"))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 50):
            yield body[start : start + 50]

    async with serving(ingest.app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/v1/b",
            content=chunks(),
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        )

    assert response.status_code == 200, response.text
    assert sorted(await stored(store)) == ["m1", "m2"]


def padded(message_id: str, size: int) -> dict[str, Any]:
    """A track event whose JSON is `size` bytes long."""
    event = track(message_id, properties={"padding": ""})
    event["properties"]["padding"] = "x" * (size - len(json.dumps(event, separators=(",", ":"))))
    assert len(json.dumps(event, separators=(",", ":"))) == size
    return event


def compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


async def test_a_single_event_of_32_kib_is_accepted_and_a_byte_more_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    limit = 32 * 1024
    at_limit = await client.post("/v1/track", content=compact(padded("m1", limit)), headers=AUTH)
    over = await client.post("/v1/track", content=compact(padded("m2", limit + 1)), headers=AUTH)

    assert at_limit.status_code == 200
    assert over.status_code == 400
    assert over.json() == {
        "success": False,
        "code": "request_too_large",
        "message": "the body is larger than 32,768 bytes",
    }
    assert list(await stored(store)) == ["m1"]


async def test_a_batch_over_500_kib_is_refused(client: httpx.AsyncClient, store: Store) -> None:
    events = [padded(f"m{n}", 30_000) for n in range(18)]  # 540 kB

    response = await client.post("/v1/batch", content=compact(batch(*events)))

    assert response.status_code == 400
    assert response.json()["message"] == "the body is larger than 512,000 bytes"
    assert await stored(store) == {}


async def test_a_chunked_body_is_counted_as_it_arrives(
    client: httpx.AsyncClient, store: Store
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length
        yield b'{"writeKey": "WRITEKEY_PY", "batch": ['
        for _ in range(600):
            yield b'"' + b"x" * 1000 + b'",'
        yield b"1]}"

    response = await client.post("/v1/batch", content=chunks())

    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"


async def test_a_gzip_bomb_is_refused(client: httpx.AsyncClient, store: Store) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * 5_000_000 + b"]}")  # 5 MB in about 5 kB

    response = await client.post(
        "/v1/batch", content=bomb, headers={"Content-Encoding": "gzip", **AUTH}
    )

    assert response.status_code == 400
    assert response.json()["message"] == "the body is larger than 512,000 bytes"


async def test_inflating_stops_at_the_limit() -> None:
    bomb = gzip.compress(b" " * 5_000_000)
    read: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(bomb), 1000):
            read.append(start)
            yield bomb[start : start + 1000]

    with pytest.raises(Refusal, match="larger than 10,000 bytes"):
        await _inflate(chunks(), 10_000)
    # The first chunk alone inflates past the limit: nothing more is read.
    assert len(read) == 1


@pytest.mark.parametrize(
    ("content", "encoding", "code", "message"),
    [
        (
            b"not gzip",
            "gzip",
            "invalid_gzip",
            "the gzip body cannot be inflated: Error -3 "
            "while decompressing data: incorrect header check",
        ),
        (
            gzipped(batch(track("m1")))[:-12],
            "gzip",
            "invalid_gzip",
            "the gzip body ends before its end-of-stream marker",
        ),
        (
            zlib.compress(b"{}"),
            "deflate",
            "unsupported_encoding",
            "Content-Encoding 'deflate' is not supported; send the body as is or gzipped",
        ),
    ],
)
async def test_a_body_that_cannot_be_decoded_is_refused(
    content: bytes, encoding: str, code: str, message: str, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/v1/batch", content=content, headers={"Content-Encoding": encoding, **AUTH}
    )

    assert response.status_code == 400
    assert response.json() == {"success": False, "code": code, "message": message}


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("/v1/batch", b"", "the body is empty"),
        ("/v1/batch", b'{"batch": [', "the body is not a batch: Input data was truncated"),
        ("/v1/batch", b"[]", "the body is not a batch: Expected `object`, got `array`"),
        ("/v1/batch", b"{}", "the body is not a batch: Object missing required field `batch`"),
        (
            "/v1/batch",
            b'{"batch": {}}',
            "the body is not a batch: Expected `array`, got `object` - at `$.batch`",
        ),
        (
            "/v1/track",
            b"{'single': 'quotes'}",
            "the body is not an event: JSON is malformed: object keys must be strings (byte 1)",
        ),
        ("/v1/track", b'"a string"', "the body is not an event: Expected `object`, got `str`"),
        (
            "/v1/track",
            b"\xff\xfe{}",
            "the body is not an event: is not UTF-8: invalid start byte at byte 0",
        ),
    ],
)
async def test_malformed_json_is_refused_naming_the_problem(
    path: str, content: bytes, message: str, client: httpx.AsyncClient, ingest: Ingest
) -> None:
    response = await client.post(path, content=content, headers=AUTH)

    assert response.status_code == 400
    assert response.json() == {"success": False, "code": "invalid_json", "message": message}
    assert ingest.metric("ingest_refused_requests_total", reason="invalid_json") == 1


async def test_more_than_2500_events_are_refused(client: httpx.AsyncClient, store: Store) -> None:
    events = [{"type": "track", "event": "E", "userId": "u"}] * 2501

    response = await client.post("/v1/batch", json=batch(*events))

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "too_many_events",
        "message": "the batch has 2,501 events, more than 2,500",
    }
    assert await stored(store) == {}


async def test_2500_events_are_accepted(client: httpx.AsyncClient, store: Store) -> None:
    events = [track(f"m{n}", user_id=f"u{n % 50}") for n in range(2500)]

    response = await client.post("/v1/batch", json=batch(*events))

    assert response.status_code == 200
    assert len(await stored(store)) == 2500
