"""Intercom's state changes without us: another workspace, a contact or company deleted. The
identity cache follows, and events go on to Intercom rather than waiting for nothing; an
event that never reached Intercom takes no event name from its budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from intercom_destination.intercom import AiohttpTransport, Answer, Request
from tests.answers import path_of, reply
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


def delete_contact(h: Harness, external_id: str) -> None:
    contact_id = h.contact(external_id)["id"]
    httpx.delete(
        f"{h.sandbox}/contacts/{contact_id}", headers={"Authorization": "Bearer test-token"}
    ).raise_for_status()


async def test_a_deleted_contact_is_recreated_from_what_was_last_sent(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(IDENTIFY)
        delete_contact(h, "u1")
        await h.deliver(IDENTIFY, track("u1", "Order Completed", 1))
        contact = h.contact("u1")
        assert (contact["email"], contact["name"]) == ("ada@example.com", "Ada")
        assert contact["custom_attributes"] == {"plan": "pro"}
        assert [e["event_name"] for e in h.events_of("u1")] == ["Order Completed"]
        assert await settled(h) == (0, 0, 0)


def companies_of(h: Harness, external_id: str) -> list[str]:
    companies = {c["id"]: c["company_id"] for c in h.state()["companies"]}
    return [companies[c] for c in h.contact(external_id)["company_ids"]]


async def test_a_deleted_contact_identified_anew_rejoins_its_company(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(IDENTIFY, group("u1", "c-1"))
        delete_contact(h, "u1")
        await h.deliver({**IDENTIFY, "traits": {**IDENTIFY["traits"], "plan": "team"}})
        await h.deliver(group("u1", "c-1"))
        assert h.contact("u1")["custom_attributes"] == {"plan": "team"}
        assert companies_of(h, "u1") == ["c-1"]


async def test_a_deleted_contact_is_recreated_to_join_a_company(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(IDENTIFY, group("u1", "c-1"))
        delete_contact(h, "u1")
        await h.deliver(group("u1", "c-2"))
        assert h.contact("u1")["custom_attributes"] == {"plan": "pro"}
        assert companies_of(h, "u1") == ["c-2"]
        # The new contact is not in the company the old one was: the next group puts it there.
        await h.deliver(group("u1", "c-1"))
        assert companies_of(h, "u1") == ["c-2", "c-1"]
        assert await settled(h) == (0, 0, 0)


class Merged:
    """Intercom 2.16 on a contact merged into another: 410, with the canonical one's id in a
    `Link` header when `link`, where the sandbox (which cannot merge) answers 404."""

    def __init__(self, merged: str, canonical: str, *, link: bool) -> None:
        self._network = AiohttpTransport()
        self._merged = f"/contacts/{merged}"
        self._link = f'</contacts/{canonical}>; rel="canonical"' if link else None

    async def send(self, request: Request) -> Answer:
        answer = await self._network.send(request)
        if answer.status != 404 or not path_of(request).startswith(self._merged):
            return answer
        error = {"code": "contact_merged", "message": "This contact has been merged."}
        headers = {"Link": self._link} if self._link else {}
        return reply(410, headers=headers, json={"type": "error.list", "errors": [error]})

    async def aclose(self) -> None:
        await self._network.aclose()


async def merge_away(h: Harness, external_id: str) -> tuple[str, str]:
    """As Intercom merging the contact into another that takes its userId: both ids."""
    merged = h.contact(external_id)["id"]
    delete_contact(h, external_id)
    canonical = httpx.post(
        f"{h.sandbox}/contacts",
        json={"external_id": external_id},
        headers={"Authorization": "Bearer test-token"},
    ).json()["id"]
    return merged, canonical


@asynccontextmanager
async def merged_away(sandbox: str, tmp_path: Path, *, link: bool) -> AsyncIterator[Harness]:
    """A harness whose store delivered u1, after Intercom merged u1 into another contact."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    async with harness(sandbox, database_url=store) as h:
        await h.deliver(IDENTIFY)
        merged, canonical = await merge_away(h, "u1")
    async with harness(
        sandbox, transport=Merged(merged, canonical, link=link), database_url=store
    ) as h:
        yield h


@pytest.mark.parametrize("link", [True, False])
async def test_a_merged_contact_is_followed_to_the_one_it_was_merged_into(
    sandbox: str, tmp_path: Path, link: bool
) -> None:
    async with merged_away(sandbox, tmp_path, link=link) as h:
        await h.deliver({**IDENTIFY, "traits": {**IDENTIFY["traits"], "plan": "team"}})
        await h.deliver(group("u1", "c-1"))
        contact = h.contact("u1")
        assert contact["custom_attributes"] == {"plan": "team"}
        assert len(contact["company_ids"]) == 1
        assert await settled(h) == (0, 0, 0)


@pytest.mark.slow
async def test_a_contact_merged_away_joins_a_company_as_the_one_it_was_merged_into(
    sandbox: str, tmp_path: Path
) -> None:
    async with merged_away(sandbox, tmp_path, link=False) as h:
        await h.deliver(group("u1", "c-1"))
        contact = h.contact("u1")
        assert contact["custom_attributes"] == {"plan": "pro"}
        assert len(contact["company_ids"]) == 1
        assert await settled(h) == (0, 0, 0)


async def test_a_deleted_company_is_recreated_from_what_was_last_sent(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(IDENTIFY, group("u1", "c-1"))
        [company] = h.state()["companies"]
        httpx.delete(f"{sandbox}/_sandbox/companies/{company['id']}").raise_for_status()
        await h.deliver(identify("u2", "bob@example.com"), group("u2", "c-1"))
        [company] = h.state()["companies"]
        assert (company["name"], company["plan"], company["size"]) == ("Initech", "enterprise", 420)
        assert companies_of(h, "u2") == ["c-1"]
        # Its users left it with the deletion: each one's next group puts them back.
        assert companies_of(h, "u1") == []
        await h.deliver(group("u1", "c-1"))
        assert companies_of(h, "u1") == ["c-1"]
        assert await settled(h) == (0, 0, 0)


class LostAttribute:
    """Intercom refusing the first contact write: its attribute `plan` does not exist (an
    admin archived it after the worker read the workspace's attributes, say)."""

    def __init__(self) -> None:
        self._network = AiohttpTransport()
        self.refused = False

    async def send(self, request: Request) -> Answer:
        if self.refused or not path_of(request).startswith("/contacts"):
            return await self._network.send(request)
        self.refused = True
        error = {"code": "parameter_invalid", "message": "Custom attribute 'plan' does not exist"}
        return reply(400, json={"type": "error.list", "errors": [error]})

    async def aclose(self) -> None:
        await self._network.aclose()


async def test_a_contact_refused_for_an_unknown_attribute_is_sent_again_after_a_refresh(
    sandbox: str,
) -> None:
    lost = LostAttribute()
    async with harness(sandbox, transport=lost) as h:
        await h.deliver(IDENTIFY)
        assert lost.refused
        assert h.contact("u1")["custom_attributes"] == {"plan": "pro"}
        # The attributes read once more, then the contact created.
        assert h.counts()["GET /data_attributes"] == {"200": 2}
        assert h.counts()["POST /contacts"] == {"200": 1}
        assert await settled(h) == (0, 0, 0)


async def test_an_event_waiting_for_its_visitors_identify_takes_no_name_slot_yet(
    sandbox: str,
) -> None:
    visitor_track = {
        "type": "track",
        "anonymousId": "v-1",
        "event": "Viewed Pricing",
        "timestamp": "2026-11-28T10:00:05Z",
    }
    async with harness(sandbox, max_event_names=1) as h:
        await h.deliver(IDENTIFY, track("u1", "Order Completed", 1))
        await h.deliver(visitor_track)
        # The budget is full, but the event cannot be sent yet anyway: it waits rather than
        # being refused a slot it did not need yet (it is judged when its user is known).
        assert await settled(h) == (0, 1, 0)
        assert await h.store.event_names() == ["order completed"]


async def test_an_event_name_holds_a_slot_only_once_intercom_accepted_it(sandbox: str) -> None:
    async with harness(sandbox, unknown_contact="dead", max_event_names=1) as h:
        await h.deliver(track("nobody", "Never Arrived", 0))
        assert await settled(h) == (0, 0, 1)
        await h.deliver(IDENTIFY, track("u1", "Order Completed", 1))
        assert [e["event_name"] for e in h.events_of("u1")] == ["Order Completed"]
        assert await h.store.event_names() == ["order completed"]
