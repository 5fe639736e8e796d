from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import msgspec
import pytest

from intercom_destination.store import (
    EventQuery,
    Finished,
    NewEvent,
    Refusal,
    Store,
    Trace,
    TracedCall,
    migrate_store,
    open_store,
)
from intercom_destination.store.postgres import schema as postgres_schema
from intercom_destination.store.sqlite import schema as sqlite_schema
from tests.store.helpers import NOW, event, execute

pytestmark = pytest.mark.anyio

HOUR = 3600
DAY = 24 * HOUR


def tracked(
    message_id: str,
    user_id: str | None,
    *,
    name: str = "Order Completed",
    type: str = "track",
    **fields: Any,
) -> NewEvent:
    """A track named `name` (other types have no name)."""
    return event(message_id, user_id, type=type, name=name if type == "track" else None, **fields)


def a_trace(status: int = 200, *refusals: Refusal) -> Trace:
    return Trace(
        operations=({"op": "create_event", "method": "POST", "path": "/events"},),
        warnings=("metadata key dropped",),
        calls=(
            TracedCall(
                at=NOW,
                method="POST",
                path="/events",
                body='{"event_name":"Order Completed"}',
                status=status,
                request_id="req-1",
                duration=0.01,
            ),
        ),
        refusals=refusals,
    )


async def deliver_all(store: Store, now: float = NOW, trace: Trace | None = None) -> None:
    while leases := await store.lease("w", 100, 30, now):
        for lease in leases:
            await store.delivered(lease, now=now, calls=1, trace=trace)


async def test_search_finds_outcomes_by_each_key_newest_first(store: Store) -> None:
    await store.enqueue(
        [
            tracked("m1", "u1", anonymous_id="a1", email="Ada@Example.com"),
            tracked("m2", "u2", name="Signed Up"),
            tracked("m3", None, anonymous_id="a3", type="page"),
        ]
    )
    await deliver_all(store)

    async def found(text: str, **filters: object) -> list[str]:
        page = await store.search(msgspec.convert({"text": text, **filters}, EventQuery))
        return [row.message_id for row in page.rows]

    assert await found("m2") == ["m2"]
    assert await found("u1", key="user_id") == ["m1"]
    assert await found("a3") == ["m3"]
    assert await found("ada@example.COM", key="email") == ["m1"]
    assert await found("Order Completed") == ["m1"]
    assert await found("Order Completed", key="user_id") == []
    newest_first = [row.message_id for row in await store.outcomes()]
    assert await found("") == newest_first
    assert await found("", type="page") == ["m3"]
    assert await found("", outcome="dead") == []
    [row] = (await store.search(EventQuery(text="m1"))).rows
    assert (row.user_id, row.anonymous_id, row.email, row.event) == (
        "u1",
        "a1",
        "ada@example.com",
        "Order Completed",
    )
    assert (row.outcome, row.calls, row.lane) == ("delivered", 1, "u1")


async def test_search_pages_with_a_cursor(store: Store) -> None:
    await store.enqueue([tracked(f"m{i}", "u1") for i in range(5)])
    await deliver_all(store)
    first = await store.search(EventQuery(text="u1", limit=2))
    second = await store.search(EventQuery(text="u1", limit=2, before=first.next))
    third = await store.search(EventQuery(text="u1", limit=2, before=second.next))

    pages = [[row.message_id for row in page.rows] for page in (first, second, third)]
    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    assert third.next is None
    skipped = await store.search(EventQuery(text="u1", outcome="skipped"))
    assert skipped.rows == ()


async def test_the_story_of_a_delivered_event_has_its_body_and_trace(store: Store) -> None:
    await store.enqueue([tracked("m1", "u1")])
    [lease] = await store.lease("w", 1, 30, NOW)
    await store.retry(lease, NOW + 60, "503 from Intercom", now=NOW, calls=1, trace=a_trace(503))
    [lease] = await store.lease("w", 1, 30, NOW + 60)
    await store.delivered(lease, now=NOW + 61, calls=1, trace=a_trace())

    story = await store.story("m1")

    assert story is not None
    assert (story.state, story.lane, story.type, story.waits) == ("done", "u1", "track", None)
    assert story.body == lease.event.body
    assert [row.outcome for row in story.outcomes] == ["retry", "delivered"]
    assert [t.trace.calls[0].status for t in story.traces] == [503, 200]
    assert story.traces[1].trace == a_trace()
    assert story.attempts == 2
    assert not story.pruned
    assert await store.story("nothing") is None


@pytest.mark.parametrize("keep", [False, True])
async def test_a_run_finished_together_keeps_each_events_outcome_trace_and_refusals(
    store: Store, keep: bool
) -> None:
    await store.enqueue([tracked(f"m{n}", "u1", email=f"{n}@example.com") for n in (1, 2, 3)])
    [lease] = await store.lease("w", 1, 30, NOW, following=5)
    refusal = Refusal(kind="contact_attribute", name="score", reason="not a number")
    done = [
        Finished(event=lease.event, outcome="delivered", calls=1, trace=a_trace()),
        Finished(
            event=lease.following[0],
            outcome="skipped",
            reason="unchanged",
            trace=a_trace(200, refusal),
        ),
        Finished(event=lease.following[1], outcome="delivered", calls=1, trace=a_trace(202)),
    ]

    await store.finish_many(lease, done, now=NOW, keep=keep)

    for message_id, outcome, status in (
        ("m1", "delivered", 200),
        ("m2", "skipped", 200),
        ("m3", "delivered", 202),
    ):
        story = await store.story(message_id)
        assert story is not None
        assert [row.outcome for row in story.outcomes] == [outcome]
        [attempt] = story.traces
        assert attempt.trace.calls[0].status == status
    found = await store.search(EventQuery(key="email", text="2@example.com"))
    assert [row.message_id for row in found.rows] == ["m2"]
    overview = await store.overview(NOW, HOUR)
    assert {(r.kind, r.name) for r in overview.refused} == {("contact_attribute", "score")}
    assert (await store.status(NOW)).outcomes == {"delivered": 2, "skipped": 1}


async def test_the_story_says_what_an_event_waits_for(store: Store) -> None:
    await store.enqueue([tracked("m1", "u1"), tracked("m2", "u2"), tracked("m3", "u3")])
    leases = {lease.lane: lease for lease in await store.lease("w", 3, 30, NOW)}
    waiting = "Intercom does not know user 'u1' yet: waiting for their identify"
    await store.park(
        leases["u1"], "contact:u1", NOW + 600, now=NOW, trace=a_trace(), reason=waiting
    )
    await store.retry(leases["u2"], NOW + 60, "timeout", now=NOW)

    parked, retried, leased = [await store.story(m) for m in ("m1", "m2", "m3")]

    assert parked is not None
    assert parked.waits is not None
    assert parked.state == "parked"
    assert (parked.waits.waiting_for, parked.waits.until) == ("contact:u1", NOW + 600)
    assert [(row.outcome, row.reason) for row in parked.outcomes] == [("parked", waiting)]
    assert retried is not None
    assert retried.waits is not None
    assert (retried.state, retried.waits.retry_at, retried.waits.leased_by) == (
        "pending",
        NOW + 60,
        None,
    )
    assert leased is not None
    assert leased.waits is not None
    assert (leased.waits.leased_by, leased.waits.leased_until) == ("w", NOW + 30)
    assert leased.body == leases["u3"].event.body
    assert leased.outcomes == ()


async def test_pruned_traces_are_told_apart_from_none(shared_url: str) -> None:
    async with await open_store(shared_url, trace_rows=1) as store:
        await store.enqueue([tracked("m1", "u1")])
        await deliver_all(store, NOW, a_trace())
        await store.enqueue([tracked("m2", "u2")])
        await deliver_all(store, NOW + 1, a_trace())

        assert await store.prune(NOW + 2) == 1

        first, second = await store.story("m1"), await store.story("m2")
        assert first is not None
        assert second is not None
        assert (first.pruned, first.traces, first.body) == (True, (), None)
        assert [row.outcome for row in first.outcomes] == ["delivered"]
        assert (second.pruned, len(second.traces)) == (False, 1)


async def test_traces_go_after_their_retention(shared_url: str) -> None:
    async with await open_store(shared_url, trace_retention=HOUR) as store:
        await store.enqueue([tracked("m1", "u1")])
        await deliver_all(store, NOW, a_trace())
        assert await store.prune(NOW + HOUR - 1) == 0
        assert await store.prune(NOW + HOUR + 1) == 1
        story = await store.story("m1")
        assert story is not None
        assert story.pruned


async def test_without_trace_rows_no_trace_is_kept(shared_url: str) -> None:
    async with await open_store(shared_url, trace_rows=0) as store:
        await store.enqueue([tracked("m1", "u1")])
        await deliver_all(store, NOW, a_trace())
        story = await store.story("m1")
        assert story is not None
        assert story.traces == ()


async def test_dead_letters_group_by_reason_and_replay_or_purge_a_group(store: Store) -> None:
    await store.enqueue([tracked(f"m{i}", f"u{i}") for i in range(5)])
    leases = sorted(await store.lease("w", 5, 30, NOW), key=lambda lease: lease.lane)
    for lease in leases[:3]:
        await store.dead(lease, "400 bad email", now=NOW + 1)
    for lease in leases[3:]:
        await store.dead(lease, "event name budget full", now=NOW + 2)

    groups = await store.dead_groups()

    assert [(g.shape, g.count, g.first_died, g.last_died) for g in groups] == [
        ("400 bad email", 3, NOW + 1, NOW + 1),
        ("event name budget full", 2, NOW + 2, NOW + 2),
    ]
    assert groups[0].sample_message_id == "m0"
    assert groups[0].sample_reason == "400 bad email"
    dead = await store.dead_letter(groups[0].sample_id)
    assert dead is not None
    assert dead.event.message_id == "m0"
    assert await store.replay_shape("400 bad email", now=NOW + 3) == 3
    assert await store.purge_shape("event name budget full") == 2
    assert await store.dead_groups() == []
    assert (await store.status(NOW + 3)).backlog == 3


def never_came(user_id: str) -> str:
    return f"waited until the wait_timeout for the identify of user {user_id!r}, which never came"


async def test_reasons_differing_only_in_a_quoted_value_form_one_group(store: Store) -> None:
    users = ["d1", "d2", "o'brien", "d4", "d5"]
    await store.enqueue([tracked(f"m{i}", user) for i, user in enumerate(users)])
    leases = {lease.lane: lease for lease in await store.lease("w", 5, 30, NOW)}
    for at, user in enumerate(users[:4]):
        await store.dead(leases[user], never_came(user), now=NOW + at)
    await store.dead(leases["d5"], "404 user 'd5' not found", now=NOW + 9)

    groups = await store.dead_groups()

    shape = "waited until the wait_timeout for the identify of user '…', which never came"
    assert [(g.shape, g.count, g.first_died, g.last_died) for g in groups] == [
        (shape, 4, NOW, NOW + 3),
        ("404 user '…' not found", 1, NOW + 9, NOW + 9),
    ]
    assert (groups[0].sample_message_id, groups[0].sample_reason) == ("m0", never_came("d1"))
    assert await store.replay_shape(shape, now=NOW + 10) == 4
    assert [g.shape for g in await store.dead_groups()] == ["404 user '…' not found"]
    assert await store.replay_shape(never_came("d5"), now=NOW + 10) == 0
    assert await store.purge_shape("404 user '…' not found") == 1
    assert await store.dead_groups() == []
    assert (await store.status(NOW + 10)).backlog == 4


async def test_the_overview_counts_by_minute_type_and_outcome(store: Store) -> None:
    refused = Refusal(kind="event_name", name="Signed Up", reason="budget full")
    dropped = Refusal(kind="contact_attribute", name="plan", reason="not a string")
    await store.enqueue([tracked("m1", "u1"), tracked("m2", "u2", type="identify")])
    await store.enqueue([tracked("m3", "u3", received_at=NOW + 60)])
    leases = {lease.lane: lease for lease in await store.lease("w", 3, 30, NOW + 60)}
    await store.delivered(leases["u1"], now=NOW + 60, calls=2, trace=a_trace(200, dropped))
    await store.skipped(leases["u2"], "unchanged", now=NOW + 60)
    await store.dead(leases["u3"], "refused", now=NOW + 61, calls=1, trace=a_trace(400, refused))
    await store.add_event_name("order-completed")
    await store.add_attribute("contact", "plan", "string")
    await store.pause_until(NOW + 600, "429 from Intercom")

    overview = await store.overview(NOW + 61, HOUR)

    minute = int(NOW + 60) // 60 * 60
    counts = {(c.start, c.type, c.outcome): (c.events, c.calls) for c in overview.counts}
    assert counts == {
        (minute - 60, "identify", "accepted"): (1, 0),
        (minute - 60, "track", "accepted"): (1, 0),
        (minute, "track", "accepted"): (1, 0),
        (minute, "track", "delivered"): (1, 2),
        (minute, "identify", "skipped"): (1, 0),
        (minute, "track", "dead"): (1, 1),
    }
    assert (overview.step, overview.calls, overview.finished) == (60, 3, 3)
    assert overview.calls_per_event == 1.0
    assert overview.rate_share(1.0) == 3 / HOUR
    assert overview.status.outcomes == {"delivered": 1, "skipped": 1, "dead": 1}
    assert overview.pause is not None
    assert overview.pause.reason == "429 from Intercom"
    assert overview.event_names == ("order-completed",)
    assert overview.attributes == {"contact": {"plan": "string"}}
    assert [(r.kind, r.name, r.times) for r in overview.refused] == [
        ("event_name", "Signed Up", 1),
        ("contact_attribute", "plan", 1),
    ]
    later = await store.overview(NOW + 2 * HOUR, HOUR)
    assert later.counts == ()
    assert later.calls == 0
    assert later.calls_per_event is None


async def test_status_counts_every_outcome_past_the_log_and_the_counters_fold(
    shared_url: str,
) -> None:
    async with await open_store(shared_url, outcome_log_rows=2) as store:
        await store.enqueue([event(f"m{i}", f"u{i}") for i in range(5)])
        await deliver_all(store)
        await store.prune(NOW)
        assert len(await store.outcomes()) == 2
        assert (await store.status(NOW)).outcomes == {"delivered": 5}

        # A day later the minutes are hours; a week later, totals.
        await store.prune(NOW + 2 * DAY)
        week = await store.overview(NOW + 2 * DAY, 7 * DAY)
        assert [(c.start, c.events) for c in week.counts if c.outcome == "delivered"] == [
            (int(NOW) // HOUR * HOUR, 5)
        ]
        await store.prune(NOW + 9 * DAY)
        assert (await store.overview(NOW + 9 * DAY, 7 * DAY)).counts == ()
        assert (await store.status(NOW + 9 * DAY)).outcomes == {"delivered": 5}


async def test_a_store_from_before_the_console_counts_its_outcome_log(shared_url: str) -> None:
    schema = sqlite_schema if shared_url.startswith("sqlite:") else postgres_schema
    before = schema.MIGRATIONS.index(schema.CONSOLE)
    statements = [statement for migration in schema.MIGRATIONS[:before] for statement in migration]
    if shared_url.startswith("sqlite:"):
        # Versions 3 and 4 moved the inbox through a file of its own.
        statements.insert(0, f"ATTACH DATABASE '{shared_url.removeprefix('sqlite:///')}-inbox'"
                          " AS arrivals")  # fmt: skip
    statements += [
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        f"INSERT INTO schema_version VALUES ({before})",
        *(
            "INSERT INTO outcomes (at, message_id, lane, type, outcome, reason, calls)"
            f" VALUES ({NOW}, 'm{i}', 'u1', 'track', '{outcome}', NULL, 1)"
            for i, outcome in enumerate(["delivered", "delivered", "dead"])
        ),
    ]
    if shared_url.startswith("sqlite:"):
        with closing(sqlite3.connect(shared_url.removeprefix("sqlite:///"))) as connection:
            for statement in statements:
                connection.execute(statement)
            connection.commit()
    else:
        execute(shared_url, ";\n".join(statements))
    await migrate_store(shared_url)

    async with await open_store(shared_url) as store:
        assert (await store.status(NOW)).outcomes == {"delivered": 2, "dead": 1}
        [row] = (await store.search(EventQuery(text="m2"))).rows
        assert (row.outcome, row.user_id) == ("dead", None)
