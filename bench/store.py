"""Store throughput: ingest (enqueue) and delivery (lease + complete), on a SQLite file or
on PostgreSQL.

    python -m bench.store [--events N] [--runs R] [--dir DIR] [--ids random|time-ordered]
    python -m bench.store --postgres postgresql://127.0.0.1:5432/test [--events N] [--runs R]

Each figure is the median of R runs, each on a fresh database with the store's real
settings: a SQLite file in DIR (a temporary directory by default; WAL, a flush at every
commit), or a PostgreSQL database created for the run on the server the URL names (and
dropped after it):

- enqueue, 500 events per call, one call after another;
- enqueue, 10-event batches from 200 concurrent tasks (HTTP requests), which the writer
  group-commits;
  (both until every event is in its lane, see `in_lanes`);
- lease + delivered with 1 and 4 concurrent workers (asyncio tasks leasing up to 100 lanes
  each) over 5,000 users, and the same with 50 hot users sending half of all events.

Beside each figure, this process's CPU time per event (all its threads, the SQLite store's
included; PostgreSQL's server processes not), the median of the runs: steadier than events/s
on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import psycopg

from intercom_destination.store import NewEvent, Store, Trace, open_store

USERS = 5_000
HOT_USERS = 50
NOW = 1_800_000_000.0


def workload(count: int, hot_share: float, ids: str, seed: int = 7) -> list[NewEvent]:
    """`count` track events of about 400 bytes; `hot_share` of them from the 50 hot users."""
    rng = random.Random(seed)
    started = int(NOW * 1000)
    events = []
    for index in range(count):
        if rng.random() < hot_share:
            user = f"hot-{rng.randrange(HOT_USERS):03d}"
        else:
            user = f"user-{rng.randrange(USERS):05d}"
        message_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if ids == "time-ordered":
            message_id = f"node-next-{started + index // 100}-{message_id}"
        body = {
            "type": "track",
            "event": "Order Completed",
            "messageId": message_id,
            "userId": user,
            "timestamp": "2026-11-28T12:00:00.000Z",
            "properties": {"order_id": f"o-{index}", "revenue": 42.5, "currency": "USD"},
            "context": {
                "library": {"name": "analytics-python", "version": "2.3.3"},
                "ip": "203.0.113.7",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            },
        }
        events.append(
            NewEvent(
                message_id=message_id,
                type="track",
                user_id=user,
                received_at=NOW,
                body=msgspec.json.encode(body),
            )
        )
    return events


def batches(events: list[NewEvent], size: int) -> Iterator[list[NewEvent]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


async def enqueue_sequential(store: Store, events: list[NewEvent]) -> None:
    for batch in batches(events, 500):
        await store.enqueue(batch)


async def enqueue_concurrent(store: Store, events: list[NewEvent]) -> None:
    pending = batches(events, 10)

    async def request() -> None:
        for batch in pending:
            await store.enqueue(batch)

    await asyncio.gather(*(request() for _ in range(200)))


def deliver(
    workers: int, trace: Trace | None = None
) -> Callable[[Store, list[NewEvent]], Awaitable[None]]:
    """Lease + delivered from `workers` tasks until every event is delivered, each completion
    keeping `trace` if one is given."""

    async def run(store: Store, events: list[NewEvent]) -> None:
        remaining = len(events)

        async def worker(name: str) -> None:
            nonlocal remaining
            while remaining:
                leases = await store.lease(name, 100, 60, NOW)
                if not leases:
                    await asyncio.sleep(0.001)  # the other workers hold the lanes left
                    continue
                await asyncio.gather(
                    *(store.delivered(lease, now=NOW, trace=trace) for lease in leases)
                )
                remaining -= len(leases)

        await asyncio.gather(*(worker(f"worker-{n}") for n in range(workers)))

    return run


async def in_lanes(store: Store) -> None:
    """Returns once every event is in its lane (the SQLite store sorts its segments for a
    lease that finds too few lanes), leasing every lane for no time at all."""
    await store.lease("bench", USERS + HOT_USERS, 0, NOW)


@contextmanager
def fresh_database(directory: Path | None, postgres: str | None) -> Iterator[str]:
    """The URL of a new, empty database, removed afterwards."""
    if postgres is None:
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            yield f"sqlite:///{scratch}/bench.db"
        return
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}".encode())
    try:
        yield urlsplit(postgres)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(postgres, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE {name}".encode())


async def measure(
    database: Callable[[], AbstractContextManager[str]],
    events: list[NewEvent],
    work: Callable[[Store, list[NewEvent]], Awaitable[None]],
    prefill: bool,
) -> tuple[float, float]:
    """Events/s, and this process's CPU seconds per event."""
    with database() as url:
        async with await open_store(url) as store:
            if prefill:
                await enqueue_sequential(store, events)
                await in_lanes(store)
            started, cpu = time.perf_counter(), time.process_time()
            await work(store, events)
            if not prefill:
                await in_lanes(store)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            status = await store.status(NOW)
            assert status.backlog == (len(events) if not prefill else 0), status
    return len(events) / elapsed, cpu / len(events)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where the database files go")
    parser.add_argument(
        "--postgres", metavar="URL", help="measure PostgreSQL, on the server this URL names"
    )
    parser.add_argument("--ids", choices=["random", "time-ordered"], default="random")
    args = parser.parse_args()
    database = partial(fresh_database, args.dir, args.postgres)

    uniform = workload(args.events, hot_share=0.0, ids=args.ids)
    hot = workload(args.events, hot_share=0.5, ids=args.ids)
    scenarios = [
        ("enqueue, 500 per transaction", uniform, enqueue_sequential, False),
        ("enqueue, 10-event batches x200 tasks", uniform, enqueue_concurrent, False),
        ("lease+delivered, 1 worker", uniform, deliver(1), True),
        ("lease+delivered, 4 workers", uniform, deliver(4), True),
        ("lease+delivered, 4 workers, 50 hot", hot, deliver(4), True),
    ]
    print(f"command: python -m bench.store {' '.join(sys.argv[1:])}")
    print(
        f"workload: {args.events} events of ~{len(uniform[0].body)} bytes, {USERS} users, "
        f"{args.ids} messageIds"
    )
    for name, events, work, prefill in scenarios:
        runs = [await measure(database, events, work, prefill) for _ in range(args.runs)]
        rates = [rate for rate, _ in runs]
        cpu = statistics.median(cpu for _, cpu in runs)
        print(
            f"{name:38} median {statistics.median(rates):9,.0f} events/s "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {args.runs} runs),"
            f" {cpu * 1e6:.0f} µs CPU per event"
        )


if __name__ == "__main__":
    asyncio.run(main())
