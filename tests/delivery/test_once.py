"""Exactly once to the user's eyes: each event reaches Intercom once, each contact's in order."""

from __future__ import annotations

import pytest

from tests.delivery.harness import harness

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"


def visitor(second: int, event: str, **properties: object) -> dict[str, object]:
    return {
        "type": "track",
        "anonymousId": "anon-1",
        "event": event,
        "properties": properties,
        "timestamp": f"2026-11-28T10:00:{second:02d}Z",
    }


def sign_up(second: int, **traits: object) -> dict[str, object]:
    return {
        "type": "identify",
        "userId": "u1",
        "anonymousId": "anon-1",
        "traits": {"email": EMAIL, **traits},
        "timestamp": f"2026-11-28T10:00:{second:02d}Z",
    }


async def test_a_track_in_flight_when_its_visitor_signs_up_is_sent_once(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver({**sign_up(0), "anonymousId": None})
        # The visitor's track is on its way to Intercom while the sign-up links their lanes.
        h.control("faults", {"latency_ms": 500, "endpoints": ["POST /events"]})
        await h.deliver(visitor(1, "Viewed Pricing", email=EMAIL), sign_up(2, name="Ada"))
        assert h.counts()["POST /events"] == {"202": 1}
        assert [(r.type, r.outcome) for r in reversed(await h.store.outcomes())] == [
            ("identify", "delivered"),
            ("track", "delivered"),
            ("identify", "delivered"),
        ]
        assert [e["event_name"] for e in h.events_of("u1")] == ["Viewed Pricing"]


async def test_a_visitors_track_does_not_overtake_their_earlier_one_that_waits(
    sandbox: str,
) -> None:
    async with harness(sandbox) as h:
        # Intercom does not know the email yet: the first track waits for its contact.
        await h.deliver(visitor(1, "Viewed Pricing", email=EMAIL))
        # The person signs up on another device; then the visitor tracks again.
        await h.deliver(
            {**sign_up(2), "anonymousId": None}, visitor(3, "Started Trial", email=EMAIL)
        )
        await h.deliver(sign_up(4))
        events = [(e["event_name"], e["created_at"] % 60) for e in h.events_of("u1")]
        assert events == [("Viewed Pricing", 1), ("Started Trial", 3)]
