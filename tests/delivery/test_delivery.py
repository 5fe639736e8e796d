"""The delivery engine against a live sandbox over HTTP."""

from __future__ import annotations

import pytest

from intercom_destination.store import Status
from tests.delivery.harness import harness
from tests.events import identify, track

pytestmark = pytest.mark.anyio

IDENTIFY = identify("u1", "ada@example.com", name="Ada", plan="pro")


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


async def test_last_seen_precision_says_which_moves_of_last_seen_are_news(sandbox: str) -> None:
    later = {**IDENTIFY, "timestamp": "2026-11-28T10:05:00Z"}
    async with harness(sandbox, last_seen_precision=60) as h:
        await h.deliver(IDENTIFY)
        before = h.total_calls()
        await h.deliver(later)
        assert h.total_calls() == before + 1
        assert h.contact("u1")["last_seen_at"] == 1795860300
    async with harness(sandbox, last_seen_precision=86400) as h:
        await h.deliver({**IDENTIFY, "userId": "u2"})
        before = h.total_calls()
        await h.deliver({**later, "userId": "u2", "timestamp": "2026-11-28T23:00:00Z"})
        assert h.total_calls() == before


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


async def test_a_contact_that_never_comes_ends_dead_with_its_reason(sandbox: str) -> None:
    async with harness(sandbox, wait_timeout=3600) as h:
        await h.deliver(track("u9", "Logged In", 0))
        status = await h.store.status(h.clock())
        assert (status.parked, status.dead) == (1, 0)
        await h.upkeep_after(3601)
        [dead] = await h.store.dead_letters()
        assert dead.reason == (
            "waited until the wait_timeout for the identify of user 'u9', which never came: "
            "Intercom cannot attach an event to a person it does not know. Send that identify, "
            "then replay this event"
        )


async def test_unknown_contacts_can_be_created_or_refused(sandbox: str) -> None:
    async with harness(sandbox, unknown_contact="create") as h:
        await h.deliver(track("u2", "Logged In", 0))
        assert [e["event_name"] for e in h.events_of("u2")] == ["Logged In"]
    async with harness(sandbox, unknown_contact="dead") as h:
        await h.deliver(track("u3", "Logged In", 0))
        [dead] = await h.store.dead_letters()
        assert dead.reason == (
            "Intercom does not know user 'u3' (unknown_contact = \"dead\"): send their identify "
            "first, then replay this event"
        )


@pytest.mark.slow
async def test_the_121st_event_name_is_dead_lettered_and_the_others_delivered(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(IDENTIFY, *(track("u1", f"Event {i}", i % 60) for i in range(121)))
        assert len(h.events_of("u1")) == 120
        [dead] = await h.store.dead_letters()
        assert dead.reason == (
            "event 'Event 120' was not sent: the workspace's event-name budget is full (120 "
            "names, max_event_names). Archive unused events in Intercom (Settings > Data > "
            "Events) or raise max_event_names, then replay this dead letter"
        )
        assert "POST /events" not in h.counts() or "422" not in h.counts()["POST /events"]


async def test_intercoms_own_event_name_limit_is_handled_the_same_way(sandbox: str) -> None:
    async with harness(sandbox, max_event_names=500) as h:
        h.control("config", {"event_names": 2})
        await h.deliver(IDENTIFY, *(track("u1", f"Event {i}", i) for i in range(3)))
        assert [e["event_name"] for e in h.events_of("u1")] == ["Event 0", "Event 1"]
        [dead] = await h.store.dead_letters()
        assert dead.reason.startswith(
            "event 'Event 2' was not sent: Intercom refused a new event name"
        )


async def test_duplicate_message_ids_are_delivered_once(sandbox: str) -> None:
    async with harness(sandbox) as h:
        event = {**track("u1", "Logged In", 1), "messageId": "m-1"}
        await h.send(IDENTIFY, event)
        await h.send(event)
        await h.worker.drain()
        assert len(h.events_of("u1")) == 1
        assert h.counts()["POST /events"] == {"202": 1}


@pytest.mark.slow
async def test_nothing_is_lost_to_server_errors_and_a_429_window(sandbox: str) -> None:
    async with harness(sandbox) as h:
        h.control("faults", {"error_rate": 0.05, "seed": 3, "throttle_seconds": 1})
        users = [f"user-{n}" for n in range(20)]
        await h.send(*({**IDENTIFY, "userId": user} for user in users))
        await h.send(*(track(user, f"Step {i}", i) for i in range(5) for user in users))
        await h.worker.drain()
        for user in users:
            assert [e["event_name"] for e in h.events_of(user)] == [f"Step {i}" for i in range(5)]
        status = await h.store.status(h.clock())
        assert status.dead == 0
        assert status.outcomes["delivered"] == 120
        assert status.outcomes["retry"] > 0
        counts = h.counts()
        assert any("429" in by_status for by_status in counts.values())
        assert any("500" in s or "503" in s for s in counts.values())


async def test_unknown_custom_attributes_are_created_with_their_type(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(
            {
                **IDENTIFY,
                "traits": {
                    "plan": "pro",
                    "seats": 5,
                    "beta": True,
                    "renews": "2027-01-01T00:00:00Z",
                },
            }
        )
        created = {
            a["name"]: a["data_type"]
            for a in h.state()["data_attributes"]
            if a["model"] == "contact"
        }
        assert created == {
            "plan": "string",
            "seats": "integer",
            "beta": "boolean",
            "renews": "date",
        }
        assert h.contact("u1")["custom_attributes"] == {
            "plan": "pro",
            "seats": 5,
            "beta": True,
            "renews": 1798761600,
        }


async def test_unknown_custom_attributes_are_dropped_with_a_warning_when_creation_is_off(
    sandbox: str,
) -> None:
    async with harness(sandbox, auto_create_attributes=False) as h:
        await h.deliver(IDENTIFY)
        assert h.contact("u1")["custom_attributes"] == {}
        [row] = await h.store.outcomes()
        assert row.outcome == "delivered"
        assert row.reason == (
            "contact attribute 'plan' dropped: it does not exist in Intercom and "
            "auto_create_attributes is off"
        )


async def test_a_value_of_the_wrong_type_is_converted_when_lossless(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver({**IDENTIFY, "traits": {"seats": 5}})
        await h.deliver({**IDENTIFY, "traits": {"seats": "7"}})
        await h.deliver({**IDENTIFY, "traits": {"seats": "many"}})
        assert h.contact("u1")["custom_attributes"] == {"seats": 7}
        [latest, *_] = await h.store.outcomes()
        assert latest.reason is not None
        assert "contact attribute 'seats' dropped: 'many' is not a integer" in latest.reason


@pytest.mark.slow
async def test_per_user_order_holds_with_many_lanes_in_flight(sandbox: str) -> None:
    async with harness(sandbox, concurrency=8) as h:
        users = [f"user-{n}" for n in range(30)]
        await h.send(*({**IDENTIFY, "userId": user} for user in users))
        for i in range(6):
            await h.send(*(track(user, f"Step {i}", i) for user in users))
        await h.worker.drain()
        for user in users:
            assert [e["event_name"] for e in h.events_of(user)] == [f"Step {i}" for i in range(6)]


async def test_a_full_worker_takes_the_next_lane_as_soon_as_one_is_done(sandbox: str) -> None:
    """A drain idles (asking the store how much is left, then sleeping) only when no lane is
    ready: not each time every event in flight ended while it waited for room."""
    async with harness(sandbox, concurrency=1) as h:
        users = [f"user-{n}" for n in range(3)]
        await h.send(*({**IDENTIFY, "userId": user} for user in users))
        asked: list[int] = []
        status = h.store.status

        async def counted(now: float) -> Status:
            found = await status(now)
            asked.append(found.backlog)
            return found

        h.store.status = counted  # type: ignore[method-assign]
        await h.worker.drain()
        assert asked == [0]
        assert all(h.contact(user) for user in users)


async def test_group_upserts_the_company_and_attaches_the_user(sandbox: str) -> None:
    async with harness(sandbox) as h:
        group = {
            "type": "group",
            "userId": "u1",
            "groupId": "c-1",
            "traits": {"name": "Initech", "plan": "enterprise", "employees": 420},
        }
        await h.deliver(IDENTIFY, group, group)
        [company] = h.state()["companies"]
        assert (company["company_id"], company["name"], company["size"]) == ("c-1", "Initech", 420)
        assert h.contact("u1")["company_ids"] == [company["id"]]
        # the second, identical group call made no call at all
        assert h.counts()["POST /companies"] == {"200": 1}
