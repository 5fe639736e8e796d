"""A lane's backlog is delivered as runs whose contact updates are coalesced, leaving the
sandbox as one-by-one delivery does (against a live sandbox over HTTP)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest

from intercom_destination.delivery.digests import decode_body, digest
from intercom_destination.intercom import AiohttpTransport, Answer, Request
from tests.answers import path_of, reply
from tests.delivery.harness import Harness, Recording, harness
from tests.events import identify, track

pytestmark = pytest.mark.anyio


def backlog(user: str) -> list[dict[str, Any]]:
    email = f"{user}@example.com"
    return [
        identify(user, email, plan="free", logins=1),
        track(user, "Logged In", 1),
        {**identify(user, email, logins=2), "timestamp": "2026-11-28T11:00:00Z"},
        track(user, "Report Exported", 2, pages=3),
        {**identify(user, email, plan="pro"), "timestamp": "2026-11-28T12:30:00Z"},
    ]


def seen(h: Harness, user: str) -> dict[str, Any]:
    """What the sandbox holds of the user: the contact's fields and its events, in order."""
    contact = h.contact(user)
    kept = ("email", "name", "last_seen_at", "custom_attributes", "role")
    return {
        "contact": {field: contact.get(field) for field in kept},
        "events": [(e["event_name"], e["created_at"], e["metadata"]) for e in h.events_of(user)],
    }


def contact_calls(h: Harness) -> int:
    counts = h.counts()
    return sum(
        sum(counts.get(endpoint, {}).values())
        for endpoint in ("POST /contacts", "PUT /contacts/{contact_id}")
    )


async def test_a_backlog_ends_as_one_by_one_delivery_with_one_contact_call(sandbox: str) -> None:
    async with harness(sandbox) as h:
        for event in backlog("u1"):
            await h.deliver(event)
        one_by_one = seen(h, "u1")
        calls_one_by_one = contact_calls(h)
    httpx.post(f"{sandbox}/_sandbox/reset").raise_for_status()
    async with harness(sandbox) as h:
        await h.deliver(*backlog("u1"))

        assert seen(h, "u1") == one_by_one
        assert seen(h, "u1")["contact"]["custom_attributes"] == {"plan": "pro", "logins": 2}
        assert contact_calls(h) == 1 < calls_one_by_one
        rows = {row.message_id: row for row in await h.store.outcomes()}
        assert [row.outcome for row in rows.values()] == ["delivered"] * 5
        identifies = [rows[row_id] for row_id in rows if rows[row_id].type == "identify"]
        # The first carried all three (its calls include reading and creating attributes).
        assert sorted(row.calls > 0 for row in identifies) == [False, False, True]
        folded = [row for row in identifies if row.calls == 0]
        assert all(
            "its contact update went with the call of event" in (r.reason or "") for r in folded
        )


async def test_a_server_error_on_the_coalesced_call_loses_nothing(sandbox: str) -> None:
    async with harness(sandbox) as h:
        h.control(
            "faults",
            {
                "error_rate": 1.0,
                "max_errors": 1,
                "error_statuses": [500],
                "endpoints": ["POST /contacts"],
            },
        )
        await h.deliver(*backlog("u1"))

        assert seen(h, "u1")["contact"]["custom_attributes"] == {"plan": "pro", "logins": 2}
        assert len(h.events_of("u1")) == 2
        rows = await h.store.outcomes()
        assert sorted(row.outcome for row in rows) == ["delivered"] * 5 + ["retry"]
        [retried] = [row for row in rows if row.outcome == "retry"]
        assert (retried.reason or "").startswith("POST /contacts")
        status = await h.store.status(h.clock())
        assert (status.backlog, status.parked, status.dead) == (0, 0, 0)


class _RefusingPlan:
    """Real HTTP, except that a contact create or update setting an attribute to "refused" is
    answered 400, as Intercom answers a value it will not take."""

    def __init__(self) -> None:
        self._http = AiohttpTransport()

    async def send(self, request: Request) -> Answer:
        if path_of(request).startswith("/contacts") and request.method in ("POST", "PUT"):
            body = json.loads(request.body or b"{}")
            if "refused" in body.get("custom_attributes", {}).values():
                error = {"code": "parameter_invalid", "message": "plan is invalid"}
                return reply(400, json={"type": "error.list", "errors": [error]})
        return await self._http.send(request)

    async def aclose(self) -> None:
        await self._http.aclose()


async def test_a_value_refused_in_a_coalesced_call_kills_only_its_own_event(sandbox: str) -> None:
    events = backlog("u1")
    events[2] = {**events[2], "traits": {**events[2]["traits"], "tier": "refused"}}
    async with harness(sandbox, transport=_RefusingPlan()) as h:
        await h.deliver(*events)

        [dead] = await h.store.dead_letters()
        assert b'"refused"' in dead.event.body
        assert "plan is invalid" in dead.reason
        # As one by one: the first identify went alone, the refused one (logins 2) not at all,
        # and the last carried its own values.
        assert seen(h, "u1")["contact"]["custom_attributes"] == {"plan": "pro", "logins": 1}
        assert len(h.events_of("u1")) == 2
        status = await h.store.status(h.clock())
        assert status.outcomes == {"delivered": 4, "dead": 1}


def at(clock: str) -> str:
    return f"2026-11-28T{clock}Z"


def unix(clock: str) -> int:
    return int(datetime.fromisoformat(at(clock)).timestamp())


async def test_an_update_sends_only_what_changed_since_what_intercom_holds(sandbox: str) -> None:
    recording = Recording()
    async with harness(sandbox, transport=recording) as h:
        email = "u1@example.com"
        await h.deliver(
            {**identify("u1", email, plan="free", logins=1), "timestamp": at("10:00:00")}
        )
        await h.deliver(
            {
                **identify("u1", email, plan="free", logins=2, name="Ada"),
                "timestamp": at("10:30:00"),
            }
        )
        # Only last_seen_at moves, within the hour (last_seen_precision): nothing to send.
        await h.deliver(
            {
                **identify("u1", email, plan="free", logins=2, name="Ada"),
                "timestamp": at("10:45:00"),
            }
        )

        [update] = recording.bodies("PUT", "/contacts/")
        # Neither the identity nor the unchanged attribute; last_seen_at rides along.
        assert update == {
            "name": "Ada",
            "custom_attributes": {"logins": 2},
            "last_seen_at": unix("10:30:00"),
        }
        assert h.contact("u1")["custom_attributes"] == {"plan": "free", "logins": 2}
        [last, *_] = await h.store.outcomes()
        assert (last.outcome, last.calls) == ("skipped", 0)


async def test_a_new_attribute_takes_its_first_values_type_as_one_by_one(sandbox: str) -> None:
    email = "u1@example.com"
    events = [
        identify("u1", email, score=5),
        {**identify("u1", email, score="high"), "timestamp": at("10:30:00")},
    ]

    def held(h: Harness) -> tuple[Any, Any]:
        [score] = [a for a in h.state()["data_attributes"] if a["name"] == "score"]
        return score["data_type"], h.contact("u1")["custom_attributes"]

    async with harness(sandbox) as h:
        for event in events:
            await h.deliver(event)
        one_by_one = held(h)
    httpx.post(f"{sandbox}/_sandbox/reset").raise_for_status()
    async with harness(sandbox) as h:
        await h.deliver(*events)

        assert held(h) == one_by_one == ("integer", {"score": 5})


async def test_a_contact_intercom_lost_is_created_with_its_whole_state(sandbox: str) -> None:
    recording = Recording()
    async with harness(sandbox, transport=recording) as h:
        email = "u1@example.com"
        await h.deliver(identify("u1", email, plan="free", logins=1))
        contact_id = h.contact("u1")["id"]
        httpx.delete(
            f"{sandbox}/contacts/{contact_id}", headers={"Authorization": "Bearer test-token"}
        ).raise_for_status()
        await h.deliver({**identify("u1", email, logins=2), "timestamp": at("10:30:00")})

        assert h.contact("u1")["custom_attributes"] == {"plan": "free", "logins": 2}
        created = recording.bodies("POST", "/contacts")[-1]
        assert created["custom_attributes"] == {"plan": "free", "logins": 2}
        assert created["external_id"] == "u1"


async def test_a_store_with_digests_but_no_bodies_sends_whole_bodies(sandbox: str) -> None:
    recording = Recording()
    async with harness(sandbox, transport=recording) as h:
        email = "u1@example.com"
        first = identify("u1", email, plan="free", logins=1)
        await h.deliver(first)
        # As a store written before bodies were kept has it: the digest alone.
        key = "contact:external_id:u1"
        kept = await h.store.last_body(key)
        assert kept is not None
        await h.store.put_digest(key, digest(decode_body(kept), 3600))

        await h.deliver(first)
        assert recording.bodies("PUT", "/contacts/") == []
        await h.deliver({**identify("u1", email, plan="pro", logins=1)})

        [update] = recording.bodies("PUT", "/contacts/")
        assert update["email"] == email
        assert update["custom_attributes"] == {"plan": "pro", "logins": 1}
