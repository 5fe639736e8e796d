"""The express path of a POST without Origin to an event path: the same answers, to the byte,
as through Starlette's router; anything else still goes the normal way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from intercom_destination.store import open_store
from tests.ingest.conftest import Ingest, settings
from tests.ingest.helpers import basic, batch, gzipped, track

pytestmark = pytest.mark.anyio

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


@pytest.fixture
async def normal() -> AsyncIterator[Ingest]:
    """An app whose express table is emptied before its first request, over a store of its
    own: every request goes through the router."""
    async with await open_store("sqlite:///:memory:") as own:
        ingest = Ingest(own, settings())
        [express, _] = ingest.app.user_middleware
        express.kwargs["endpoints"] = {}
        yield ingest


async def answer(ingest: Ingest, path: str, content: bytes, headers: dict[str, str]) -> Answer:
    async with ingest.client() as client:
        response = await client.post(path, content=content, headers=headers)
    return response.status_code, response.headers.raw, response.content


def json_body(document: Any) -> bytes:
    return httpx.Request("POST", "/", json=document).content


@pytest.mark.parametrize(
    ("path", "content", "headers"),
    [
        pytest.param("/v1/batch", json_body(batch(track("m1"))), {}, id="success"),
        pytest.param(
            "/v1/import",
            json_body(batch(track("m1"), {"type": "track", "userId": "u1"})),
            {},
            id="some-rejected",
        ),
        pytest.param("/v1/t", json_body(track("m1")), basic("WRITEKEY_PY:"), id="single"),
        pytest.param(
            "/v1/batch",
            json_body(batch(track("m1"), write_key="NOT-OURS")),
            {},
            id="refused-key",
        ),
        pytest.param(
            "/v1/b", json_body(batch({"type": "track", "userId": "u1"})), {}, id="invalid-batch"
        ),
        pytest.param("/v1/batch", b"{", {}, id="invalid-json"),
        pytest.param(
            "/v1/batch",
            gzipped(batch(track("m1"), track("m2"))),
            {"Content-Encoding": "gzip"},
            id="gzip",
        ),
    ],
)
async def test_the_express_path_answers_as_the_router_does(
    path: str,
    content: bytes,
    headers: dict[str, str],
    ingest: Ingest,
    normal: Ingest,
) -> None:
    express = await answer(ingest, path, content, headers)
    routed = await answer(normal, path, content, headers)

    assert express == routed
    status, raw, _ = express
    assert (b"vary", b"Origin") in raw
    assert ingest.metric("ingest_requests_total", status=str(status)) == 1
    assert normal.metric("ingest_requests_total", status=str(status)) == 1


async def test_only_posts_without_origin_to_event_paths_skip_the_router(
    ingest: Ingest,
) -> None:
    ingest.app.router.routes.clear()

    async with ingest.client() as client:
        express = await client.post("/v1/batch", json=batch(track("m1")))
        from_browser = await client.post(
            "/v1/batch", json=batch(track("m2")), headers={"Origin": "https://shop.example.com"}
        )
        other = await client.post("/v1/m", content=b"{}")

    assert express.status_code == 200
    assert from_browser.status_code == other.status_code == 404


async def test_an_unexpected_error_on_the_express_path_is_a_500(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr("intercom_destination.ingest.app.read_envelope", broken)
    transport = httpx.ASGITransport(app=ingest.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/v1/batch", json=batch(track("m1")))

    assert response.status_code == 500
