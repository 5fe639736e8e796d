"""Memory: the peak RSS of `ingest` holding a backlog, and of `send` storing and delivering a file.

    python -m bench.memory [--events N] [--deliver-events M] [--deliver-seconds S]
                           [--only ingest|store|deliver ...]

- ingest: `intercom-destination ingest` (one process, a SQLite file, no worker, so every
  accepted event stays in the backlog, whose bound is set a tenth above N) takes N events of
  the generated workload (bench/workload.py) over HTTP, as 50-event batches from 16
  keep-alive connections.
- store: `intercom-destination send FILE --no-wait` stores an N-event JSON Lines file of the
  same workload.
- deliver: `intercom-destination send FILE` stores an M-event file and delivers it to a
  sandbox subprocess with its rate limit off. Delivery runs at a few hundred events/s on two
  shared cores, so M is smaller than N by default (storing is measured at N by the line
  above); with S, `send` is interrupted after S seconds, as ^C would, to measure a file that
  would take hours to deliver as far as it got.

Each line gives the process's peak RSS as the kernel counts it (its high-water mark, read
from /proc until it ends or is stopped), and its RSS sampled as the events went in, to show
what grows with their count; for ingest, also some seconds after the last answer, when the
writer has sorted the backlog into its lanes. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import uvloop

from bench.deliver import start_sandbox
from bench.ingest import WRITE_KEY, Load, backlog, requests, start, stop
from bench.workload import events
from intercom_destination.store import open_store

BATCH = 50
CONNECTIONS = 16
#: Far above what the sandbox can answer: its rate limit is off.
NO_LIMIT = 1_000_000_000
MB = 1024 * 1024


def rss(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of process `pid` from /proc (VmRSS: now; VmHWM: its peak), in bytes;
    0 once it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def report(name: str, count: int, command: str, peak: int, samples: list[tuple[str, int]]) -> None:
    trend = ", ".join(f"{label} {size / MB:,.0f}" for label, size in samples)
    print(
        f"{name}: {count:,} events: peak RSS {peak / MB:,.0f} MB (RSS in MB: {trend})\n"
        f"  command: {command}",
        flush=True,
    )


def measure_ingest(count: int, settle: float) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        database = directory / "bench.db"
        command = [sys.executable, "-m", "intercom_destination", "ingest", "--port", "0"]
        env = {
            "SEGMENT_WRITE_KEYS": WRITE_KEY,
            "DATABASE_URL": f"sqlite:///{database}",
            # Room for every event, near enough that ingest counts its backlog every second
            # past half of it, as it does near its bound.
            "INTERCOM_DESTINATION_MAX_BACKLOG": str(count + count // 10),
        }
        process, url = start(command, directory, env)
        samples = [("at start", rss(process.pid))]
        try:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            requests_made = count // BATCH
            # RSS at every tenth of the requests, as they are made.
            tenths = {requests_made * tenth // 10: tenth for tenth in range(1, 11)}

            def queue() -> Iterator[bytes]:
                # One generator that the connections share: requests are made as they go.
                for number, request in enumerate(requests(count, BATCH, host), start=1):
                    yield request
                    if number in tenths:
                        samples.append((f"{count * tenths[number] // 10:,}", rss(process.pid)))

            load = Load(float("inf"))
            shared = queue()
            started = time.perf_counter()

            async def run() -> None:
                await asyncio.gather(
                    *(load.connection(host, int(port), shared) for _ in range(CONNECTIONS))
                )

            uvloop.run(run())
            elapsed = time.perf_counter() - started
            time.sleep(settle)
            samples.append((f"{settle:g} s after", rss(process.pid)))
            peak = rss(process.pid, "VmHWM")
        finally:
            stop(process)
        accepted = load.statuses.get(200, 0) * BATCH
        held = asyncio.run(backlog(database))
        shown = " ".join(f"{key}={value}" for key, value in env.items())
        report("ingest", accepted, f"{shown} {shlex.join(command[1:])}", peak, samples)
        print(f"  {elapsed:.0f} s; statuses {load.statuses}; the store holds {held:,} events")
        if held != accepted:
            sys.exit(f"the store holds {held:,} of the {accepted:,} events answered 200")


def write_file(path: Path, count: int) -> None:
    encode = msgspec.json.Encoder().encode
    with path.open("wb") as file:
        for event in itertools.islice(events(users=count // 8 + 1), count):
            file.write(encode(event) + b"\n")


def measure_send(count: int, *, deliver: bool, seconds: float | None = None) -> None:
    """`send` of a `count`-event file, delivering it if `deliver`; interrupted (as ^C would)
    after `seconds` if it runs that long."""
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        file = directory / "events.jsonl"
        write_file(file, count)
        env = {"DATABASE_URL": f"sqlite:///{directory / 'bench.db'}"}
        sandbox = None
        if deliver:
            sandbox, url = start_sandbox(NO_LIMIT)
            env["INTERCOM_API_URL"] = url
        arguments = ["send", str(file), *([] if deliver else ["--no-wait"])]
        command = [sys.executable, "-m", "intercom_destination", *arguments]
        errors = directory / "stderr.txt"
        try:
            with errors.open("wb") as stderr:
                started = time.perf_counter()
                process = subprocess.Popen(
                    command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=stderr
                )
            samples: list[tuple[str, int]] = []
            peak = 0
            # Its high-water mark, read until it ends (the rusage of a child counts its
            # parent's RSS from before the exec, this process's).
            interrupted = False
            while process.poll() is None:
                late = seconds is not None and time.perf_counter() - started > seconds
                if late and not interrupted:
                    process.send_signal(signal.SIGINT)
                    interrupted = True
                peak = max(peak, rss(process.pid, "VmHWM"))
                if size := rss(process.pid):
                    samples.append((f"{time.perf_counter() - started:.0f} s", size))
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            outcomes = asyncio.run(stored_outcomes(directory / "bench.db"))
        finally:
            if sandbox is not None:
                sandbox.terminate()
                sandbox.wait()
        shown = " ".join(f"{key}={value}" for key, value in env.items())
        name_of_run = "send" if deliver else "send --no-wait"
        if interrupted:
            name_of_run += f" (interrupted after {seconds:g} s)"
        # A tenth of the samples or so: the trend.
        step = max(1, len(samples) // 10)
        report(name_of_run, count, f"{shown} {shlex.join(command[1:])}", peak, samples[::step])
        # The summary line ("N stored for delivery; ..." or "N events: ... delivered, ..."),
        # or what an interrupted send says.
        lines = errors.read_text().splitlines()
        summary = [line for line in lines if " invalid, " in line or "interrupted" in line]
        print(f"  {elapsed:.0f} s; exit {process.returncode}; {''.join(summary[-1:])}")
        print(f"  the store holds {outcomes}")


async def stored_outcomes(database: Path) -> str:
    """How many events the store holds pending, and its outcomes so far."""
    async with await open_store(f"sqlite:///{database}") as store:
        status = await store.status(time.time())
    return f"{status.backlog:,} pending; outcomes {dict(sorted(status.outcomes.items()))}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="for ingest and storing")
    parser.add_argument("--deliver-events", type=int, default=100_000, help="for delivering")
    parser.add_argument(
        "--deliver-seconds",
        type=float,
        help="interrupt the delivering send after this long (for a file it would take hours)",
    )
    parser.add_argument(
        "--only", choices=["ingest", "store", "deliver"], action="append", help="(repeatable)"
    )
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after the load")
    args = parser.parse_args()
    # The processes must not pick up a developer's Intercom, write keys or database.
    for name in ("INTERCOM_ACCESS_TOKEN", "INTERCOM_API_URL", "SEGMENT_WRITE_KEYS"):
        os.environ.pop(name, None)
    print(f"command: python -m bench.memory {shlex.join(sys.argv[1:])}", flush=True)
    runs = args.only or ["ingest", "store", "deliver"]
    if "ingest" in runs:
        measure_ingest(args.events, args.settle)
    if "store" in runs:
        measure_send(args.events, deliver=False)
    if "deliver" in runs:
        measure_send(args.deliver_events, deliver=True, seconds=args.deliver_seconds)


if __name__ == "__main__":
    main()
