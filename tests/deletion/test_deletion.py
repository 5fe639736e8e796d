"""Deleting a person, over real HTTP against the sandbox: their contact goes from Intercom,
every trace of them from the store, and their later events are refused."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from msgspec.structs import replace
from rich.console import Console

from intercom_destination.commands.send import send
from intercom_destination.deletion import Deletions, open_deletions
from intercom_destination.delivery.engine import open_worker
from intercom_destination.delivery.worker import Worker
from intercom_destination.ingest import create_app
from intercom_destination.intercom import AiohttpTransport, Answer, Request, Transport
from intercom_destination.settings import Settings, settings_from
from intercom_destination.store import Deletion, Store, Subject, open_store
from intercom_destination.store.suppression import SuppressionList
from tests.answers import path_of, reply
from tests.conftest import POSTGRESQL
from tests.delivery.harness import new_events
from tests.waiting import until

pytestmark = pytest.mark.anyio

ADA, ADA_VISITOR, ADA_EMAIL = "ada-7f3e9c", "visitor-ada-51b2", "ada.7f3e9c@example.com"
BOB = "bob-2d8a41"


def ada_with_an_anonymous_past() -> list[dict[str, Any]]:
    return [
        {"type": "page", "anonymousId": ADA_VISITOR, "name": "Pricing"},
        {"type": "track", "anonymousId": ADA_VISITOR, "event": "Viewed Pricing"},
        {
            "type": "identify",
            "messageId": "identify-of-ada",
            "userId": ADA,
            "anonymousId": ADA_VISITOR,
            "traits": {"email": ADA_EMAIL, "name": "Ada Lovelace"},
        },
        {"type": "track", "userId": ADA, "event": "Order Completed", "properties": {"total": 5}},
        {"type": "group", "userId": ADA, "groupId": "acme", "traits": {"name": "Acme"}},
    ]


def bob() -> list[dict[str, Any]]:
    return [
        {"type": "identify", "userId": BOB, "traits": {"email": "bob@example.com"}},
        {"type": "track", "userId": BOB, "event": "Order Completed"},
    ]


@dataclass
class Setup:
    settings: Settings
    store: Store
    worker: Worker
    deletions: Deletions
    sandbox: str

    def contacts(self) -> list[dict[str, Any]]:
        state = httpx.get(f"{self.sandbox}/_sandbox/state").json()
        return state["contacts"]  # type: ignore[no-any-return]

    def external_ids(self) -> set[str]:
        return {contact.get("external_id") for contact in self.contacts()}

    async def deliver(self, objects: list[dict[str, Any]]) -> None:
        for event in new_events(objects):
            await self.store.enqueue([event])
        await self.worker.drain()

    async def delete(self, *subjects: Subject, suppress: bool = True) -> Deletion:
        return await self.deletions.run(await self.deletions.request(subjects, suppress=suppress))


@asynccontextmanager
async def setup(
    sandbox: str,
    database_url: str,
    transport: Transport | None = None,
    **values: str,
) -> AsyncIterator[Setup]:
    settings = settings_from(
        {"access_token": "test-token", "api_url": sandbox, "database_url": database_url} | values
    )
    async with (
        await open_store(database_url) as store,
        open_worker(settings, store, backoff_base=0.01, transport=transport) as worker,
        open_deletions(settings, store, suppression_lag=0.0, backoff_base=0.01) as deletions,
    ):
        yield Setup(settings, store, worker, deletions, sandbox)


@pytest.fixture(params=["sqlite-file", POSTGRESQL])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'store.db'}"


async def test_delete_and_suppress_leaves_nothing_of_the_person(
    sandbox: str, database_url: str, tmp_path: Path
) -> None:
    async with setup(sandbox, database_url) as it:
        await it.deliver(ada_with_an_anonymous_past() + bob())
        assert {ADA, BOB} <= it.external_ids()
        told = await it.store.story("identify-of-ada")
        assert told is not None
        assert told.traces  # what delivery traced of her goes too
        # A pending event of hers is erased too.
        await it.store.enqueue(new_events([{"type": "track", "userId": ADA, "event": "Later"}]))

        deletion = await it.delete(Subject("userId", ADA))

        assert deletion.state == "done"
        assert (deletion.done, deletion.subjects, deletion.error) == (1, (), None)
        assert deletion.events == 6  # her five delivered events and the pending one
        assert deletion.contacts >= 1
        assert it.external_ids() == {BOB}
        assert all(contact.get("email") != ADA_EMAIL for contact in it.contacts())
        assert await it.store.get_identity("external_id", ADA) is None
        assert await it.store.get_identity("external_id", BOB) is not None
        assert await it.store.count_events([ADA, ADA_VISITOR]) == 0
        assert await it.store.count_events([BOB]) == 2
        assert all(ADA not in row.lane for row in await it.store.outcomes())
        assert await it.store.story("identify-of-ada") is None
        recorded = await it.store.deletion(deletion.id)
        assert recorded is not None
        assert len(recorded.hashes) == 1
        assert ADA not in recorded.hashes[0]

        # Later events are refused, by ingest and by send, and counted; Bob's are taken.
        app = create_app(it.settings, it.store, suppressions=SuppressionList(it.store, refresh=0))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as client:
            answer = await client.post(
                "/v1/batch",
                json={
                    "batch": [
                        {"type": "track", "userId": ADA, "event": "Came Back"},
                        {"type": "page", "anonymousId": ADA_VISITOR, "name": "Home"},
                        {"type": "track", "userId": BOB, "event": "Came Back"},
                    ]
                },
            )
            metrics = (await client.get("/metrics")).text
        assert answer.status_code == 200
        assert "intercom_destination_ingest_events_suppressed_total 2.0" in metrics
        backfill = await send(
            it.settings,
            [json.dumps({"type": "identify", "userId": ADA, "traits": {"plan": "pro"}})],
            deliver=False,
            console=Console(file=io.StringIO()),
        )
        assert (backfill.suppressed, backfill.accepted) == (1, 0)
        assert await it.store.count_events([ADA, ADA_VISITOR]) == 0
        assert await it.store.count_events([BOB]) == 3

        if database_url.startswith("sqlite"):
            # Nothing of hers in any of the store's files: the database, its log, the
            # segments events arrived in.
            files = [f for f in tmp_path.rglob("*") if f.is_file()]
            assert any(f.suffix == ".segment" for f in files)
            for file in files:
                content = file.read_bytes()
                for trace in (ADA, ADA_VISITOR, ADA_EMAIL, "Ada Lovelace"):
                    assert trace.encode() not in content, (trace, file.name)


async def test_a_person_intercom_does_not_know_is_deleted_without_error(
    sandbox: str, tmp_path: Path
) -> None:
    async with setup(sandbox, f"sqlite:///{tmp_path / 'store.db'}") as it:
        deletion = await it.delete(Subject("userId", "nobody"), Subject("anonymousId", "anon"))

        assert (deletion.state, deletion.done, deletion.contacts) == ("done", 2, 0)


class HeldCreation:
    """Holds the worker's first request creating a contact until `release` is set."""

    def __init__(self) -> None:
        self._inner = AiohttpTransport()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, request: Request) -> Answer:
        if request.method == "POST" and path_of(request) == "/contacts":
            self.holding.set()
            await self.release.wait()
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_deletion_during_delivery_leaves_no_contact_behind(
    sandbox: str, tmp_path: Path
) -> None:
    held = HeldCreation()
    async with setup(sandbox, f"sqlite:///{tmp_path / 'store.db'}", transport=held) as it:
        await it.store.enqueue(new_events(ada_with_an_anonymous_past()[2:]))
        delivering = asyncio.create_task(it.worker.drain())
        await until(held.holding.is_set, "the worker creates her contact")
        fenced_off = asyncio.Event()
        fence = it.store.fence

        async def watched_fence(*args: Any, **kwargs: Any) -> list[str]:
            busy = await fence(*args, **kwargs)
            if busy:
                fenced_off.set()
            return busy

        it.store.fence = watched_fence  # type: ignore[method-assign]
        deleting = asyncio.create_task(it.delete(Subject("userId", ADA), suppress=False))
        # Fencing, it waits for the worker; without, it would be done before the contact is.
        await until(lambda: fenced_off.is_set() or deleting.done(), "the deletion waits or is done")

        held.release.set()
        deletion = await deleting
        await delivering

    assert deletion.state == "done"
    assert deletion.contacts == 1
    assert ADA not in it.external_ids()


class RefusingDeletes:
    """Intercom refusing the token for every DELETE, as it does when the token lost a scope."""

    def __init__(self) -> None:
        self._inner = AiohttpTransport()

    async def send(self, request: Request) -> Answer:
        if request.method == "DELETE":
            document = {"type": "error.list", "errors": [{"code": "unauthorized"}]}
            return reply(401, json=document)
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_failed_deletion_says_why_holds_the_lanes_and_can_be_run_again(
    sandbox: str, tmp_path: Path
) -> None:
    async with setup(sandbox, f"sqlite:///{tmp_path / 'store.db'}") as it:
        await it.deliver(ada_with_an_anonymous_past())
        await it.store.enqueue(new_events([{"type": "track", "userId": ADA, "event": "Later"}]))
        async with open_deletions(it.settings, it.store, transport=RefusingDeletes()) as refused:
            failed = await refused.run(
                await refused.request([Subject("userId", ADA)], suppress=False)
            )

        assert (failed.state, failed.done, failed.subjects) == ("failed", 0, ())
        assert failed.error is not None
        assert failed.error.startswith("Unauthorized: 401 unauthorized")
        assert ADA not in failed.error
        assert ADA in it.external_ids()
        # Her stored event stays away from Intercom until the deletion is run again.
        assert await it.store.lease("w", 10, 30, time.time()) == []

        deletion = await it.delete(Subject("userId", ADA), suppress=False)

        assert (deletion.state, deletion.contacts, deletion.events) == ("done", 1, 6)
        assert ADA not in it.external_ids()


async def test_requests_whose_process_stopped_are_found_and_run_to_the_end(
    sandbox: str, tmp_path: Path
) -> None:
    async with setup(sandbox, f"sqlite:///{tmp_path / 'store.db'}") as it:
        await it.deliver(bob())
        pending = await it.deletions.request([Subject("userId", BOB)], suppress=False)
        stopped = await it.deletions.request([Subject("userId", "nobody")], suppress=True)
        await it.store.record_deletion(replace(stopped, state="running"))
        finished = await it.delete(Subject("userId", "someone"))

        unfinished = await it.deletions.unfinished()
        assert [request.id for request in unfinished] == [pending.id, stopped.id]
        assert all(request.subjects for request in unfinished)
        ended = [await it.deletions.run(request) for request in unfinished]

        assert [request.state for request in ended] == ["done", "done"]
        assert await it.deletions.unfinished() == []
        assert BOB not in it.external_ids()
        assert finished.id not in {request.id for request in unfinished}


async def test_leads_are_found_by_what_the_store_knows_of_the_anonymous_id(
    sandbox: str, tmp_path: Path
) -> None:
    async with setup(
        sandbox, f"sqlite:///{tmp_path / 'store.db'}", anonymous="lead", unidentified="lead"
    ) as it:
        visitor = {"anonymousId": ADA_VISITOR}
        # Her identify makes a lead known by its email, her track one known by her anonymousId.
        await it.deliver(
            [
                {"type": "identify", **visitor, "traits": {"email": ADA_EMAIL}},
                {"type": "track", **visitor, "event": "Viewed Pricing"},
                *bob(),
            ]
        )
        assert sorted(contact["role"] for contact in it.contacts()) == ["lead", "lead", "user"]

        deletion = await it.delete(Subject("anonymousId", ADA_VISITOR))

        assert (deletion.state, deletion.contacts, deletion.events) == ("done", 2, 2)
        assert it.external_ids() == {BOB}
        assert await it.store.get_identity("anonymous_id", ADA_VISITOR) is None
        assert await it.store.get_identity("email", ADA_EMAIL) is None
