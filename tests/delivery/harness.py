"""Delivery against a live sandbox: a store, a worker, and ways to look at both."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any

import httpx

from intercom_destination.delivery.engine import open_worker
from intercom_destination.delivery.worker import Worker
from intercom_destination.intercom import AiohttpTransport, Answer, Request, Transport
from intercom_destination.settings import settings_from
from intercom_destination.spec import InvalidEvent, decode_event
from intercom_destination.store import Enqueued, NewEvent, Store, new_event, open_store
from tests.answers import path_of

_ids = count()


def new_events(objects: list[dict[str, Any]], received_at: float | None = None) -> list[NewEvent]:
    """Events as ingest would store them."""
    at = received_at if received_at is not None else time.time()
    events = []
    for obj in objects:
        event = decode_event(
            obj,
            received_at=datetime.fromtimestamp(at, UTC),
            make_message_id=lambda: f"generated-{next(_ids)}",
        )
        assert not isinstance(event, InvalidEvent), event
        events.append(new_event(event, at))
    return events


class Recording:
    """Real HTTP, keeping each request's method, path and JSON body."""

    def __init__(self) -> None:
        self._http = AiohttpTransport()
        self.requests: list[tuple[str, str, Any]] = []

    def bodies(self, method: str, path_start: str) -> list[Any]:
        """The bodies of the requests with this method whose path starts with `path_start`."""
        return [
            body for m, path, body in self.requests if m == method and path.startswith(path_start)
        ]

    async def send(self, request: Request) -> Answer:
        body = json.loads(request.body) if request.body else None
        self.requests.append((request.method, path_of(request), body))
        return await self._http.send(request)

    async def aclose(self) -> None:
        await self._http.aclose()


class Clock:
    """Real time plus a controllable offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Harness:
    store: Store
    worker: Worker
    sandbox: str
    clock: Clock

    async def send(self, *objects: dict[str, Any]) -> list[Enqueued]:
        return await self.store.enqueue(new_events(list(objects), self.clock()))

    async def deliver(self, *objects: dict[str, Any]) -> None:
        await self.send(*objects)
        await self.worker.drain()

    async def upkeep_after(self, seconds: float) -> None:
        """The worker's upkeep (dead-lettering events that waited too long) `seconds` from now."""
        self.clock.offset = seconds
        await self.worker.upkeep(self.clock())

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.sandbox}/_sandbox/state").json()  # type: ignore[no-any-return]

    def counts(self) -> dict[str, dict[str, int]]:
        """Calls the sandbox answered, by endpoint and status."""
        document = httpx.get(f"{self.sandbox}/_sandbox/calls").json()
        return document["counts"]  # type: ignore[no-any-return]

    def total_calls(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.counts().values())

    def control(self, what: str, document: dict[str, Any]) -> None:
        httpx.post(f"{self.sandbox}/_sandbox/{what}", json=document).raise_for_status()

    def contact(self, external_id: str) -> dict[str, Any]:
        [contact] = [c for c in self.state()["contacts"] if c.get("external_id") == external_id]
        return contact

    def events_of(self, external_id: str) -> list[dict[str, Any]]:
        contact_id = self.contact(external_id)["id"]
        return [e for e in self.state()["events"] if e["contact_id"] == contact_id]


@asynccontextmanager
async def harness(
    sandbox: str, *, transport: Transport | None = None, **values: Any
) -> AsyncIterator[Harness]:
    """A harness delivering to `sandbox` (through `transport`, to see or change the calls)."""
    settings = settings_from(
        {"access_token": "test-token", "api_url": sandbox, "database_url": "sqlite:///:memory:"}
        | values
    )
    clock = Clock()
    store = await open_store(settings.database_url)
    try:
        async with open_worker(
            settings,
            store,
            clock=clock,
            backoff_base=0.01,
            transport=transport,
            auth_pause=0.5,
        ) as worker:
            yield Harness(store, worker, sandbox, clock)
    finally:
        await store.close()
