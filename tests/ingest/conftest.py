"""The ingest app on an in-memory store, reached through httpx's ASGI transport (or over real
HTTP where the transport matters), with a fixed clock and predictable generated messageIds."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from intercom_destination.deadlines import Deadlines
from intercom_destination.ingest import create_app, new_registry
from intercom_destination.serving import bind, serving_alongside
from intercom_destination.settings import Secret, Settings
from intercom_destination.store import Store, open_store

#: The write keys the recorded client requests carry.
WRITE_KEYS = ("WRITEKEY_PY", "WRITEKEY_NODE", "WRITEKEY_AJS")
#: When the app receives every request (2026-11-28T23:00:00Z, just after the recordings).
NOW = 1_795_906_800.0


def settings(**values: Any) -> Settings:
    """Settings accepting the recorded write keys, unless `write_keys` says otherwise."""
    values.setdefault("write_keys", tuple(Secret(key) for key in WRITE_KEYS))
    return Settings(**values)


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with await open_store("sqlite:///:memory:") as opened:
        yield opened


class Ingest:
    """An app under test, its clock and its metrics."""

    def __init__(self, store: Store, settings: Settings, now: float = NOW) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.registry = new_registry()
        counter = itertools.count(1)
        self.app: Starlette = create_app(
            settings,
            store,
            clock=lambda: self.now,
            make_message_id=lambda: f"generated-{next(counter)}",
            registry=self.registry,
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(f"intercom_destination_{name}", labels)
        return 0.0 if value is None else value

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client of the running app (its lifespan entered), as if from a browser's fetch
        or a server library: `http://testserver`."""
        async with (
            self.app.router.lifespan_context(self.app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://testserver"
            ) as client,
        ):
            yield client


MakeIngest = Callable[..., Ingest]


@pytest.fixture
def make_ingest(store: Store) -> MakeIngest:
    """`make_ingest(max_backlog=2, ...)`: an app with these settings over the test's store."""

    def make(*, now: float = NOW, **values: Any) -> Ingest:
        return Ingest(store, settings(**values), now)

    return make


@pytest.fixture
def ingest(make_ingest: MakeIngest) -> Ingest:
    return make_ingest()


@pytest.fixture
async def client(ingest: Ingest) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest.client() as opened:
        yield opened


@asynccontextmanager
async def serving(app: Starlette, deadlines: Deadlines | None = None) -> AsyncIterator[str]:
    """`app` served as the commands serve it, on a free loopback port, in this event loop;
    its base URL. Requests are held to `deadlines` (the settings' defaults if None)."""
    sock, url = bind("127.0.0.1", 0)
    async with serving_alongside(app, sock, deadlines or Deadlines.of(Settings())):
        yield url


Drain = Callable[[], Awaitable[list[dict[str, Any]]]]
