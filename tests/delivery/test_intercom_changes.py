"""Intercom's state changes without us: another workspace. The identity cache follows, and
events go on to Intercom rather than waiting for nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.delivery.harness import Harness, harness
from tests.events import identify, track

pytestmark = pytest.mark.anyio

IDENTIFY = identify("u1", "ada@example.com", name="Ada", plan="pro")


def group(user: str, company: str) -> dict[str, Any]:
    traits = {"name": "Initech", "plan": "enterprise", "employees": 420}
    return {"type": "group", "userId": user, "groupId": company, "traits": traits}


async def settled(h: Harness) -> tuple[int, int, int]:
    status = await h.store.status(h.clock())
    return status.backlog, status.parked, status.dead


async def test_a_store_used_with_another_workspace_starts_from_an_empty_cache(
    sandbox: str, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    async with harness(sandbox, database_url=store) as h:
        await h.deliver(IDENTIFY, track("u1", "Order Completed", 1))
    # A sandbox reset is a new workspace, as a new token or region would be.
    httpx.post(f"{sandbox}/_sandbox/reset").raise_for_status()
    async with harness(sandbox, database_url=store) as h:
        await h.deliver(IDENTIFY, track("u1", "Order Completed", 1))
        contact = h.contact("u1")
        assert (contact["name"], contact["custom_attributes"]) == ("Ada", {"plan": "pro"})
        assert [e["event_name"] for e in h.events_of("u1")] == ["Order Completed"]
        assert await settled(h) == (0, 0, 0)


async def test_a_restart_against_the_same_workspace_keeps_the_cache(
    sandbox: str, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    async with harness(sandbox, database_url=store) as h:
        await h.deliver(IDENTIFY)
    async with harness(sandbox, database_url=store) as h:
        before = h.counts()
        await h.deliver(IDENTIFY)
        [latest, *_] = await h.store.outcomes()
        assert latest.outcome == "skipped"
    # Each process asks once for the workspace and its attributes; the identify made no call.
    once_more = {"GET /me": {"200": 2}, "GET /data_attributes": {"200": 2}}
    assert h.counts() == before | once_more
