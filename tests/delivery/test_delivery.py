"""The delivery engine against a live sandbox over HTTP."""

from __future__ import annotations

import pytest

from tests.delivery.harness import harness

pytestmark = pytest.mark.anyio

IDENTIFY = {
    "type": "identify",
    "userId": "u1",
    "traits": {"email": "ada@example.com", "name": "Ada", "plan": "pro"},
    "timestamp": "2026-11-28T10:00:00Z",
}


def track(user: str, name: str, second: int, **properties: object) -> dict[str, object]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "properties": properties,
        "timestamp": f"2026-11-28T10:00:{second:02d}Z",
    }


async def test_identify_then_track_reach_the_contact(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(IDENTIFY, track("u1", "Order Completed", 1, revenue=19.99))
        contact = h.contact("u1")
        assert contact["email"] == "ada@example.com"
        assert contact["custom_attributes"] == {"plan": "pro"}
        [event] = h.events_of("u1")
        assert event["event_name"] == "Order Completed"
        assert event["metadata"] == {"price": {"amount": 1999, "currency": "usd"}}
        status = await h.store.status(h.clock())
        assert status.outcomes == {"delivered": 2}
        assert status.backlog == 0


async def test_track_before_identify_in_the_same_batch_is_delivered_after_it(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(track("u1", "Signed Up", 0), IDENTIFY, track("u1", "Logged In", 2))
        assert [e["event_name"] for e in h.events_of("u1")] == ["Signed Up", "Logged In"]
        outcomes = [row.outcome for row in reversed(await h.store.outcomes())]
        assert outcomes == ["parked", "delivered", "delivered", "delivered"]


async def test_an_unchanged_identify_makes_no_call(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(IDENTIFY)
        before = h.total_calls()
        await h.deliver({**IDENTIFY, "timestamp": "2026-11-28T10:05:00Z"})
        assert h.total_calls() == before
        [latest, *_] = await h.store.outcomes()
        assert latest.outcome == "skipped"
        assert latest.reason == "unchanged: Intercom already has everything this event says"


async def test_a_409_race_resolves_without_a_retry_loop(sandbox: str) -> None:
    async with harness(sandbox) as h:
        h.control("config", {"search_lag": 60})
        h.control("faults", {"conflicts": 1})
        await h.deliver(IDENTIFY)
        assert h.contact("u1")["custom_attributes"] == {"plan": "pro"}
        counts = h.counts()
        assert counts["POST /contacts"] == {"409": 1}
        assert counts["PUT /contacts/{contact_id}"] == {"200": 1}
        assert (await h.store.status(h.clock())).outcomes == {"delivered": 1}
