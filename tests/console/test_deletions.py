"""Deleting people through the console's API: a request, run in the background, whose
progress is read back; answers never name the people."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from intercom_destination.deletion import Deletions, open_deletions
from intercom_destination.sandbox import SandboxConfig
from intercom_destination.sandbox import create_app as create_sandbox
from intercom_destination.settings import Secret, Settings
from intercom_destination.store import Store
from tests.answers import InProcess
from tests.console.conftest import Connect
from tests.store.helpers import event
from tests.waiting import until

pytestmark = pytest.mark.anyio

ADA = "ada-5c1f0e"
SETTINGS = Settings(api_url="http://sandbox.test", access_token=Secret("sandbox-token"))


@pytest.fixture
async def deletions(store: Store) -> AsyncIterator[Deletions]:
    transport = InProcess(create_sandbox(SandboxConfig()))
    async with open_deletions(SETTINGS, store, transport=transport, suppression_lag=0) as opened:
        yield opened


async def test_a_deletion_runs_and_its_progress_is_read_back(
    store: Store, connect: Connect, deletions: Deletions
) -> None:
    await store.enqueue([event("m1", user_id=ADA), event("m2", user_id="bob")])
    async with connect(SETTINGS, deletions) as client:
        token = (await client.get("/api/csrf")).json()["token"]
        accepted = await client.post(
            "/api/deletions", json={"userIds": [ADA]}, headers={"X-CSRF-Token": token}
        )
        assert accepted.status_code == 202
        assert accepted.json()["state"] == "pending"
        assert accepted.json()["people"] == 1
        path = f"/api/deletions/{accepted.json()['id']}"

        async def finished() -> dict[str, object] | None:
            answer = (await client.get(path)).json()
            return answer if answer["state"] in ("done", "failed") else None

        done = await until(finished, "the deletion ends")
    assert done["state"] == "done"
    assert (done["done"], done["events"]) == (1, 1)
    assert ADA not in accepted.text + str(done)
    [lease] = await store.lease("w", 10, 30, time.time())
    assert lease.event.message_id == "m2"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "userIds, anonymousIds: name at least one person"),
        ({"userIds": "ada"}, "userIds: must be a list of ids"),
        ({"userIds": [""]}, "userIds[0]: an id must be a non-empty string"),
        ({"userIds": ["ada"], "suppress": "yes"}, "suppress: must be true or false"),
    ],
)
async def test_a_bad_request_is_named(
    connect: Connect, deletions: Deletions, body: dict[str, object], problem: str
) -> None:
    async with connect(SETTINGS, deletions) as client:
        token = (await client.get("/api/csrf")).json()["token"]
        answer = await client.post("/api/deletions", json=body, headers={"X-CSRF-Token": token})
    assert answer.status_code == 400
    assert answer.json() == {"error": problem}


async def test_a_deletion_needs_the_csrf_token_and_the_password(
    connect: Connect, deletions: Deletions
) -> None:
    settings = Settings(
        api_url="http://sandbox.test",
        access_token=Secret("sandbox-token"),
        console_password=Secret("pw"),
    )
    async with connect(settings, deletions, auth=("", "pw")) as client:
        forged = await client.post("/api/deletions", json={"userIds": [ADA]})
    async with connect(settings, deletions) as client:
        anonymous = await client.post("/api/deletions", json={"userIds": [ADA]})
        unknown = await client.get("/api/deletions/1")
    assert forged.status_code == 403
    assert anonymous.status_code == unknown.status_code == 401


async def test_an_unknown_request_is_a_404(connect: Connect, deletions: Deletions) -> None:
    async with connect(SETTINGS, deletions) as client:
        answer = await client.get("/api/deletions/41")
    assert answer.status_code == 404
    assert answer.json() == {"error": "no deletion request 41"}


async def test_without_intercom_deletions_say_what_they_need(connect: Connect) -> None:
    async with connect() as client:
        token = (await client.get("/api/csrf")).json()["token"]
        answer = await client.post(
            "/api/deletions", json={"userIds": [ADA]}, headers={"X-CSRF-Token": token}
        )
    assert answer.status_code == 503
    assert "INTERCOM_ACCESS_TOKEN" in answer.json()["error"]


async def test_without_intercom_a_forged_deletion_is_still_refused_as_forged(
    connect: Connect,
) -> None:
    async with connect() as client:
        forged = await client.post("/api/deletions", json={"userIds": [ADA]})
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["error"]
