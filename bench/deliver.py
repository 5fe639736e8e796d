"""Delivery to the sandbox with its rate limit on: calls per event, budget use, 429s, drain time,
and whether each company ended as its newest group call says.

    python -m bench.deliver [--users N] [--sessions S] [--rate-limit L] [--waves W]

The sender's CPU time (all its threads, the store's included) while draining is printed per
event and per delivered event: the machine's other work does not count in it, which makes
it the figure to compare from run to run on a shared machine.

A generated workload (bench/workload.py: thousands of users, sessions of identify + page
per page load, tracks, occasional groups; 30 % begin logged out) is stored, then one worker
delivers it to a sandbox subprocess that enforces L calls per 10-second window. The share
of the rate budget used is measured per sandbox window while the backlog lasted (the first
and last windows are partial and left out), against the budget the destination allows
itself (rate_share times L). Many users' lanes write each company, in no set order: a
company is stale when a field ends other than the newest group call (by timestamp) that set
it says. With `--waves W` the workload is stored in W parts, in the order it arrived, each
drained before the next is stored: later identifies then update contacts Intercom has, where
in a backfill each contact's identifies go with the call that creates it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from bench.workload import events
from intercom_destination.delivery.engine import open_worker
from intercom_destination.intercom import AiohttpTransport, Answer, Request
from intercom_destination.mapping import MappingOptions, Plan, UpsertCompany, plan
from intercom_destination.settings import settings_from
from intercom_destination.spec import InvalidEvent, decode_event
from intercom_destination.store import NewEvent, open_store
from intercom_destination.store.incoming import new_event

WINDOW = 10


def start_sandbox(rate_limit: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "intercom_destination", "sandbox", "--port", "0"),
            *("--rate-limit", str(rate_limit), "--no-access-log"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return process, found.group(1)
    raise SystemExit("the sandbox did not start")


def stored(objects: list[dict[str, object]], at: float) -> list[NewEvent]:
    received_at = datetime.fromtimestamp(at, UTC)
    decoded = [
        decode_event(obj, received_at=received_at, make_message_id=lambda: "unused")
        for obj in objects
    ]
    return [new_event(event, at) for event in decoded if not isinstance(event, InvalidEvent)]


class Counts(msgspec.Struct):
    counts: dict[str, dict[str, int]]


async def count_windows(url: str, per_window: dict[int, int], done: asyncio.Event) -> None:
    """Calls the sandbox answered in each of its 10-second windows (they start at multiples
    of ten Unix seconds), read just after each boundary.

    Its CPU counts as the sender's: it decodes only the counts of the sandbox's answer (which
    lists thousands of calls besides) and sends through the transport delivery uses, whose
    session costs nothing to open (an httpx client loads the system's certificates)."""
    transport = AiohttpTransport()
    try:
        previous = 0
        while not done.is_set():
            now = time.time()
            boundary = math.floor(now / WINDOW) * WINDOW + WINDOW
            await asyncio.sleep(boundary - now + 0.05)
            answer = await transport.send(Request("GET", f"{url}/_sandbox/calls", headers={}))
            counts = msgspec.json.decode(answer.content, type=Counts).counts
            total = sum(sum(by_status.values()) for by_status in counts.values())
            per_window[boundary - WINDOW] = total - previous
            previous = total
    finally:
        await transport.aclose()


class CountingBytes:
    """The network, counting the bytes of the request bodies sent, by endpoint (an Intercom
    id in a path as `{id}`)."""

    def __init__(self) -> None:
        self._http = AiohttpTransport()
        self.sent: Counter[str] = Counter()

    async def send(self, request: Request) -> Answer:
        path = re.sub(r"/[0-9a-f]{24}(?=/|$)", "/{id}", urlsplit(request.url).path)
        self.sent[f"{request.method} {path}"] += len(request.body or b"")
        return await self._http.send(request)

    async def aclose(self) -> None:
        await self._http.aclose()


def thread_cpu() -> Counter[str]:
    """CPU seconds each of this process's threads has used so far, by thread name (Linux;
    the store names its threads), so that a run can say where the sender's CPU went."""
    used: Counter[str] = Counter()
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        used[name] += (int(fields[11]) + int(fields[12])) / tick
    return used


def stale_companies(
    objects: list[dict[str, Any]], companies: list[dict[str, Any]], options: MappingOptions
) -> int:
    """Companies in which a field differs from what the group calls, applied in timestamp
    order as Intercom applies an upsert (the fields it names), leave."""
    expected: dict[str, dict[str, Any]] = defaultdict(dict)
    groups = sorted((o for o in objects if o["type"] == "group"), key=lambda o: o["timestamp"])
    received_at = datetime.now(UTC)
    for group in groups:
        event = decode_event(group, received_at=received_at, make_message_id=lambda: "unused")
        planned = None if isinstance(event, InvalidEvent) else plan(event, options)
        if isinstance(planned, Plan):
            for operation in planned.operations:
                if isinstance(operation, UpsertCompany):
                    expected[operation.company_id].update(operation.body)
    found = {company["company_id"]: company for company in companies}
    return sum(
        any(found.get(company_id, {}).get(field) != value for field, value in fields.items())
        for company_id, fields in expected.items()
    )


async def run(args: argparse.Namespace, url: str, directory: Path) -> None:
    settings = settings_from(
        {
            "access_token": "bench",
            "api_url": url,
            "database_url": f"sqlite:///{directory}/bench.db",
            "concurrency": args.concurrency,
        }
    )
    objects = list(events(users=args.users, sessions=args.sessions))
    store = await open_store(settings.database_url)
    per_window: dict[int, int] = {}
    done = asyncio.Event()
    counting = CountingBytes()
    async with open_worker(settings, store, transport=counting) as worker:
        counter = asyncio.create_task(count_windows(url, per_window, done))
        cpu = drain_time = 0.0
        threads: Counter[str] = Counter()
        # Each wave is stored, then drained: a later wave's identifies update contacts an
        # earlier one created, as events arriving while delivery keeps up do.
        size = math.ceil(len(objects) / args.waves)
        for start in range(0, len(objects), size):
            await store.enqueue(stored(objects[start : start + size], time.time()))
            started = time.perf_counter()
            cpu_started = time.process_time()
            threads_started = thread_cpu()
            await worker.drain()
            cpu += time.process_time() - cpu_started
            threads.update(thread_cpu())
            threads.subtract(threads_started)
            drain_time += time.perf_counter() - started
        done.set()
        await counter
    rows = await store.outcomes(limit=len(objects) * 4)
    await store.close()

    calls = httpx.get(f"{url}/_sandbox/calls").json()["counts"]
    state = httpx.get(f"{url}/_sandbox/state").json()
    companies = state["companies"]
    # One call per event created, per contact, per attachment and per company: what no
    # coalescing can do without.
    floor = len(state["events"]) + sum(1 + len(c["company_ids"]) for c in state["contacts"])
    floor += len(companies)
    stale = stale_companies(objects, companies, settings.mapping_options)
    total_calls = sum(sum(s.values()) for s in calls.values())
    rate_limited = sum(s.get("429", 0) for s in calls.values())
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    final = Counter()
    unchanged = 0
    for row in rows:
        by_type[row.type][1] += row.calls
        if row.outcome in ("delivered", "skipped", "dead"):
            by_type[row.type][0] += 1
            final[row.outcome] += 1
        unchanged += row.outcome == "skipped" and (row.reason or "").startswith("unchanged")
    anonymous = {o["messageId"] for o in objects if o["type"] == "track" and not o.get("userId")}
    saved = sum(row.outcome == "delivered" and row.message_id in anonymous for row in rows)
    budget = settings.rate_share * args.rate_limit
    full = sorted(per_window.items())[1:-1]

    print(f"command: python -m bench.deliver {' '.join(sys.argv[1:])}")
    print(f"workload: {len(objects)} events, {dict(Counter(o['type'] for o in objects))}")
    print(f"outcomes: {dict(final)} (unchanged identifies/groups skipped: {unchanged})")
    print(
        f"anonymous tracks delivered after sign-up: {saved} of {len(anonymous)} "
        "(sent without an identifier, as Segment's cloud mode does, all of them fail)"
    )
    print(
        f"Intercom calls: {total_calls}, {total_calls / len(objects):.3f} per event (the floor, "
        f"a call per event created, contact, attachment and company: {floor / len(objects):.3f})"
    )
    for kind, (count, made) in sorted(by_type.items()):
        print(f"  {kind:9} {made / count:.3f} calls per event ({count} events)")
    print(f"calls by endpoint: {dict(sorted(calls.items()))}")
    print(
        f"request body bytes: {sum(counting.sent.values()):,}, by endpoint "
        f"{dict(sorted(counting.sent.items()))}"
    )
    print(f"429 answers: {rate_limited}")
    upserts = sum(calls.get("POST /companies", {}).values())
    print(
        f"companies: {stale} of {len(companies)} stale; {upserts} company upserts "
        f"for {sum(o['type'] == 'group' for o in objects)} group calls"
    )
    rate = len(objects) / drain_time
    delivered = final["delivered"]
    print(
        f"sender CPU: {cpu:.1f} s, {cpu / len(objects) * 1000:.2f} ms per event, "
        f"{cpu / max(1, delivered) * 1000:.2f} ms per delivered event (process CPU time "
        f"of the worker's process while draining; load average {os.getloadavg()[0]:.1f})"
    )
    if threads:
        print(
            "  by thread: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in threads.most_common())
        )
    print(f"drain time: {drain_time:.1f} s for {len(objects)} events ({rate:,.0f} events/s)")
    if full:
        shares = [count / budget for _, count in full]
        print(
            f"budget used while backlogged: median {sorted(shares)[len(shares) // 2]:.1%} "
            f"of {budget:.0f} calls per window (rate_share {settings.rate_share} of limit "
            f"{args.rate_limit}); windows {[count for _, count in full]}"
        )
    else:
        print("budget used: the drain took under three windows; use more --users")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--rate-limit", type=int, default=1666)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--waves",
        type=int,
        default=1,
        help="store the workload in W parts as they arrived, draining after each (default: "
        "all at once, a backfill)",
    )
    args = parser.parse_args()
    process, url = start_sandbox(args.rate_limit)
    try:
        with tempfile.TemporaryDirectory() as directory:
            asyncio.run(run(args, url, Path(directory)))
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
