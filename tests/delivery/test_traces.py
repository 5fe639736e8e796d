"""Each attempt's trace, as delivery records it against a live sandbox over HTTP."""

from __future__ import annotations

import httpx
import pytest

from intercom_destination.store import Story
from tests.delivery.harness import Harness, harness
from tests.events import identify, track

pytestmark = pytest.mark.anyio


async def story_of(h: Harness, message_id: str) -> Story:
    story = await h.store.story(message_id)
    assert story is not None
    return story


async def test_a_delivered_event_keeps_its_plan_requests_and_answers(sandbox: str) -> None:
    async with harness(sandbox) as h:
        order = {**track("u1", "Order Completed", 1, revenue=19.99), "messageId": "order-1"}
        await h.deliver(identify("u1", "ada@example.com", plan="pro"), order)

        story = await story_of(h, "order-1")

        assert story.state == "done"
        assert b'"Order Completed"' in (story.body or b"")
        [attempt] = story.traces
        assert [(op["method"], op["path"]) for op in attempt.trace.operations] == [
            ("POST", "/events")
        ]
        [call] = attempt.trace.calls
        assert (call.method, call.path, call.status) == ("POST", "/events", 202)
        assert call.body is not None
        assert '"event_name":"Order Completed"' in call.body
        assert "test-token" not in call.body
        sandbox_calls = httpx.get(f"{sandbox}/_sandbox/calls").json()["calls"]
        assert call.request_id in {c["request_id"] for c in sandbox_calls}


async def test_a_failed_attempt_keeps_intercoms_answer(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(identify("u1", "ada@example.com"))
        h.control(
            "faults", {"error_rate": 1, "error_statuses": [503], "max_errors": 1,
                       "endpoints": ["POST /events"]},
        )  # fmt: skip
        await h.deliver({**track("u1", "Signed Up", 1), "messageId": "signed-1"})

        story = await story_of(h, "signed-1")

        assert [row.outcome for row in story.outcomes] == ["retry", "delivered"]
        failed, delivered = (attempt.trace.calls[-1] for attempt in story.traces)
        assert (failed.status, delivered.status) == (503, 202)
        assert failed.error is not None
        assert failed.request_id is not None
        assert failed.request_id in failed.error


async def test_refused_event_names_and_dropped_attributes_are_counted(sandbox: str) -> None:
    async with harness(sandbox, max_event_names=500) as h:
        h.control("config", {"event_names": 1})
        # Apart, so that the second identify's update is not coalesced into the first's.
        await h.deliver(identify("u1", "ada@example.com", score=5))
        await h.deliver(
            identify("u1", "ada@example.com", score="high"),
            track("u1", "Event 0", 1),
            {**track("u1", "Event 1", 2), "messageId": "refused-1"},
        )

        overview = await h.store.overview(h.clock(), 3600)

        refused = {(r.kind, r.name) for r in overview.refused}
        assert refused == {("event_name", "Event 1"), ("contact_attribute", "score")}
        story = await story_of(h, "refused-1")
        assert story.state == "dead"
        [attempt] = story.traces
        [refusal] = attempt.trace.refusals
        assert refusal.reason.startswith("event 'Event 1' was not sent")


async def test_a_parked_event_says_in_words_what_it_waits_for(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver({**track("nobody", "Signed Up", 1), "messageId": "waits-1"})

        story = await story_of(h, "waits-1")

        assert story.state == "parked"
        assert story.waits is not None
        assert story.waits.waiting_for == "contact:nobody"
        [row] = story.outcomes
        assert row.outcome == "parked"
        assert row.reason is not None
        assert "'nobody'" in row.reason
        assert "waiting for their identify" in row.reason


async def test_a_coalesced_upsert_keeps_its_operation_not_the_bodies_it_carried(
    sandbox: str,
) -> None:
    async with harness(sandbox) as h:
        first = {**identify("u1", "ada@example.com", plan="free"), "messageId": "first"}
        later = {**identify("u1", "ada@example.com", plan="pro"), "messageId": "later"}
        await h.deliver(first, later)

        [attempt] = (await story_of(h, "first")).traces
        [operation] = attempt.trace.operations
        assert (operation["op"], operation["method"], operation["path"]) == (
            "upsert_contact",
            "POST",
            "/contacts",
        )
        assert "folded" not in operation
        assert '"plan":"pro"' in (attempt.trace.calls[-1].body or "")
