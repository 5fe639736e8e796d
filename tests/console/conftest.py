"""The console app on an in-memory store, through httpx's ASGI transport, at a fixed time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from intercom_destination.console import create_console_app
from intercom_destination.deletion import Deletions
from intercom_destination.settings import Settings
from intercom_destination.store import Store, open_store

#: When every request arrives (2026-11-28T23:00:00Z).
NOW = 1_795_906_800.0
#: Where the console listens, as far as the Host header says.
BASE_URL = "http://127.0.0.1:8089"


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with await open_store("sqlite:///:memory:") as opened:
        yield opened


Connect = Callable[..., Any]


@pytest.fixture
def connect(store: Store) -> Connect:
    """`async with connect(settings, auth=...) as client`: a client of a console over the
    test's store."""

    @asynccontextmanager
    async def client(
        settings: Settings | None = None, deletions: Deletions | None = None, **options: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_console_app(
            settings or Settings(), store, deletions=deletions, clock=lambda: NOW
        )
        transport = httpx.ASGITransport(app=app)
        options.setdefault("base_url", BASE_URL)
        async with httpx.AsyncClient(transport=transport, **options) as opened:
            yield opened

    return client


def csrf_of(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def api_post(client: httpx.AsyncClient, path: str, document: Any) -> httpx.Response:
    """POST `document` to the console's JSON API with the CSRF token it hands out."""
    token = (await client.get("/api/csrf")).json()["token"]
    return await client.post(path, json=document, headers={"X-CSRF-Token": token})
