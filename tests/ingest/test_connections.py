"""Clients over real HTTP that go away or stall: a disconnect mid-body is an ordinary event,
and no request may take longer than its bounds to arrive."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from intercom_destination.deadlines import Deadlines
from intercom_destination.ingest.payload import Decoder
from intercom_destination.store import Store
from tests.ingest.conftest import Ingest, MakeIngest, serving
from tests.ingest.helpers import batch, stored, track
from tests.waiting import PATIENCE, until

pytestmark = pytest.mark.anyio


async def connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port)


def post_head(length: int) -> bytes:
    return (
        f"POST /v1/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def test_a_client_that_disconnects_mid_body_is_logged_without_a_traceback(
    ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(ingest.app) as url:
        _, writer = await connect(url)
        writer.write(post_head(1000) + b'{"batch": [')
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await until(
            lambda: ingest.metric("ingest_refused_requests_total", reason="client_disconnected"),
            "the disconnect is counted",
        )

    [record] = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_after_an_unexpected_error_the_connection_serves_the_next_request(
    ingest: Ingest, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    decode = Decoder.batch
    calls = iter([True, False])

    def broken_once(self: Decoder, *args: Any) -> Any:
        if next(calls):
            raise RuntimeError("a bug")
        return decode(self, *args)

    monkeypatch.setattr(Decoder, "batch", broken_once)
    body = json.dumps(batch(track("m1"))).encode()
    async with serving(ingest.app) as url:
        reader, writer = await connect(url)
        writer.write(post_head(len(body)) + body)
        failed = await reader.readuntil(b'send again later"}')
        writer.write(post_head(len(body)) + body)
        succeeded = await reader.readuntil(b'{"success":true}')
        writer.close()

    assert failed.startswith(b"HTTP/1.1 500 ")
    assert succeeded.startswith(b"HTTP/1.1 200 ")
    assert list(await stored(store)) == ["m1"]


#: Short bounds, so that tests of stalled clients end soon.
SHORT = {"header_timeout": 0.2, "body_timeout": 0.2}


async def received_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    async with asyncio.timeout(PATIENCE):
        return await reader.read()


@pytest.mark.parametrize(
    "sent",
    [
        b"POST /v1/batch HTTP/1.1\r\nHost: test\r\nContent-Le",
        b"POST /v1/bat",
    ],
)
async def test_a_request_whose_headers_stall_is_answered_408_and_closed(
    make_ingest: MakeIngest, sent: bytes
) -> None:
    ingest = make_ingest(**SHORT)
    async with serving(ingest.app, Deadlines.of(ingest.settings)) as url:
        reader, writer = await connect(url)
        writer.write(sent)
        answer = await received_until_closed(reader)
        writer.close()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["code"] == "request_timeout"


async def test_a_later_request_of_a_connection_whose_headers_stall_is_answered_408(
    make_ingest: MakeIngest,
) -> None:
    ingest = make_ingest(**SHORT)
    body = json.dumps(batch(track("m1"))).encode()
    async with serving(ingest.app, Deadlines.of(ingest.settings)) as url:
        reader, writer = await connect(url)
        writer.write(post_head(len(body)) + body)
        first = await reader.readuntil(b'{"success":true}')
        writer.write(b"POST /v1/batch HTTP/1.1\r\nHost: te")
        answer = await received_until_closed(reader)
        writer.close()

    assert first.startswith(b"HTTP/1.1 200 ")
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_connection_that_sends_nothing_is_closed(make_ingest: MakeIngest) -> None:
    ingest = make_ingest(**SHORT)
    async with serving(ingest.app, Deadlines.of(ingest.settings)) as url:
        reader, writer = await connect(url)
        answer = await received_until_closed(reader)
        writer.close()

    assert answer == b""


async def test_a_request_whose_body_stalls_is_answered_408_and_closed(
    make_ingest: MakeIngest, store: Store
) -> None:
    ingest = make_ingest(**SHORT)
    body = json.dumps(batch(track("m1"))).encode()
    async with serving(ingest.app, Deadlines.of(ingest.settings)) as url:
        reader, writer = await connect(url)
        writer.write(post_head(len(body)) + body[:-5])
        answer = await received_until_closed(reader)
        writer.close()

    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert json.loads(content) == {
        "success": False,
        "code": "request_timeout",
        "message": "the body did not arrive within 0.2 s",
    }
    assert await stored(store) == {}
    assert ingest.metric("ingest_requests_total", status="408") == 1


async def test_a_body_the_app_does_not_read_is_not_waited_for(make_ingest: MakeIngest) -> None:
    # analytics.js's telemetry is answered without reading its body.
    ingest = make_ingest(**SHORT)
    async with serving(ingest.app, Deadlines.of(ingest.settings)) as url:
        reader, writer = await connect(url)
        writer.write(post_head(1000).replace(b"/v1/batch", b"/v1/m") + b"{")
        answer = await received_until_closed(reader)
        writer.close()

    assert answer.startswith(b"HTTP/1.1 200 ")


async def test_requests_that_arrive_in_time_share_a_connection(
    make_ingest: MakeIngest, store: Store
) -> None:
    ingest = make_ingest(**SHORT)
    async with (
        serving(ingest.app, Deadlines.of(ingest.settings)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        for message_id in ("m1", "m2", "m3"):
            response = await client.post("/v1/batch", json=batch(track(message_id)))
            assert response.status_code == 200
            assert "connection" not in response.headers

    assert sorted(await stored(store)) == ["m1", "m2", "m3"]
