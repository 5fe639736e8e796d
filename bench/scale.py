"""Scale-out throughput on PostgreSQL: `ingest` and `worker` processes sharing one database.

    python -m bench.scale [--postgres URL] [--ingest-events N] [--drain-events M] [--runs R]

Each figure is the median of R runs, each on a fresh database created on the server URL
names (default postgresql://127.0.0.1:5432/test) and dropped afterwards; the workload is
bench/workload.py's (identify, page, track and group events of many users).

- ingest: 1 and 2 `intercom-destination ingest` processes; 16 keep-alive connections spread
  over them post N events as 50-event `/v1/batch` requests (encoded before the clock starts).
  The figure is events answered 200 per second, and the store is checked to hold them all.
- drain: 1, 2 and 4 `intercom-destination worker` processes (started and idle first), then
  M events are enqueued at once; the figure is M over the time until nothing is pending or
  in flight. They deliver to one sandbox process with its rate limit off, so what is measured
  is the engine, the store and the sandbox, not Intercom's budget.

Every process runs on this machine's cores, next to PostgreSQL and the load: on a 2-core
machine more processes share the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import msgspec

from bench.deliver import start_sandbox, stored
from bench.store import fresh_database
from bench.workload import events
from intercom_destination.store import open_store

BATCH = 50
CONNECTIONS = 16
#: Far above what the sandbox can answer: its rate limit is off.
NO_LIMIT = 1_000_000_000
_LISTENING = re.compile(r"listening on (http://\S+)")


def workload(count: int) -> list[dict[str, object]]:
    return list(itertools.islice(events(users=count // 8 + 1), count))


@contextmanager
def command(
    args: list[str], env: dict[str, str], logs: Path, ready: Callable[[Path, Path], bool]
) -> Iterator[Path]:
    """`intercom-destination ARGS` until the block ends, once `ready(stdout, stderr)`; yields
    the file its standard output goes to."""
    name = f"{args[0]}-{time.monotonic_ns()}"
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "intercom_destination", *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        while not ready(stdout, stderr):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{args[0]} did not start: {stderr.read_text()}")
            time.sleep(0.05)
        yield stdout
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(stdout: Path, _: Path) -> bool:
    return _LISTENING.search(stdout.read_text()) is not None


def _worker_started(_: Path, stderr: Path) -> bool:
    return "worker started" in stderr.read_text()


async def post_all(urls: list[str], bodies: list[bytes]) -> None:
    pending = iter(bodies)

    async def connection(url: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            for body in pending:
                response = await http.post(
                    "/v1/batch",
                    content=body,
                    headers={"Content-Type": "application/json"},
                    auth=("bench-write-key", ""),
                )
                response.raise_for_status()

    await asyncio.gather(*(connection(urls[n % len(urls)]) for n in range(CONNECTIONS)))


async def pending(database_url: str) -> tuple[int, int]:
    async with await open_store(database_url) as store:
        status = await store.status(time.time())
    return status.backlog, status.in_flight


def measure_ingest(server: str, processes: int, objects: list[dict[str, object]]) -> float:
    bodies = [
        msgspec.json.encode({"batch": objects[start : start + BATCH]})
        for start in range(0, len(objects), BATCH)
    ]
    with fresh_database(None, server) as url, TemporaryDirectory() as logs, ExitStack() as run:
        env = {"DATABASE_URL": url}
        outputs = [
            run.enter_context(command(["ingest", "--port", "0"], env, Path(logs), _listening))
            for _ in range(processes)
        ]
        urls = [_url(output) for output in outputs]
        started = time.perf_counter()
        asyncio.run(post_all(urls, bodies))
        elapsed = time.perf_counter() - started
        backlog, _ = asyncio.run(pending(url))
        assert backlog == len(objects), f"the store holds {backlog} of {len(objects)} events"
    return len(objects) / elapsed


def measure_drain(
    server: str, sandbox: str, workers: int, objects: list[dict[str, object]]
) -> float:
    httpx.post(f"{sandbox}/_sandbox/reset").raise_for_status()
    config = {"rate_limit": NO_LIMIT}
    httpx.post(f"{sandbox}/_sandbox/config", json=config).raise_for_status()
    with fresh_database(None, server) as url, TemporaryDirectory() as logs, ExitStack() as run:
        env = {"DATABASE_URL": url, "INTERCOM_API_URL": sandbox}
        for _ in range(workers):
            run.enter_context(command(["worker"], env, Path(logs), _worker_started))
        stored_events = stored(objects, time.time())

        async def enqueue() -> None:
            async with await open_store(url) as store:
                for start in range(0, len(stored_events), 500):
                    await store.enqueue(stored_events[start : start + 500])

        started = time.perf_counter()
        asyncio.run(enqueue())
        while asyncio.run(pending(url)) != (0, 0):
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    return len(stored_events) / elapsed


def _url(stdout: Path) -> str:
    found = _LISTENING.search(stdout.read_text())
    assert found is not None
    return found.group(1)


def _report(name: str, rates: list[float]) -> None:
    print(
        f"{name:28} median {statistics.median(rates):8,.0f} events/s "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {len(rates)} runs)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test", metavar="URL")
    parser.add_argument("--ingest-events", type=int, default=50_000)
    parser.add_argument("--drain-events", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # The processes must not pick up a developer's Intercom, write keys or database.
    for name in ("INTERCOM_ACCESS_TOKEN", "INTERCOM_API_URL", "SEGMENT_WRITE_KEYS"):
        os.environ.pop(name, None)

    print(f"command: python -m bench.scale {' '.join(sys.argv[1:])}")
    print(f"cores: {os.cpu_count()}; workload: bench/workload.py, {BATCH}-event batches")
    ingest_load = workload(args.ingest_events)
    for processes in (1, 2):
        rates = [measure_ingest(args.postgres, processes, ingest_load) for _ in range(args.runs)]
        _report(f"ingest, {processes} process{'es' if processes > 1 else ''}", rates)
    drain_load = workload(args.drain_events)
    sandbox, url = start_sandbox(NO_LIMIT)
    try:
        for workers in (1, 2, 4):
            rates = [
                measure_drain(args.postgres, url, workers, drain_load) for _ in range(args.runs)
            ]
            _report(f"drain, {workers} worker{'s' if workers > 1 else ''}", rates)
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
