"""The overview, the search and an event's story, as pages and from the API."""

from __future__ import annotations

import html

import pytest

from intercom_destination.settings import Settings
from intercom_destination.store import Refusal, Store
from tests.console.conftest import NOW, Connect
from tests.store.test_console import a_trace, tracked

pytestmark = pytest.mark.anyio


async def settle(store: Store) -> None:
    """m1 delivered (with its trace), m2 skipped, m3 dead, m4 set aside for its contact."""
    await store.enqueue(
        [
            tracked("m1", "ada", email="ada@example.com", received_at=NOW),
            tracked("m2", "bob", type="page", received_at=NOW),
            tracked("m3", "cy", name="Refunded", received_at=NOW),
            tracked("m4", "dee", received_at=NOW),
        ]
    )
    refused = Refusal(kind="event_name", name="Refunded", reason="the budget is full")
    outcomes = {
        "m1": lambda lease: store.delivered(lease, now=NOW, calls=1, trace=a_trace()),
        "m2": lambda lease: store.skipped(lease, "page events are off", now=NOW),
        "m3": lambda lease: store.dead(
            lease, "event-name budget full", now=NOW, trace=a_trace(400, refused)
        ),
        "m4": lambda lease: store.park(lease, "contact:dee", NOW + 3600, now=NOW),
    }
    for lease in await store.lease("w", 10, 30, NOW):
        await outcomes[lease.event.message_id](lease)


async def test_the_overview_counts_the_window_by_outcome_and_type(
    store: Store, connect: Connect
) -> None:
    await settle(store)
    async with connect(Settings(max_event_names=3)) as client:
        page = await client.get("/")
        api = (await client.get("/api/overview", params={"window": "day"})).json()
    assert page.status_code == 200
    assert "<svg" in page.text
    assert api["window"] == "day"
    assert api["totals"] == {"accepted": 4, "delivered": 1, "skipped": 1, "waiting": 1, "dead": 1}
    assert api["by_type"]["page"]["skipped"] == 1
    assert api["by_type"]["track"] == {
        "accepted": 3,
        "delivered": 1,
        "skipped": 0,
        "waiting": 1,
        "dead": 1,
    }
    assert sum(api["series"]["delivered"]) == 1
    assert (api["parked"], api["dead"]) == (1, 1)
    assert api["event_names"]["max"] == 3
    assert [r["name"] for r in api["event_names"]["refused"]] == ["Refunded"]
    assert "Refunded" in page.text
    assert "the budget is full" in page.text


async def test_the_overview_says_when_delivery_is_paused(store: Store, connect: Connect) -> None:
    await store.pause_until(NOW + 90, "Intercom's rate limit (429)")
    async with connect() as client:
        page = await client.get("/")
        api = (await client.get("/api/overview")).json()
    assert "Delivery is paused until" in page.text
    assert "Intercom&#39;s rate limit (429)" in page.text
    assert api["paused"] == {
        "until": "2026-11-28T23:01:30Z",
        "reason": "Intercom's rate limit (429)",
    }


async def test_a_window_that_is_not_one_is_named(connect: Connect) -> None:
    async with connect() as client:
        answer = await client.get("/api/overview", params={"window": "month"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "window: 'month' is not one of hour, day, week"}


async def test_search_finds_a_user_newest_first(store: Store, connect: Connect) -> None:
    await settle(store)
    async with connect() as client:
        page = await client.get("/events", params={"q": "ada"})
        by_email = (await client.get("/api/events", params={"q": "ada@example.com"})).json()
        dead = (await client.get("/api/events", params={"outcome": "dead"})).json()
        pages = (await client.get("/api/events", params={"type": "page"})).json()
    assert 'href="/events/m1"' in page.text
    assert 'href="/events/m2"' not in page.text
    assert [row["message_id"] for row in by_email["rows"]] == ["m1"]
    assert [row["message_id"] for row in dead["rows"]] == ["m3"]
    assert [row["message_id"] for row in pages["rows"]] == ["m2"]


async def test_search_pages_link_to_older_rows(store: Store, connect: Connect) -> None:
    await settle(store)
    async with connect() as client:
        first = await client.get("/events", params={"limit": 2})
        older = html.unescape(first.text.split('<a href="')[-1].split('"')[0])
        second = await client.get(older)
        api_first = (await client.get("/api/events", params={"limit": 2})).json()
        api_second = (
            await client.get("/api/events", params={"limit": 2, "before": api_first["next"]})
        ).json()
    shown = [row["message_id"] for row in api_first["rows"] + api_second["rows"]]
    assert sorted(shown) == ["m1", "m2", "m3", "m4"]
    assert "before=" in older
    for message_id in shown[2:]:
        assert f'href="/events/{message_id}"' in second.text


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (
            {"outcome": "lost"},
            "outcome: 'lost' is not one of delivered, skipped, retry, dead, parked",
        ),
        (
            {"key": "phone"},
            "key: 'phone' is not one of message_id, user_id, anonymous_id, email, event",
        ),
        ({"limit": "0"}, "limit: must be from 1 to 500"),
    ],
)
async def test_a_search_parameter_that_is_not_one_is_named(
    connect: Connect, params: dict[str, str], problem: str
) -> None:
    async with connect() as client:
        answer = await client.get("/api/events", params=params)
    assert answer.status_code == 400
    assert answer.json() == {"error": problem}


async def test_a_story_shows_the_request_intercom_got_and_its_answer(
    store: Store, connect: Connect
) -> None:
    await settle(store)
    async with connect() as client:
        page = await client.get("/events/m1")
        api = (await client.get("/api/events/m1")).json()
    text = html.unescape(page.text)
    assert '<span class="method">POST</span> <code>/events</code>' in page.text
    assert '{"event_name":"Order Completed"}' in text
    assert "request req-1" in text
    assert api["state"] == "done"
    assert api["final"] is True
    [attempt] = api["traces"]
    assert attempt["trace"]["calls"][0]["status"] == 200
    assert api["body"]["messageId"] == "m1"


async def test_a_story_says_what_the_event_waits_for(store: Store, connect: Connect) -> None:
    await settle(store)
    async with connect() as client:
        page = await client.get("/events/m4")
        api = (await client.get("/api/events/m4")).json()
    assert "contact:dee" in page.text
    assert api["state"] == "parked"
    assert api["final"] is False
    assert api["waits"]["waiting_for"] == "contact:dee"


async def test_a_story_being_followed_is_its_body_alone(store: Store, connect: Connect) -> None:
    await settle(store)
    async with connect() as client:
        waiting = await client.get("/events/m4", params={"follow": "1"})
        finished = await client.get("/events/m1", params={"follow": "1"})
    assert waiting.text.startswith('<div class="story" data-follow="/events/m4?follow=1">')
    assert finished.text.startswith('<div class="story">')


async def test_an_unknown_event_is_a_404(connect: Connect) -> None:
    async with connect() as client:
        page = await client.get("/events/nope")
        api = await client.get("/api/events/nope")
    assert page.status_code == api.status_code == 404
    assert api.json() == {"error": "the store knows no event with messageId 'nope'"}
