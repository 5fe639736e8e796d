"""A company many users' lanes write ends as its newest events say, in whatever order the
lanes deliver them (against a live sandbox over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from intercom_destination.delivery.engine import open_worker
from intercom_destination.intercom import AiohttpTransport, Answer, Request
from intercom_destination.settings import settings_from
from intercom_destination.store import open_store
from tests.answers import path_of, reply
from tests.delivery.harness import Recording, harness, new_events
from tests.events import group, identify

pytestmark = pytest.mark.anyio

USERS = [identify(user, f"{user}@example.com") for user in ("u1", "u2", "u3")]


def company(sandbox: str, company_id: str) -> dict[str, Any]:
    companies = httpx.get(f"{sandbox}/_sandbox/state").json()["companies"]
    [found] = [c for c in companies if c["company_id"] == company_id]
    return found  # type: ignore[no-any-return]


def upserts(sandbox: str) -> dict[str, int]:
    """The company upserts the sandbox answered, by status."""
    return httpx.get(f"{sandbox}/_sandbox/calls").json()["counts"]["POST /companies"]  # type: ignore[no-any-return]


async def test_an_older_group_call_delivered_last_leaves_the_newer_values(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(*USERS)
        await h.deliver(group("u2", "c-1", 30, name="Initech", plan="enterprise", employees=50))
        # Older calls from other users' lanes, delivered after it: one names a field the
        # newer call did not (industry), which stands; one says nothing newer at all.
        await h.deliver(group("u1", "c-1", 20, plan="free", employees=10, industry="Retail"))
        await h.deliver(group("u3", "c-1", 10, plan="team"))

        found = company(sandbox, "c-1")
        assert (found["name"], found["plan"], found["size"], found["industry"]) == (
            "Initech",
            "enterprise",
            50,
            "Retail",
        )
        assert upserts(sandbox) == {"200": 2}
        for user in ("u1", "u2", "u3"):
            assert h.contact(user)["company_ids"] == [found["id"]]


async def test_identify_traits_company_follows_the_same_order(sandbox: str) -> None:
    async with harness(sandbox) as h:
        newer = identify("u2", "u2@example.com", company={"id": "c-1", "plan": "enterprise"})
        await h.deliver({**newer, "timestamp": "2026-11-28T10:00:30Z"})
        await h.deliver(group("u1", "c-1", 20, plan="free", website="https://initech.example"))

        found = company(sandbox, "c-1")
        assert (found["plan"], found["website"]) == ("enterprise", "https://initech.example")


Hook = Callable[[Request], Awaitable[Answer | None]]


class _Hooked:
    """Real HTTP, except that each `POST /companies` goes through `hook` first, whose answer
    (if any) replaces the sandbox's."""

    def __init__(self, hook: Hook) -> None:
        self._http = AiohttpTransport()
        self._hook = hook

    async def send(self, request: Request) -> Answer:
        if (request.method, path_of(request)) == ("POST", "/companies"):
            answer = await self._hook(request)
            if answer is not None:
                return answer
        return await self._http.send(request)

    async def aclose(self) -> None:
        await self._http.aclose()


async def test_an_older_upsert_overtaken_in_flight_is_followed_by_the_newest(
    sandbox: str,
) -> None:
    """The older event's worker has merged and is sending when a newer event's worker merges,
    sends and is answered; the older send then lands last, and is sent again as the newest."""
    settings = settings_from(
        {"access_token": "test-token", "api_url": sandbox, "database_url": "sqlite:///:memory:"}
    )
    async with (
        await open_store(settings.database_url) as store,
        open_worker(settings, store) as newer_worker,
    ):
        newer = [group("u2", "c-1", 30, plan="enterprise", employees=50)]

        async def deliver_the_newer_call_first(_: Request) -> None:
            if newer:
                await store.enqueue(new_events([newer.pop()]))
                await newer_worker.step()
                await newer_worker.settle()

        transport = _Hooked(deliver_the_newer_call_first)
        async with open_worker(settings, store, transport=transport) as older_worker:
            await store.enqueue(new_events(USERS[:2]))
            await older_worker.drain()
            older = group("u1", "c-1", 20, plan="free", employees=10, industry="Retail")
            await store.enqueue(new_events([older]))
            await older_worker.drain()

    found = company(sandbox, "c-1")
    assert (found["plan"], found["size"], found["industry"]) == ("enterprise", 50, "Retail")
    # The older state, the newer, then the newer again once the older one's send was answered.
    assert upserts(sandbox) == {"200": 3}


async def refuse_one_industry(request: Request) -> Answer | None:
    """Intercom's 422 for an upsert whose industry is "Refused"; the sandbox answers others."""
    if json.loads(request.body or b"{}").get("industry") != "Refused":
        return None
    error = {"code": "parameter_invalid", "message": "Industry is invalid", "field": "industry"}
    return reply(422, json={"type": "error.list", "errors": [error]})


async def test_values_intercom_refuses_do_not_ride_along_with_later_calls(sandbox: str) -> None:
    async with harness(sandbox, transport=_Hooked(refuse_one_industry)) as h:
        await h.deliver(*USERS[:2])
        await h.deliver(group("u1", "c-1", 10, plan="free", industry="Refused"))
        await h.deliver(group("u2", "c-1", 20, plan="team"))

        [latest, refused, *_] = await h.store.outcomes()
        assert (refused.outcome, latest.outcome) == ("dead", "delivered")
        assert "Industry is invalid" in (refused.reason or "")
        found = company(sandbox, "c-1")
        assert (found["plan"], found["industry"]) == ("team", None)


def company_bodies(recording: Recording) -> list[dict[str, Any]]:
    return recording.bodies("POST", "/companies")


async def test_an_upsert_sends_only_what_differs_from_what_intercom_holds(sandbox: str) -> None:
    recording = Recording()
    async with harness(sandbox, transport=recording) as h:
        await h.deliver(*USERS[:2])
        await h.deliver(group("u1", "c-1", 10, name="Initech", plan="free", employees=10))
        await h.deliver(group("u2", "c-1", 20, name="Initech", plan="team", employees=10, tier=1))
        # A repeat of what Intercom holds sends nothing.
        await h.deliver(group("u1", "c-1", 30, name="Initech", plan="team"))

        first, second = company_bodies(recording)
        assert first == {"company_id": "c-1", "name": "Initech", "plan": "free", "size": 10}
        assert second == {"company_id": "c-1", "plan": "team", "custom_attributes": {"tier": 1}}
        found = company(sandbox, "c-1")
        assert (found["name"], found["plan"], found["size"]) == ("Initech", "team", 10)
        assert found["custom_attributes"] == {"tier": 1}


async def test_a_company_intercom_lost_is_sent_its_whole_state(sandbox: str) -> None:
    recording = Recording()
    async with harness(sandbox, transport=recording) as h:
        await h.deliver(USERS[0])
        await h.deliver(group("u1", "c-1", 10, name="Initech", plan="free"))
        httpx.delete(f"{sandbox}/_sandbox/companies/{company(sandbox, 'c-1')['id']}")
        await h.deliver(group("u1", "c-1", 20, plan="team"))

        assert company_bodies(recording)[-2:] == [
            {"company_id": "c-1", "plan": "team"},
            {"company_id": "c-1", "name": "Initech", "plan": "team"},
        ]
        found = company(sandbox, "c-1")
        assert (found["name"], found["plan"]) == ("Initech", "team")
        assert h.contact("u1")["company_ids"] == [found["id"]]


async def test_a_lanes_upserts_of_a_company_go_as_one_call(sandbox: str) -> None:
    recording = Recording()
    async with harness(sandbox, transport=recording) as h:
        await h.deliver(USERS[0])
        await h.deliver(
            group("u1", "c-1", 20, name="Initech", plan="free"),
            group("u1", "c-1", 10, plan="older", employees=10),
            group("u1", "c-1", 30, plan="team"),
        )

        assert company_bodies(recording) == [
            {"company_id": "c-1", "name": "Initech", "plan": "team", "size": 10}
        ]
        rows = await h.store.outcomes()
        assert [row.outcome for row in rows if row.type == "group"] == ["delivered"] * 3


async def test_a_send_overtaken_by_an_unchanged_one_is_followed_by_the_newest_values(
    sandbox: str,
) -> None:
    """The older event's worker sends `plan: pro` when a newer event's worker merges `plan:
    free`, which Intercom was confirmed to hold: it sends nothing and confirms. The older
    send then lands last; its worker's re-send names `plan` though the newest state does not
    differ there from the confirmed one, and Intercom ends with `free`."""
    settings = settings_from(
        {"access_token": "test-token", "api_url": sandbox, "database_url": "sqlite:///:memory:"}
    )
    async with (
        await open_store(settings.database_url) as store,
        open_worker(settings, store) as newer_worker,
    ):
        newer = [group("u2", "c-1", 30, plan="free")]
        recording = Recording()

        async def deliver_the_newer_call_first(request: Request) -> None:
            if newer and json.loads(request.body or b"{}").get("plan") == "pro":
                await store.enqueue(new_events([newer.pop()]))
                await newer_worker.step()
                await newer_worker.settle()
            recording.requests.append(("POST", "/companies", json.loads(request.body or b"{}")))

        transport = _Hooked(deliver_the_newer_call_first)
        async with open_worker(settings, store, transport=transport) as older_worker:
            await store.enqueue(new_events([*USERS[:2], group("u1", "c-1", 10, plan="free")]))
            await older_worker.drain()
            await store.enqueue(new_events([group("u1", "c-1", 20, plan="pro")]))
            await older_worker.drain()

    assert company(sandbox, "c-1")["plan"] == "free"
    assert company_bodies(recording) == [
        {"company_id": "c-1", "plan": "free"},
        {"company_id": "c-1", "plan": "pro"},
        {"company_id": "c-1", "plan": "free"},
    ]


async def test_a_value_refused_in_a_coalesced_upsert_kills_only_its_own_event(
    sandbox: str,
) -> None:
    async with harness(sandbox, transport=_Hooked(refuse_one_industry)) as h:
        await h.deliver(USERS[0])
        await h.deliver(
            group("u1", "c-1", 10, plan="free", industry="Refused"),
            group("u1", "c-1", 20, plan="team"),
        )

        groups = [row for row in await h.store.outcomes() if row.type == "group"]
        assert sorted(row.outcome for row in groups) == ["dead", "delivered"]
        found = company(sandbox, "c-1")
        assert (found["plan"], found["industry"]) == ("team", None)
        assert h.contact("u1")["company_ids"] == [found["id"]]
