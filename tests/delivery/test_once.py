"""Exactly once to the user's eyes: each event reaches Intercom once, each contact's in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from intercom_destination.delivery.worker import Halted
from intercom_destination.settings import Settings
from tests.delivery.harness import Harness, harness
from tests.waiting import until

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"


def at(second: int) -> str:
    return f"2026-11-28T10:00:{second:02d}Z"


def visitor(
    second: int, event: str, anonymous_id: str = "anon-1", **properties: object
) -> dict[str, object]:
    return {
        "type": "track",
        "anonymousId": anonymous_id,
        "event": event,
        "properties": properties,
        "timestamp": at(second),
    }


def sign_up(
    second: int, user_id: str = "u1", email: str = EMAIL, **traits: object
) -> dict[str, object]:
    return {
        "type": "identify",
        "userId": user_id,
        "anonymousId": f"anon-{user_id[1:]}",
        "traits": {"email": email, **traits},
        "timestamp": at(second),
    }


@pytest.mark.slow
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


@pytest.mark.slow
async def test_two_sign_ups_naming_each_others_user_as_visitor_do_not_wait_forever(
    sandbox: str,
) -> None:
    # Each identify holds its user's lane and would wait for the other's to finish first.
    async with harness(sandbox, lease_for=1.0) as h:
        await h.deliver(
            {**sign_up(1, "u1", "one@example.com"), "anonymousId": "u2"},
            {**sign_up(1, "u2", "two@example.com"), "anonymousId": "u1"},
        )
        assert {c["external_id"] for c in h.state()["contacts"]} == {"u1", "u2"}
        status = await h.store.status(h.clock())
        assert (status.backlog, status.parked, status.dead) == (0, 0, 0)


def a_visit(n: int) -> list[dict[str, object]]:
    """Visitor n's day: logged out (the first track without an email, two naming it), the
    sign-up, then tracks both as the user and, from a tab still anonymous, as the visitor.
    Every other visitor has an account already, so Intercom knows their email from the start."""
    user_id, anonymous_id, email = f"u{n}", f"anon-{n}", f"person{n}@example.com"
    returning = [{**sign_up(0, user_id, email), "anonymousId": None}] if n % 2 else []
    return [
        *returning,
        visitor(1, "Viewed Home", anonymous_id),
        visitor(2, "Viewed Pricing", anonymous_id, email=email),
        visitor(3, "Started Signup", anonymous_id, email=email),
        sign_up(4, user_id, email),
        {"type": "track", "userId": user_id, "event": "Signed Up", "timestamp": at(5)},
        visitor(6, "Opened Docs", anonymous_id, email=email),
        {"type": "track", "userId": user_id, "event": "Invited Team", "timestamp": at(7)},
    ]


async def drain_through_halts(h: Harness, fix: Callable[[], None]) -> None:
    """Drain as an operator would: when a refused token halts it, `fix` the token and drain
    again once the leases of the events it let go have expired."""
    while True:
        try:
            await h.worker.drain()
        except Halted:
            fix()
            h.clock.offset += Settings().lease_for
        else:
            return


def answered(h: Harness, status: str) -> int:
    return sum(by_status.get(status, 0) for by_status in h.counts().values())


@pytest.mark.slow
async def test_under_faults_every_event_arrives_once_and_each_contact_in_order(
    sandbox: str,
) -> None:
    visitors = range(12)
    async with harness(sandbox) as h:
        lost = {"error_rate": 0.05, "after_commit": 0.5, "seed": 18}
        h.control("faults", lost)
        await h.send(*(event for n in visitors for event in a_visit(n)))
        delivering = asyncio.create_task(
            drain_through_halts(h, fix=lambda: h.control("faults", lost))
        )
        # A 429 storm, then a token refused for a while and restored, while events flow.
        await until(lambda: len(h.state()["events"]) >= 12, "12 events arrive")
        h.control("faults", {**lost, "throttle_seconds": 1})
        await until(lambda: len(h.state()["events"]) >= 30, "30 events arrive")
        h.control("faults", {**lost, "unauthorized_seconds": 1})
        await delivering

        assert answered(h, "429")
        assert answered(h, "401")
        for n in visitors:
            events = [(e["created_at"] % 60, e["event_name"]) for e in h.events_of(f"u{n}")]
            assert events == [
                (1, "Viewed Home"),
                (2, "Viewed Pricing"),
                (3, "Started Signup"),
                (5, "Signed Up"),
                (6, "Opened Docs"),
                (7, "Invited Team"),
            ], f"u{n}"
        # Sent again only after an answer was lost: never once Intercom said it had it.
        assert h.counts()["POST /events"]["202"] == 6 * len(visitors)
        status = await h.store.status(h.clock())
        assert (status.backlog, status.parked, status.dead) == (0, 0, 0)
