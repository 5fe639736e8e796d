"""Stores that fail while ingest serves: requests are answered 503 with Retry-After, soon,
and ingest takes events again once the store is back, without a restart. A PostgreSQL store
that goes away is answered within its bounded wait for a connection, /ready too; a full disk
under a SQLite store is answered at once."""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import httpx
import psycopg
import pytest

from intercom_destination.store import Enqueued, NewEvent, Status, Store, StoreError, open_store
from tests.ingest.conftest import Ingest, MakeIngest, settings
from tests.ingest.helpers import batch, stored, track
from tests.tcp_proxy import Proxy, proxy
from tests.waiting import until

pytestmark = pytest.mark.anyio

#: The longest a test waits for an answer or for recovery: far past the bounded waits it
#: configures, far below the 30 s a request used to hang (a hang detector, not a threshold).
PATIENCE = 15.0


def through(url: str, port: int) -> str:
    """`url`, reaching its server through a proxy on `127.0.0.1:port`."""
    parts = urllib.parse.urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return parts._replace(netloc=f"{user}127.0.0.1:{port}").geturl()


@pytest.mark.postgres
@pytest.mark.parametrize("failure", [Proxy.refuse, Proxy.go_silent])
async def test_postgresql_down_is_answered_503_at_once_and_up_again_is_served(
    postgres_url: str, failure: object
) -> None:
    parts = urllib.parse.urlsplit(postgres_url)
    async with proxy((parts.hostname or "127.0.0.1", parts.port or 5432)) as tcp:
        url = through(postgres_url, tcp.port)
        async with await open_store(url, connection_wait=0.5) as store:
            ingest = Ingest(store, settings())
            async with ingest.client() as client:
                assert (await client.post("/v1/batch", json=batch(track("m1")))).status_code == 200

                await failure(tcp)  # type: ignore[operator]
                async with asyncio.timeout(PATIENCE):
                    refused = await client.post("/v1/batch", json=batch(track("m2")))
                    refused_again = await client.post("/v1/batch", json=batch(track("m2")))
                    not_ready = await client.get("/ready")

                await tcp.forward()
                accepted = await _until_accepted(client, batch(track("m2")))
                ready = await client.get("/ready")

            assert sorted(await stored(store)) == ["m1", "m2"]

    assert (refused.status_code, refused_again.status_code) == (503, 503)
    assert refused_again.headers["Retry-After"] == "10"
    assert refused_again.json()["code"] == "store_unavailable"
    assert (not_ready.status_code, not_ready.json()) == (
        503,
        {"ready": False, "reason": "the store does not answer"},
    )
    assert accepted.status_code == 200
    assert ready.json() == {"ready": True, "backlog": 2}


async def test_ready_answers_at_once_once_a_request_found_the_store_down(
    make_ingest: MakeIngest, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(events: Sequence[NewEvent]) -> list[Enqueued]:
        raise psycopg.OperationalError("connection refused")

    async def hanging(now: float) -> Status:
        await asyncio.Event().wait()  # a store that is asked and never answers
        raise AssertionError("unreachable")

    ingest = make_ingest()
    async with ingest.client() as client:
        with monkeypatch.context() as patch:
            patch.setattr(store, "enqueue", failing)
            patch.setattr(store, "status", hanging)
            async with asyncio.timeout(PATIENCE):
                refused = await client.post("/v1/batch", json=batch(track("m1")))
                # What ingest knows of the store is answered without asking it again.
                not_ready = await client.get("/ready")
        accepted = await client.post("/v1/batch", json=batch(track("m1")))
        ready = await client.get("/ready")

    assert refused.status_code == 503
    assert (not_ready.status_code, not_ready.json()) == (
        503,
        {"ready": False, "reason": "the store does not answer"},
    )
    assert accepted.status_code == 200
    assert ready.json() == {"ready": True, "backlog": 1}


async def _until_accepted(client: httpx.AsyncClient, body: object) -> httpx.Response:
    async def answered() -> httpx.Response | None:
        response = await client.post("/v1/batch", json=body)
        return None if response.status_code == 503 else response

    return await until(answered, "ingest takes events again", PATIENCE)


@pytest.mark.postgres
async def test_a_server_that_accepts_but_never_answers_fails_the_store_opening(
    postgres_url: str,
) -> None:
    parts = urllib.parse.urlsplit(postgres_url)
    async with proxy((parts.hostname or "127.0.0.1", parts.port or 5432)) as tcp:
        await tcp.go_silent()
        with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
            async with asyncio.timeout(PATIENCE):
                await open_store(through(postgres_url, tcp.port))


async def test_a_full_disk_is_answered_503_and_ingest_recovers_when_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    async with await open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        ingest = Ingest(store, settings())
        async with ingest.client() as client:
            with monkeypatch.context() as patch:
                patch.setattr(os, "fdatasync", full)
                refused = await client.post("/v1/batch", json=batch(track("m1")))
            # The client sends it again, as every client does after a 5xx.
            accepted = await client.post("/v1/batch", json=batch(track("m1"), track("m2")))
        assert sorted(await stored(store)) == ["m1", "m2"]

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "10"
    assert refused.json()["code"] == "store_unavailable"
    assert accepted.status_code == 200
