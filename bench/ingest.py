"""Ingest throughput: Segment batches over HTTP into the store, with delivery paused.

    python -m bench.ingest [--events N] [--seconds S] [--connections C] [--batch B]
                           [--ids random|time-ordered] [--no-baseline]

Starts `intercom-destination ingest` on a temporary SQLite file (no worker runs, so every
accepted event stays in the backlog), then sends the generated workload (bench/workload.py)
as B-event batches from C keep-alive connections on loopback until N events were sent or S
seconds passed. Prints the accepted events/s, the latency of a request (p50, p99), the
server's CPU time per request (all its threads, start and stop included: a figure the load
generator's share of the cores moves less than the rate), the cores each of the server's
threads and the load generator used while loaded (read from /proc on Linux: the event loop,
the store's appender, writer and reader), the share of the machine left idle meanwhile, and
the event loop's time per request, and checks that the store holds every event that was
answered 200.

Then the same requests go to `bench/ingest_baseline.py`, a bare Starlette + SQLite ingest (no
validation, dedup, lanes or metrics), and the ratio of the two is printed: a figure from the
same machine in the same run, which a shared machine's noise moves much less than either.

`--ids` chooses the messageIds: random UUIDs as analytics-python sends them (the default), or
time-ordered ones (`node-next-<ms>-<uuid>`) as analytics-node and analytics.js send them. The
store indexes messageIds, so random ones cost it a random index page per event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import resource
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import httpx
import msgspec
import uvloop

from bench.workload import events
from intercom_destination.store import open_store

WRITE_KEY = "bench-write-key"
_LISTENING = re.compile(r"listening on (http://\S+)")


def requests(count: int, batch: int, host: str, ids: str = "random") -> Iterator[bytes]:
    """`count` events as whole HTTP requests of `batch` events each, ready to write."""
    sent_at = datetime.now(UTC).isoformat()
    started = int(time.time() * 1000)
    items = []
    for number, event in enumerate(events(users=count // 8 + 1)):
        if ids == "time-ordered":
            event["messageId"] = f"node-next-{started + number // 100}-{event['messageId']}"
        items.append(event)
        if len(items) == batch:
            yield _request(items, sent_at, host)
            items = []
            count -= batch
            if count <= 0:
                return


def _request(items: list[dict[str, object]], sent_at: str, host: str) -> bytes:
    body = msgspec.json.encode({"batch": items, "sentAt": sent_at, "writeKey": WRITE_KEY})
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"User-Agent: bench.ingest\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Load:
    """Keep-alive connections sending prepared requests until they run out or time is up."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}

    async def connection(self, host: str, port: int, queue: Iterator[bytes]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in queue:
                if time.perf_counter() > self.deadline:
                    return
                started = time.perf_counter()
                writer.write(request)
                status = await _response(reader)
                self.latencies.append(time.perf_counter() - started)
                self.statuses[status] = self.statuses.get(status, 0) + 1
        finally:
            writer.close()


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    return status


def start(
    command: list[str], directory: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """`command` started with its output in `directory`, once it answers on the URL it prints."""
    stdout, stderr = directory / "stdout.txt", directory / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _LISTENING.search(stdout.read_text())
        if process.poll() is not None:
            break
        if found:
            try:
                httpx.get(f"{found.group(1)}/health", timeout=5)
            except httpx.TransportError:
                pass
            else:
                return process, found.group(1)
        time.sleep(0.05)
    process.kill()
    sys.exit(f"{shlex.join(command)} did not start: {stderr.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def backlog(database: Path) -> int:
    async with await open_store(f"sqlite:///{database}") as store:
        return (await store.status(time.time())).backlog


def rows(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return int(connection.execute("SELECT count(*) FROM inbox").fetchone()[0])


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds each thread of process `pid` has used, by its name as the OS shows it (the
    store names its threads): the main thread, which runs the event loop, is "event loop", and
    threads that kept the process's name are summed as "other". Empty without /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    tasks = Path(f"/proc/{pid}/task")
    used: dict[str, float] = {}
    with contextlib.suppress(OSError):
        process_name = (tasks / str(pid) / "comm").read_text().strip()
        for task in tasks.iterdir():
            try:
                name = (task / "comm").read_text().strip()
                # utime and stime: the 14th and 15th fields, counted after the name's ")".
                fields = (task / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue  # the thread ended meanwhile
            if task.name == str(pid):
                name = "event loop"
            elif name == process_name:
                name = "other"
            seconds = (int(fields[11]) + int(fields[12])) / ticks
            used[name] = used.get(name, 0.0) + seconds
    return used


def machine_ticks() -> tuple[int, int]:
    """The machine's CPU time so far, idle and in all, in clock ticks ((0, 0) without /proc):
    whether the cores were all busy tells a server bound by its cores from one bound by its
    GIL or its waits."""
    try:
        fields = [int(field) for field in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0, 0
    # user nice system idle iowait irq softirq steal (guest time is counted in user's)
    return fields[3] + fields[4], sum(fields[:8])


def idle_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of the machine's CPU time that was idle between two `machine_ticks`."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else None


def cores(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """The cores each thread used between two `thread_cpu` readings `seconds` apart."""
    return {name: (used - before.get(name, 0.0)) / seconds for name, used in after.items()}


class Run(NamedTuple):
    name: str
    load: Load
    elapsed: float
    stored: int
    #: CPU seconds the server process used, user and system.
    cpu: float
    #: Cores the server's threads used while loaded, by thread name.
    threads: dict[str, float]
    #: Cores the load generator (this process) used meanwhile.
    generator: float
    #: The share of the machine's CPU time left idle meanwhile (None without /proc).
    idle: float | None

    def report(self, batch: int) -> float:
        """Prints the run's figures; its accepted events/s."""
        accepted = self.load.statuses.get(200, 0) * batch
        latencies = sorted(self.load.latencies)
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000
        rate = accepted / self.elapsed
        answered = sum(self.load.statuses.values())
        print(
            f"{self.name}: accepted {accepted:,} events in {self.elapsed:.1f} s: "
            f"{rate:,.0f} events/s; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
            f"statuses {dict(sorted(self.load.statuses.items()))}"
        )
        print(
            f"{self.name}: server CPU {self.cpu:.1f} s: "
            f"{self.cpu / answered * 1e6:,.0f} µs per request"
        )
        shares = sorted(self.threads.items(), key=lambda item: -item[1])
        busy = ", ".join(f"{name} {share:.2f}" for name, share in shares if share >= 0.01)
        idle = "" if self.idle is None else f"; machine {self.idle:.0%} idle"
        print(
            f"{self.name}: cores used under load: {busy}; load generator {self.generator:.2f}{idle}"
        )
        if "event loop" in self.threads:
            # What sets the rate: the event loop's thread runs at about 0.7-0.8 of a core in
            # both servers (see docs/performance.md), so they compare by its time per request.
            per_request = self.threads["event loop"] * self.elapsed / answered * 1e6
            print(f"{self.name}: event loop {per_request:,.0f} µs per request")
        verdict = "all" if self.stored == accepted else "NOT all"
        print(
            f"{self.name}: durable: {self.stored:,} events stored ({verdict} of those answered 200)"
        )
        if self.stored != accepted:
            sys.exit(1)
        return rate


def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    count_stored: Callable[[Path], int],
    prepared: list[bytes],
    args: argparse.Namespace,
) -> Run:
    """The prepared requests sent to the server `command` starts on a fresh database."""
    with tempfile.TemporaryDirectory() as name_of_directory:
        directory = Path(name_of_directory)
        cpu_before = _children_cpu()
        database = directory / "bench.db"
        process, url = start(
            [part.replace("{database}", str(database)) for part in command],
            directory,
            {key: value.replace("{database}", str(database)) for key, value in env.items()},
        )
        try:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            queue = iter(prepared)
            threads_before, generator_before = thread_cpu(process.pid), time.process_time()
            machine_before = machine_ticks()
            started = time.perf_counter()
            load = Load(started + args.seconds)

            async def run() -> None:
                await asyncio.gather(
                    *(load.connection(host, int(port), queue) for _ in range(args.connections))
                )

            # uvloop: the load generator shares the two cores with the server it measures.
            uvloop.run(run())
            elapsed = time.perf_counter() - started
            threads = cores(threads_before, thread_cpu(process.pid), elapsed)
            generator = (time.process_time() - generator_before) / elapsed
            idle = idle_share(machine_before, machine_ticks())
        finally:
            stop(process)
        cpu = _children_cpu() - cpu_before
        return Run(name, load, elapsed, count_stored(database), cpu, threads, generator, idle)


def _children_cpu() -> float:
    """CPU seconds of the child processes that ended and were waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=600_000, help="at most this many events")
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch", type=int, default=10, help="events per request")
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="ingest's --processes (default: one per core, as a deployment would run it)",
    )
    parser.add_argument("--ids", choices=["random", "time-ordered"], default="random")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the bare Starlette + SQLite run"
    )
    args = parser.parse_args()

    print(f"command: python -m bench.ingest {shlex.join(sys.argv[1:])}")
    prepared = list(requests(args.events, args.batch, "127.0.0.1", args.ids))
    print(
        f"workload: {len(prepared):,} requests of {args.batch} events ({args.ids} "
        f"messageIds), {args.connections} connections, at most {args.seconds:g} s each run;"
        f" ingest in {args.processes} process(es)"
    )
    python = [sys.executable, "-m"]
    ingest = measure(
        "ingest",
        [
            *python,
            "intercom_destination",
            "ingest",
            "--port",
            "0",
            "--processes",
            str(args.processes),
        ],
        {"SEGMENT_WRITE_KEYS": WRITE_KEY, "DATABASE_URL": "sqlite:///{database}"},
        lambda database: asyncio.run(backlog(database)),
        prepared,
        args,
    )
    rate = ingest.report(args.batch)
    if args.no_baseline:
        return
    baseline = measure(
        "baseline",
        [*python, "bench.ingest_baseline", "--database", "{database}"],
        {},
        rows,
        prepared,
        args,
    )
    floor = baseline.report(args.batch)
    print(f"ingest / baseline: {rate / floor:.2f}")


if __name__ == "__main__":
    main()
