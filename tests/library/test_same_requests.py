"""Library mode and the service make the same Intercom requests for the same events: they
share the conversion to stored events, the store, the planner and the executor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from intercom_destination.delivery.engine import open_worker
from intercom_destination.library import Analytics, IntercomDestination
from intercom_destination.settings import settings_from
from intercom_destination.store import open_store
from tests.delivery.harness import new_events
from tests.library import sandbox as sb
from tests.library.wire import Exchange, Recording, requests

pytestmark = pytest.mark.slow

#: One lane at a time in both: with many, two lanes may race to create the same custom
#: attribute, and who wins changes the requests from one run to the next of either path.
SETTINGS: dict[str, Any] = {"page_events": True, "collect_context": True, "concurrency": 1}


def at(second: int) -> datetime:
    return datetime(2026, 11, 28, 10, 0, second, tzinfo=UTC)


def stamp(second: int) -> str:
    return f"2026-11-28T10:00:{second:02d}.000+00:00"


ADA = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "plan": "pro",
    "createdAt": "2026-01-02T03:04:05Z",
    "company": {"id": "acme", "name": "Acme", "plan": "enterprise"},
}
DEVICE = {"device": {"type": "ios", "model": "iPhone16,1"}, "app": {"version": "2.1"}}


def with_the_library(analytics: Analytics) -> None:
    analytics.track(
        None,
        "Viewed Pricing",
        {"plan": "pro"},
        timestamp=at(0),
        anonymous_id="anon-1",
        message_id="e1",
    )
    analytics.identify(
        "u1", ADA, context=DEVICE, timestamp=at(1), anonymous_id="anon-1", message_id="e2"
    )
    analytics.track(
        "u1",
        "Order Completed",
        {"revenue": 19.99, "currency": "EUR", "items": 2},
        timestamp=at(2),
        anonymous_id="anon-1",
        message_id="e3",
    )
    analytics.group(
        "u1",
        "globex",
        {"name": "Globex", "monthly_spend": 99.5, "region": "emea"},
        timestamp=at(3),
        anonymous_id="anon-1",
        message_id="e4",
    )
    analytics.page(
        "u1",
        "Docs",
        "Install",
        {"path": "/docs/install"},
        timestamp=at(4),
        anonymous_id="anon-1",
        message_id="e5",
    )
    analytics.identify(
        "u2",
        {"email": "bob@example.com", "role": "admin"},
        timestamp=at(5),
        anonymous_id="anon-2",
        message_id="e6",
    )
    analytics.track("u2", "Signed Up", timestamp=at(6), anonymous_id="anon-2", message_id="e7")
    analytics.alias("anon-2", "u2", timestamp=at(7), message_id="e8")
    analytics.identify(
        "u1",
        ADA | {"plan": "team"},
        context=DEVICE,
        timestamp=at(8),
        anonymous_id="anon-3",
        message_id="e9",
    )


def base(
    kind: str, message_id: str, second: int, user_id: str | None, anonymous_id: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "messageId": message_id,
        "timestamp": stamp(second),
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "integrations": {},
    }
    if user_id:
        event["userId"] = user_id
    if anonymous_id:
        event["anonymousId"] = anonymous_id
    return event


#: What analytics-python sends for the same calls, as ingest would receive them.
SAME_EVENTS = [
    base("track", "e1", 0, None, "anon-1")
    | {"event": "Viewed Pricing", "properties": {"plan": "pro"}},
    base("identify", "e2", 1, "u1", "anon-1")
    | {"traits": ADA, "context": {**DEVICE, "library": {"name": "analytics-python"}}},
    base("track", "e3", 2, "u1", "anon-1")
    | {"event": "Order Completed", "properties": {"revenue": 19.99, "currency": "EUR", "items": 2}},
    base("group", "e4", 3, "u1", "anon-1")
    | {"groupId": "globex", "traits": {"name": "Globex", "monthly_spend": 99.5, "region": "emea"}},
    base("page", "e5", 4, "u1", "anon-1")
    | {"category": "Docs", "name": "Install", "properties": {"path": "/docs/install"}},
    base("identify", "e6", 5, "u2", "anon-2")
    | {"traits": {"email": "bob@example.com", "role": "admin"}},
    base("track", "e7", 6, "u2", "anon-2") | {"event": "Signed Up", "properties": {}},
    base("alias", "e8", 7, "u2", None) | {"previousId": "anon-2"},
    # From another device: an identify linking another visitor is not folded into e2's
    # contact call (see mapping.coalesce), so the events make an update too.
    base("identify", "e9", 8, "u1", "anon-3")
    | {
        "traits": ADA | {"plan": "team"},
        "context": {**DEVICE, "library": {"name": "analytics-python"}},
    },
]


def through_the_library(sandbox: str) -> list[Exchange]:
    recording = Recording()
    with Analytics() as analytics:
        analytics.add(
            IntercomDestination(
                api_url=sandbox, database_url="sqlite:///:memory:", transport=recording, **SETTINGS
            )
        )
        with_the_library(analytics)
        analytics.flush()
    return recording.exchanges


async def through_the_service(sandbox: str) -> list[Exchange]:
    recording = Recording()
    settings = settings_from(
        {"access_token": "test-token", "api_url": sandbox, "database_url": "sqlite:///:memory:"}
        | SETTINGS
    )
    store = await open_store(settings.database_url)
    async with store, open_worker(settings, store, transport=recording) as worker:
        await store.enqueue(new_events(SAME_EVENTS))
        await worker.drain()
    return recording.exchanges


def workspace(sandbox: str) -> dict[str, Any]:
    """The sandbox's contacts, companies and events, by the ids the events gave them."""
    state = sb.state(sandbox)
    companies = {c["id"]: c["company_id"] for c in state["companies"]}
    contacts = {c["id"]: c["external_id"] for c in state["contacts"]}
    drop = ("id", "seq", "created", "created_at", "updated_at", "company_ids")
    return {
        "contacts": sorted(
            (
                {k: v for k, v in c.items() if k not in drop}
                | {"companies": sorted(companies[i] for i in c["company_ids"])}
                for c in state["contacts"]
            ),
            key=lambda c: c["external_id"],
        ),
        "companies": sorted(
            (
                {k: v for k, v in c.items() if k not in ("id", "created_at", "updated_at")}
                for c in state["companies"]
            ),
            key=lambda c: c["company_id"],
        ),
        "events": sorted(
            (contacts[e["contact_id"]], e["event_name"], e["created_at"], str(e["metadata"]))
            for e in state["events"]
        ),
    }


def counts(sandbox: str) -> dict[str, dict[str, int]]:
    return httpx.get(f"{sandbox}/_sandbox/calls").json()["counts"]  # type: ignore[no-any-return]


def test_the_library_and_the_service_make_the_same_requests(sandbox: str) -> None:
    served = asyncio.run(through_the_service(sandbox))
    served_workspace, served_counts = workspace(sandbox), counts(sandbox)
    httpx.post(f"{sandbox}/_sandbox/reset").raise_for_status()

    embedded = through_the_library(sandbox)

    assert requests(embedded) == requests(served)
    assert workspace(sandbox) == served_workspace
    assert counts(sandbox) == served_counts
    # The comparison is about something: the events made every kind of request.
    assert set(served_counts) >= {
        "POST /contacts",
        "PUT /contacts/{contact_id}",
        "POST /events",
        "POST /companies",
        "POST /contacts/{contact_id}/companies",
        "POST /data_attributes",
    }
    assert [event[1] for event in served_workspace["events"]] == [
        "Order Completed",
        "Viewed Install Page",
        "Viewed Pricing",
        "Signed Up",
    ]
