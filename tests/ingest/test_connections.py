"""Clients over real HTTP that go away or stall: a disconnect mid-body is an ordinary event,
and no request may take longer than its bounds to arrive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.ingest.conftest import Ingest, serving

pytestmark = pytest.mark.anyio

#: How long a test waits for what it expects before failing (not a threshold).
PATIENCE = 30.0


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


async def until(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(PATIENCE):
        while not condition():
            await asyncio.sleep(0.01)


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
            lambda: ingest.metric("ingest_refused_requests_total", reason="client_disconnected")
        )

    [record] = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
