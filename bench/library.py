"""Library mode: what a track() call costs the caller's thread, and how fast delivery goes.

    python -m bench.library [--users N] [--tracks T] [--latency-ms L ...] [--memory]

A sandbox subprocess with its rate limit off stands in for Intercom. For each latency L
(the sandbox answers every call L ms late), an `Analytics` with an `IntercomDestination`
(a SQLite file store, or memory with --memory) identifies N users and makes T tracks for
each, as fast as one thread can call. Every track() call is timed on the caller's thread
while delivery runs in the background: the median and p99 show what the application pays,
whatever the network does. Throughput is the events sent divided by the time from the first
call until flush() returns with everything delivered; the CPU figure is this process's CPU
time over that span, per event. For comparison, the same events go through the service's
path (stored, then drained by a worker, as `send` does) against the same sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.deliver import start_sandbox
from intercom_destination.delivery.engine import open_worker
from intercom_destination.library import Analytics, Flushed, IntercomDestination
from intercom_destination.settings import settings_from
from intercom_destination.spec import InvalidEvent, decode_event
from intercom_destination.store import new_event, open_store

#: A limit no run reaches: the sandbox's rate limit is "off".
NO_RATE_LIMIT = 1_000_000_000
EVENT_NAMES = [f"Event {n}" for n in range(10)]


def reset(url: str, latency_ms: int) -> None:
    httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    httpx.post(f"{url}/_sandbox/config", json={"rate_limit": NO_RATE_LIMIT}).raise_for_status()
    httpx.post(f"{url}/_sandbox/faults", json={"latency_ms": latency_ms}).raise_for_status()


def calls_made(url: str) -> int:
    counts = httpx.get(f"{url}/_sandbox/calls").json()["counts"]
    return sum(sum(by_status.values()) for by_status in counts.values())


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def library(url: str, args: argparse.Namespace, latency_ms: int, database: str) -> None:
    reset(url, latency_ms)
    costs: list[int] = []
    with Analytics() as analytics:
        analytics.add(IntercomDestination(api_url=url, database_url=database))
        cpu, started = cpu_seconds(), time.perf_counter()
        for user in range(args.users):
            analytics.identify(f"u{user}", {"email": f"u{user}@example.com", "plan": "pro"})
            for n in range(args.tracks):
                before = time.perf_counter_ns()
                analytics.track(f"u{user}", EVENT_NAMES[n % len(EVENT_NAMES)], {"n": n})
                costs.append(time.perf_counter_ns() - before)
        sent = time.perf_counter() - started
        flushed = analytics.flush()
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if flushed != Flushed():
        raise SystemExit(f"not everything was delivered: {flushed}")
    events = args.users * (1 + args.tracks)
    p99 = statistics.quantiles(costs, n=100)[98]
    print(
        f"library, latency {latency_ms:>3} ms: track() median "
        f"{statistics.median(costs) / 1000:.1f} µs, p99 {p99 / 1000:.1f} µs (all {events} "
        f"calls made in {sent:.2f} s); delivered in {elapsed:.2f} s: {events / elapsed:,.0f} "
        f"events/s, {calls_made(url) / elapsed:,.0f} Intercom calls/s, "
        f"{cpu / events * 1e6:,.0f} µs CPU per event in this process"
    )


def workload(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The same events, as a Segment client would send them."""
    objects: list[dict[str, Any]] = []
    for user in range(args.users):
        traits = {"email": f"u{user}@example.com", "plan": "pro"}
        objects.append({"type": "identify", "userId": f"u{user}", "traits": traits})
        objects += [
            {
                "type": "track",
                "userId": f"u{user}",
                "event": EVENT_NAMES[n % len(EVENT_NAMES)],
                "properties": {"n": n},
            }
            for n in range(args.tracks)
        ]
    return objects


async def service(url: str, args: argparse.Namespace, database: str) -> None:
    reset(url, 0)
    settings = settings_from({"access_token": "bench", "api_url": url, "database_url": database})
    at = time.time()
    received = datetime.fromtimestamp(at, UTC)
    events = []
    for number, obj in enumerate(workload(args)):
        event = decode_event(obj, received_at=received, make_message_id=lambda n=number: f"e{n}")
        assert not isinstance(event, InvalidEvent), event
        events.append(new_event(event, at))
    store = await open_store(settings.database_url)
    async with store, open_worker(settings, store) as worker:
        started = time.perf_counter()
        await store.enqueue(events)
        await worker.drain()
        elapsed = time.perf_counter() - started
    print(
        f"service, latency   0 ms: stored, then drained in {elapsed:.2f} s: "
        f"{len(events) / elapsed:,.0f} events/s, {calls_made(url) / elapsed:,.0f} Intercom calls/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tracks", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--memory", action="store_true", help="keep the store in memory")
    args = parser.parse_args()
    print(f"command: python -m bench.library {' '.join(sys.argv[1:])}")
    print(
        f"workload: {args.users} users, each one identify then {args.tracks} tracks "
        f"({args.users * (1 + args.tracks)} events); store: "
        f"{'memory' if args.memory else 'SQLite file'}; sandbox rate limit off"
    )
    process, url = start_sandbox(NO_RATE_LIMIT)
    try:
        with tempfile.TemporaryDirectory() as directory:
            stores = (f"sqlite:///{directory}/{run}.db" for run in range(len(args.latency_ms) + 1))
            if args.memory:
                stores = ("sqlite:///:memory:" for _ in range(len(args.latency_ms) + 1))
            for latency in args.latency_ms:
                library(url, args, latency, next(stores))
            asyncio.run(service(url, args, next(stores)))
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
