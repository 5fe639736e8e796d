"""The console's reads on a big store: p50 and p95 of each, on a SQLite file and on PostgreSQL.

    python -m bench.console [--outcomes N] [--repeat R] [--postgres URL | --sqlite-only]

Seeds a fresh store with N outcome rows (default 1,000,000) spread over the last week: 20,000
users and 2,000 anonymous visitors, half the events with an email, 40 event names, a
realistic mix of outcomes, a trace for one attempt in ten (the store keeps 100,000 by
default), per-minute counters folded as `prune` leaves them, and 5,000 dead letters whose
reasons name their user (about 5,000 distinct reasons of 20 shapes). Then runs each read of
`READS` R times (default 50) and prints its p50 and p95.
Rows are written with plain SQL for speed; the reads are the store's own.

It also prints what keeping a trace costs delivery: lease + `delivered` for 10,000 events
from 4 workers, on a fresh store, without a trace and with a typical one (two requests), in
alternate runs (the median of 3 each).

`READS` is a list of named async callables taking the store and the seeded `Sample`, so that a
bench of the console's HTTP pages can time its own the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
import psycopg

from bench.store import deliver, enqueue_sequential, fresh_database, in_lanes, workload
from intercom_destination.store import (
    EventQuery,
    Store,
    Trace,
    TracedCall,
    open_store,
)

WEEK = 7 * 24 * 3600
NOW = float(int(time.time()))
USERS, VISITORS, NAMES, REASONS, DEAD = 20_000, 2_000, 40, 20, 5_000
OUTCOMES = [("delivered", 85), ("skipped", 8), ("retry", 4), ("parked", 2), ("dead", 1)]
TYPES = [("track", 70), ("identify", 20), ("page", 10)]

COLUMNS = "at, message_id, lane, type, outcome, reason, calls, user_id, anonymous_id, email, event"


@dataclass(frozen=True)
class Sample:
    """What the seeded store holds, for the reads to ask about."""

    message_ids: list[str]
    traced: list[str]
    users: list[str]
    visitors: list[str]
    emails: list[str]
    names: list[str]


def _trace(user: str, name: str) -> bytes:
    body = msgspec.json.encode(
        {"event_name": name, "created_at": int(NOW), "user_id": user, "metadata": {"total": 19.99}}
    ).decode()
    calls = tuple(
        TracedCall(
            at=NOW,
            method="POST",
            path=path,
            body=body,
            status=status,
            request_id="0009a1b2c3d4e5f6",
            duration=0.08,
        )
        for path, status in (("/contacts", 200), ("/events", 202))
    )
    operations = ({"op": "create_event", "method": "POST", "path": "/events", "body": body},)
    return msgspec.json.encode(Trace(operations=operations, calls=calls))


def _event_body(message_id: str, user: str | None, visitor: str | None, name: str) -> bytes:
    return msgspec.json.encode(
        {
            "type": "track",
            "messageId": message_id,
            "userId": user,
            "anonymousId": visitor,
            "event": name,
            "properties": {"revenue": 19.99, "currency": "USD", "plan": "pro"},
            "context": {"library": {"name": "analytics-python", "version": "2.3.2"}},
        }
    )


def rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """`COLUMNS` of `count` outcome rows, oldest first; every tenth has a trace."""
    outcomes = [name for name, weight in OUTCOMES for _ in range(weight)]
    types = [name for name, weight in TYPES for _ in range(weight)]
    for i in range(count):
        at = NOW - WEEK + WEEK * i / count
        anonymous = rng.random() < 0.1
        user = None if anonymous else f"user-{rng.randrange(USERS)}"
        visitor = f"visitor-{rng.randrange(VISITORS)}" if anonymous or rng.random() < 0.3 else None
        type_ = rng.choice(types)
        name = f"Event {rng.randrange(NAMES)}" if type_ == "track" else None
        outcome = rng.choice(outcomes)
        email = f"{user}@example.com" if user and rng.random() < 0.5 else None
        reason = f"reason {rng.randrange(REASONS)}" if outcome in ("dead", "skipped") else None
        yield (
            at,
            f"message-{i}",
            user or visitor,
            type_,
            outcome,
            reason,
            rng.choice((1, 1, 2, 3)),
            user,
            visitor,
            email,
            name,
        )


def seed_sqlite(path: str, count: int, rng: random.Random) -> None:
    with sqlite3.connect(path) as connection:
        connection.executemany(
            f"INSERT INTO outcomes ({COLUMNS}) VALUES ({', '.join('?' * 11)})", rows(count, rng)
        )
        connection.executemany(
            "INSERT INTO traces (at, message_id, user_id, anonymous_id, body, trace)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            _traces(
                connection.execute(f"SELECT {COLUMNS} FROM outcomes WHERE id % 10 = 0").fetchall()
            ),
        )
        connection.execute(_COUNTERS)
        connection.executemany(_DEAD, _dead(rng))


def seed_postgres(url: str, count: int, rng: random.Random) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        with connection.cursor().copy(f"COPY outcomes ({COLUMNS}) FROM STDIN") as copy:
            for row in rows(count, rng):
                copy.write_row(row)
        traced = connection.execute(f"SELECT {COLUMNS} FROM outcomes WHERE id % 10 = 0")
        with connection.cursor().copy(
            "COPY traces (at, message_id, user_id, anonymous_id, body, trace) FROM STDIN"
        ) as copy:
            for row in _traces(traced.fetchall()):
                copy.write_row(row)
        connection.execute(_COUNTERS.replace("CAST(at AS INTEGER)", "floor(at)::bigint"))
        with connection.cursor() as cursor:
            cursor.executemany(_DEAD.replace("?", "%s"), list(_dead(rng)))
        connection.execute("ANALYZE")


def _traces(outcomes: Any) -> Iterator[tuple[Any, ...]]:
    for at, message_id, _, _, _, _, _, user, visitor, _, name in outcomes:
        body = _event_body(message_id, user, visitor, name or "Page")
        yield at, message_id, user, visitor, body, _trace(user or visitor, name or "Page")


_COUNTERS = (
    "INSERT INTO outcome_counts (bucket, type, outcome, events, calls)"
    " SELECT CAST(at AS INTEGER) / 60 * 60, type, outcome, count(*), sum(calls) FROM outcomes"
    " GROUP BY 1, 2, 3"
)
_DEAD = (
    "INSERT INTO events (id, message_id, lane, type, received_at, body, state, position,"
    " attempts, history, finished_at, reason) VALUES (?, ?, ?, 'track', ?, ?, 2, ?, 1, '[]',"
    " ?, ?)"
)


def _dead(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(1, DEAD + 1):
        user = f"user-{rng.randrange(USERS)}"
        at = NOW - rng.uniform(0, WEEK)
        body = _event_body(f"dead-{i}", user, None, "Event 1")
        # Each names its user, as real reasons do: ~5,000 distinct reasons under 20 shapes.
        reason = f"Intercom refused the event of {user!r}: reason {rng.randrange(REASONS)}"
        yield (i, f"dead-{i}", user, at, body, i, at, reason)


def sample(count: int) -> Sample:
    return Sample(
        message_ids=[f"message-{i}" for i in range(0, count, 997)],
        traced=[f"message-{i}" for i in range(9, count, 9_970)],
        users=[f"user-{i}" for i in range(0, USERS, 97)],
        visitors=[f"visitor-{i}" for i in range(0, VISITORS, 13)],
        emails=[f"user-{i}@example.com" for i in range(0, USERS, 97)],
        names=[f"Event {i}" for i in range(NAMES)],
    )


Read = Callable[[Store, Sample, random.Random], Awaitable[object]]


def _search(key: str | None, pick: Callable[[Sample], list[str]], **filters: Any) -> Read:
    async def read(store: Store, seeded: Sample, rng: random.Random) -> object:
        text = rng.choice(pick(seeded))
        return await store.search(
            msgspec.convert({"text": text, "key": key, **filters}, EventQuery)
        )

    return read


async def _second_page(store: Store, seeded: Sample, rng: random.Random) -> object:
    first = await store.search(EventQuery(text=rng.choice(seeded.names), key="event"))
    return await store.search(EventQuery(text="", before=first.next, outcome="skipped"))


async def _story(store: Store, seeded: Sample, rng: random.Random) -> object:
    story = await store.story(rng.choice(seeded.traced))
    assert story is not None, "a traced event has a story"
    assert story.traces, "a traced event has its trace"
    return story


#: The console's reads, by name.
READS: list[tuple[str, Read]] = [
    ("overview, last hour", lambda store, _, __: store.overview(NOW, 3600)),
    ("overview, last day", lambda store, _, __: store.overview(NOW, 24 * 3600)),
    ("overview, last week", lambda store, _, __: store.overview(NOW, WEEK)),
    ("search messageId, any key", _search(None, lambda s: s.message_ids)),
    ("search messageId", _search("message_id", lambda s: s.message_ids)),
    ("search userId", _search("user_id", lambda s: s.users)),
    ("search anonymousId", _search("anonymous_id", lambda s: s.visitors)),
    ("search email", _search("email", lambda s: s.emails)),
    ("search event name", _search("event", lambda s: s.names)),
    ("search event name, dead only", _search("event", lambda s: s.names, outcome="dead")),
    ("search all, type page", _search(None, lambda _: [""], type="page")),
    ("search skipped, a second page", _second_page),
    ("story of a traced event", _story),
    ("dead-letter groups", lambda store, _, __: store.dead_groups()),
    ("status", lambda store, _, __: store.status(NOW)),
]


async def measure(url: str, count: int, repeat: int) -> dict[str, tuple[float, float]]:
    async with await open_store(url, outcome_log_rows=count, create=False) as store:
        # What the worker's upkeep leaves: old minutes folded into hours.
        await store.prune(NOW, limit=0)
        return await time_reads(store, sample(count), READS, repeat)


async def time_reads(
    store: Store, seeded: Sample, reads: Sequence[tuple[str, Read]], repeat: int
) -> dict[str, tuple[float, float]]:
    """Each read's p50 and p95 over `repeat` runs, in milliseconds, by name."""
    rng = random.Random(7)
    figures: dict[str, tuple[float, float]] = {}
    for name, read in reads:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            await read(store, seeded, rng)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        figures[name] = (statistics.median(times), times[int(0.95 * (len(times) - 1))])
    return figures


async def completions(postgres: str | None) -> dict[str, float]:
    """Events/s of lease + delivered without a trace and with one, alternately."""
    events = workload(10_000, hot_share=0.0, ids="random")
    trace = msgspec.json.decode(_trace("user-1", "Order Completed"), type=Trace)
    figures: dict[str, list[float]] = {"without a trace": [], "with a trace": []}
    for _ in range(3):
        for name, given in (("without a trace", None), ("with a trace", trace)):
            with fresh_database(None, postgres) as url:
                async with await open_store(url) as store:
                    await enqueue_sequential(store, events)
                    await in_lanes(store)
                    started = time.perf_counter()
                    await deliver(4, given)(store, events)
                    figures[name].append(len(events) / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in figures.items()}


@contextmanager
def seeded(postgres: str | None, count: int) -> Iterator[str]:
    with fresh_database(None, postgres) as url:
        asyncio.run(_create(url))
        started = time.perf_counter()
        rng = random.Random(1)
        if postgres is None:
            seed_sqlite(url.removeprefix("sqlite:///"), count, rng)
        else:
            seed_postgres(url, count, rng)
        print(f"  seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        yield url


async def _create(url: str) -> None:
    async with await open_store(url):
        pass


def arguments(description: str, *, repeat: int) -> argparse.Namespace:
    """The options this bench and `bench.console_pages` share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--outcomes", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--sqlite-only", action="store_true")
    return parser.parse_args()


def backends(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """The stores to measure: SQLite, and PostgreSQL unless `--sqlite-only`."""
    chosen: list[tuple[str, str | None]] = [("SQLite", None)]
    if not args.sqlite_only:
        chosen.append(("PostgreSQL", args.postgres))
    return chosen


def print_figures(
    heading: str, names: Sequence[str], results: dict[str, dict[str, tuple[float, float]]]
) -> None:
    """One line per name: its p50 and p95 on each store measured."""
    heads = "".join(f"{label + ' p50':>16}{label + ' p95':>16}" for label in results)
    print(f"{heading:<32}{heads}")
    for name in names:
        cells = "".join(
            f"{figures[name][0]:>16.1f}{figures[name][1]:>16.1f}" for figures in results.values()
        )
        print(f"{name:<32}{cells}")


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0], repeat=50)
    results = {}
    writes = {}
    for label, postgres in backends(args):
        print(f"{label}: seeding {args.outcomes:,} outcomes", file=sys.stderr)
        with seeded(postgres, args.outcomes) as url:
            results[label] = asyncio.run(measure(url, args.outcomes, args.repeat))
        writes[label] = asyncio.run(completions(postgres))
    print_figures("read (ms)", [name for name, _ in READS], results)
    print("\nlease + delivered, 4 workers (events/s)")
    for label, figures in writes.items():
        without, with_ = figures["without a trace"], figures["with a trace"]
        ratio = with_ / without
        print(f"  {label}: {without:,.0f} without a trace, {with_:,.0f} with one ({ratio:.2f}x)")
    print("\n" + " ".join(["python -m bench.console", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
