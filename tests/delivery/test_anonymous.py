"""Nothing before sign-up is lost: anonymous activity reaches the user once identified."""

from __future__ import annotations

import pytest

from tests.delivery.harness import harness

pytestmark = pytest.mark.anyio


def anonymous(kind: str, second: int, **fields: object) -> dict[str, object]:
    return {
        "type": kind,
        "anonymousId": "anon-1",
        "timestamp": f"2026-11-28T10:00:{second:02d}Z",
        **fields,
    }


LOGGED_OUT = [
    anonymous("page", 0, name="Pricing"),
    anonymous("track", 1, event="Viewed Pricing", properties={"plan": "team"}),
    anonymous("page", 2, name="Signup"),
    anonymous("track", 3, event="Started Signup"),
]
SIGN_UP = {
    "type": "identify",
    "userId": "u1",
    "anonymousId": "anon-1",
    "traits": {"email": "ada@example.com"},
    "timestamp": "2026-11-28T10:00:10Z",
}
AFTER = [
    {"type": "track", "userId": "u1", "event": "Signed Up", "timestamp": "2026-11-28T10:00:11Z"},
    anonymous("track", 12, event="Opened Docs"),
]


async def test_a_logged_out_session_reaches_the_user_after_sign_up_in_order(sandbox: str) -> None:
    async with harness(sandbox, page_events=True) as h:
        await h.deliver(*LOGGED_OUT)
        # nothing went to Intercom before the identify (it was asked which workspace it is)
        assert h.counts() == {"GET /me": {"200": 1}}
        assert (await h.store.status(h.clock())).parked == 4

        await h.deliver(SIGN_UP, *AFTER)
        events = h.events_of("u1")
        assert [(e["event_name"], e["created_at"] % 60) for e in events] == [
            ("Viewed Pricing Page", 0),
            ("Viewed Pricing", 1),
            ("Viewed Signup Page", 2),
            ("Started Signup", 3),
            ("Signed Up", 11),
            ("Opened Docs", 12),
        ]
        assert events[1]["metadata"] == {"plan": "team"}
        status = await h.store.status(h.clock())
        assert (status.parked, status.dead, status.backlog) == (0, 0, 0)


async def test_an_alias_links_the_visitor_the_same_way(sandbox: str) -> None:
    async with harness(sandbox) as h:
        await h.deliver(LOGGED_OUT[1], {**SIGN_UP, "anonymousId": None})
        assert (await h.store.status(h.clock())).parked == 1
        await h.deliver({"type": "alias", "userId": "u1", "previousId": "anon-1"})
        assert [e["event_name"] for e in h.events_of("u1")] == ["Viewed Pricing"]


async def test_an_unlinked_visitor_ends_dead_after_the_timeout_with_its_reason(
    sandbox: str,
) -> None:
    async with harness(sandbox) as h:
        await h.deliver(LOGGED_OUT[1])
        await h.upkeep_after(7 * 24 * 3600 + 1)
        [dead] = await h.store.dead_letters()
        assert dead.reason == (
            "waited until the wait_timeout for an identify (or alias) naming the userId of "
            "anonymous visitor 'anon-1', which never came: Intercom cannot attach an event to "
            "a person it does not know. Send that identify, then replay this event"
        )


async def test_the_link_survives_a_restart(sandbox: str, tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    async with harness(sandbox, database_url=url) as h:
        await h.deliver(SIGN_UP)
    async with harness(sandbox, database_url=url) as h:
        await h.deliver(LOGGED_OUT[1])
        assert [e["event_name"] for e in h.events_of("u1")] == ["Viewed Pricing"]


async def test_anonymous_events_can_go_to_a_lead_or_be_skipped(sandbox: str) -> None:
    async with harness(sandbox, anonymous="lead") as h:
        await h.deliver(LOGGED_OUT[1], LOGGED_OUT[3])
        [lead] = h.state()["contacts"]
        assert lead["role"] == "lead"
        assert [e["contact_id"] for e in h.state()["events"]] == [lead["id"], lead["id"]]
    async with harness(sandbox, anonymous="skip") as h:
        await h.deliver(LOGGED_OUT[1])
        [row] = await h.store.outcomes()
        assert row.outcome == "skipped"
        assert row.reason is not None
        assert row.reason.startswith("track without userId or email")
