"""A generated Segment workload shaped like a product's real traffic, for the benchmarks.

Users come back in sessions. A session is a few page loads; as analytics.js apps do, each
page load of a signed-in user calls identify (traits mostly unchanged between calls) and
page; a session also has one to three tracks and, now and then, a group call. About 30 %
of users begin logged out: pages and a track or two with only an anonymousId, then the
sign-up identify carrying the same anonymousId, then "Signed Up". Deterministic for a seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

EVENT_NAMES = [
    "Signed Up",
    "Logged In",
    "Project Created",
    "File Uploaded",
    "Invited Teammate",
    "Report Exported",
    "Order Completed",
    "Plan Upgraded",
    "Comment Added",
    "Search Performed",
]
PLANS = ["free", "team", "business", "enterprise"]
PAGES = ["Home", "Pricing", "Docs", "Blog", "Signup"]
START = datetime(2026, 11, 1, tzinfo=UTC)


def events(users: int, sessions: int = 3, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Every user's sessions, interleaved across users as they would arrive."""
    rng = random.Random(seed)
    streams = [_user(rng, index, sessions) for index in range(users)]
    while streams:
        stream = rng.choice(streams)
        try:
            yield next(stream)
        except StopIteration:
            streams.remove(stream)


def _user(rng: random.Random, index: int, sessions: int) -> Iterator[dict[str, Any]]:
    user_id = f"user-{index:06d}"
    anonymous_id = str(uuid.UUID(int=rng.getrandbits(128)))
    clock = START + timedelta(minutes=rng.randrange(60 * 24 * 20))
    company = f"company-{rng.randrange(max(1, index // 5) + 1):05d}"
    traits = {
        "email": f"{user_id}@example.com",
        "name": f"User {index}",
        "createdAt": (clock - timedelta(days=rng.randrange(400))).isoformat(),
        "plan": rng.choice(PLANS),
        "role": rng.choice(["admin", "member", "viewer"]),
        "logins": rng.randrange(1, 500),
        "beta": rng.random() < 0.2,
    }

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        nonlocal clock
        clock += timedelta(seconds=rng.randrange(5, 120))
        return {
            "type": kind,
            "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
            "timestamp": clock.isoformat(),
            "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
            **fields,
        }

    if rng.random() < 0.3:
        for _ in range(rng.randrange(1, 3)):
            yield event(
                "page", anonymousId=anonymous_id, name=rng.choice(PAGES), properties=_page(rng)
            )
        for _ in range(rng.randrange(1, 4)):
            yield event(
                "track", anonymousId=anonymous_id, event="Viewed Pricing", properties=_props(rng)
            )
        yield event("identify", userId=user_id, anonymousId=anonymous_id, traits=traits)
        yield event("track", userId=user_id, event="Signed Up", properties={"plan": traits["plan"]})
    for session in range(sessions):
        clock += timedelta(hours=rng.randrange(4, 72))
        if session and rng.random() < 0.15:
            traits = {**traits, "plan": rng.choice(PLANS), "logins": traits["logins"] + 1}
        page_loads = rng.randrange(1, 5)
        tracks = rng.randrange(1, 4)
        for load in range(page_loads):
            yield event("identify", userId=user_id, traits=traits)
            yield event("page", userId=user_id, name=rng.choice(PAGES), properties=_page(rng))
            if load == 0 and rng.random() < 0.2:
                group_traits = {
                    "name": company.title(),
                    "plan": "business",
                    "employees": 40 + index % 7,
                }
                yield event("group", userId=user_id, groupId=company, traits=group_traits)
            for _ in range(tracks // page_loads + (load < tracks % page_loads)):
                name = rng.choice(EVENT_NAMES)
                yield event("track", userId=user_id, event=name, properties=_props(rng, name))


def _props(rng: random.Random, name: str = "") -> dict[str, Any]:
    properties: dict[str, Any] = {
        "source": rng.choice(["web", "ios", "android"]),
        "duration_ms": rng.randrange(10, 5000),
    }
    if name == "Order Completed":
        properties |= {
            "order_id": f"o-{rng.getrandbits(32):08x}",
            "revenue": round(rng.uniform(5, 500), 2),
            "currency": rng.choice(["usd", "eur"]),
            "products": [{"sku": "a", "price": 9.99}],
        }
    return properties


def _page(rng: random.Random) -> dict[str, Any]:
    path = rng.choice(["/", "/pricing", "/docs", "/blog/post"])
    return {"path": path, "url": f"https://example.com{path}", "title": "Example"}
