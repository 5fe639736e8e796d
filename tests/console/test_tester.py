"""The event tester: a pasted event's plan at once, and, on request, the event sent."""

from __future__ import annotations

import html
import json

import httpx
import pytest

from intercom_destination.settings import Settings
from intercom_destination.store import Store
from intercom_destination.store.suppression import id_hash
from tests.console.conftest import NOW, Connect, api_post, csrf_of

pytestmark = pytest.mark.anyio

TRACK = '{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "t-1"}'


async def test_the_page_opens_with_an_example_and_its_plan(connect: Connect) -> None:
    async with connect() as client:
        page = await client.get("/tester")
    assert page.status_code == 200
    assert "Order Completed" in page.text
    assert '<span class="method">POST</span> <code>/events</code>' in page.text


async def test_a_pasted_event_shows_its_requests_without_sending(
    store: Store, connect: Connect
) -> None:
    async with connect() as client:
        token = csrf_of((await client.get("/tester")).text)
        page = await client.post("/tester", data={"csrf": token, "event": TRACK, "action": "plan"})
    assert page.status_code == 200
    assert "track <code>t-1</code>: 1 Intercom request" in page.text
    assert '"event_name": "Signed Up"' in page.text
    assert await store.lease("w", 10, 30, NOW) == []


async def test_the_plan_follows_the_settings(connect: Connect) -> None:
    page_view = '{"type": "page", "userId": "u1", "name": "Pricing", "messageId": "p-1"}'
    async with connect(Settings(page_events=False)) as client:
        skipped = await api_post(client, "/api/tester/plan", {"event": page_view})
    async with connect(Settings(page_events=True)) as client:
        planned = await api_post(client, "/api/tester/plan", {"event": page_view})
    assert skipped.json()["skipped"]
    assert skipped.json()["operations"] == []
    assert [op["path"] for op in planned.json()["operations"]] == ["/events"]


@pytest.mark.parametrize(
    ("pasted", "problem"),
    [
        ("", "event: missing: paste one event's JSON"),
        ("[1, 2]", "event: not a JSON object"),
        ('{"type": "track", "userId": "u1"}', "track.event: missing"),
    ],
)
async def test_an_invalid_event_is_named_with_its_field(
    connect: Connect, pasted: str, problem: str
) -> None:
    async with connect() as client:
        token = csrf_of((await client.get("/tester")).text)
        page = await client.post("/tester", data={"csrf": token, "event": pasted, "action": "send"})
        api = await client.post(
            "/api/tester/plan", json={"event": pasted}, headers={"X-CSRF-Token": token}
        )
    assert page.status_code == 400
    assert f"Invalid: {problem}" in html.unescape(page.text)
    assert api.json()["error"].startswith(problem)


async def send_twice(connect: Connect) -> tuple[httpx.Response, httpx.Response]:
    """TRACK sent from the tester's page, then again through the API."""
    async with connect() as client:
        token = csrf_of((await client.get("/tester")).text)
        page = await client.post("/tester", data={"csrf": token, "event": TRACK, "action": "send"})
        again = await client.post(
            "/api/tester/send", json={"event": TRACK}, headers={"X-CSRF-Token": token}
        )
    return page, again


async def test_sending_stores_the_event_for_delivery(store: Store, connect: Connect) -> None:
    page, again = await send_twice(connect)
    assert "Sent <code>t-1</code>" in page.text
    assert 'href="/events/t-1"' in page.text
    assert again.json() == {"message_id": "t-1", "accepted": False, "suppressed": False}
    [lease] = await store.lease("w", 10, 30, NOW)
    assert lease.event.message_id == "t-1"
    assert lease.event.lane == "u1"


async def test_a_suppressed_persons_event_is_refused_not_stored(
    store: Store, connect: Connect
) -> None:
    await store.suppress([id_hash(await store.salt(), "userId", "u1")], now=NOW)
    page, api = await send_twice(connect)
    assert "Not sent: its userId or anonymousId is suppressed" in page.text
    assert 'href="/events/t-1"' not in page.text
    assert api.json() == {"message_id": "t-1", "accepted": False, "suppressed": True}
    assert await store.lease("w", 10, 30, NOW) == []


async def test_the_api_takes_the_event_as_an_object_or_its_text(connect: Connect) -> None:
    async with connect() as client:
        answers = [
            (await api_post(client, "/api/tester/plan", {"event": event})).json()
            for event in (TRACK, json.loads(TRACK), [1])
        ]
    assert answers[0] == answers[1]
    assert answers[0]["message_id"] == "t-1"
    assert answers[2]["error"] == "event: must be one event: a JSON object, or its text"


async def test_an_event_without_a_messageid_is_given_one(connect: Connect) -> None:
    async with connect() as client:
        sent = await api_post(
            client, "/api/tester/send", {"event": {"type": "identify", "userId": "u2"}}
        )
    assert sent.json()["accepted"] is True
    assert sent.json()["message_id"].startswith("console-")


async def test_the_plan_fragment_is_what_the_script_swaps_in(connect: Connect) -> None:
    async with connect() as client:
        token = csrf_of((await client.get("/tester")).text)
        fragment = await client.post(
            "/tester/plan", data={"event": TRACK}, headers={"X-CSRF-Token": token}
        )
    assert fragment.text.lstrip().startswith('<section id="plan"')
    assert "Signed Up" in fragment.text
