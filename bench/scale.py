"""Scale-out throughput on PostgreSQL: `ingest` and `worker` processes sharing one database.

    python -m bench.scale [--postgres URL] [--ingest-events N] [--drain-events M] [--runs R]
                          [--latency-ms L]

Each figure is the median of R runs, each on a fresh database created on the server URL
names (default postgresql://127.0.0.1:5432/test) and dropped afterwards; the workload is
bench/workload.py's (identify, page, track and group events of many users).

- ingest: 1 and 2 `intercom-destination ingest` processes; 16 keep-alive connections spread
  over them post N events as 50-event `/v1/batch` requests (encoded before the clock starts).
  The figure is events answered 200 per second, and the store is checked to hold them all.
- drain: 1, 2 and 4 `intercom-destination worker` processes (started and idle first), then
  M events are enqueued at once; the figure is M over the time until nothing is pending or
  in flight. They deliver to one sandbox process with its rate limit off, so what is measured
  is the engine, the store and the sandbox, not Intercom's budget. With it, the CPU time per
  event of the workers (all of them), of the database's server processes serving this
  database, and of the sandbox, and PostgreSQL's transactions per event (committed, and
  rolled back), each the median of the runs. With `--latency-ms L` the sandbox answers each
  call L ms late, as Intercom does across a network: a worker then makes at most
  `concurrency` calls per L ms, and another worker adds as many where the cores allow.

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
from subprocess import Popen
from tempfile import TemporaryDirectory
from typing import NamedTuple

import httpx
import msgspec
import psycopg

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


class Started(NamedTuple):
    stdout: Path
    pid: int


@contextmanager
def command(
    args: list[str], env: dict[str, str], logs: Path, ready: Callable[[Path, Path], bool]
) -> Iterator[Started]:
    """`intercom-destination ARGS` until the block ends, once `ready(stdout, stderr)`; yields
    the file its standard output goes to, and its process id."""
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
        yield Started(stdout, process.pid)
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
        urls = [_url(output.stdout) for output in outputs]
        started = time.perf_counter()
        asyncio.run(post_all(urls, bodies))
        elapsed = time.perf_counter() - started
        backlog, _ = asyncio.run(pending(url))
        assert backlog == len(objects), f"the store holds {backlog} of {len(objects)} events"
    return len(objects) / elapsed


class Drained(NamedTuple):
    events_per_second: float
    #: CPU seconds per event: the workers', the database's (its server processes serving
    #: the workers), the sandbox's.
    workers: float
    database: float
    sandbox: float
    #: PostgreSQL transactions per event, committed and rolled back.
    commits: float
    rollbacks: float


def measure_drain(
    server: str,
    sandbox: Popen[str],
    sandbox_url: str,
    workers: int,
    objects: list[dict[str, object]],
    latency_ms: int,
) -> Drained:
    httpx.post(f"{sandbox_url}/_sandbox/reset").raise_for_status()
    config = {"rate_limit": NO_LIMIT}
    httpx.post(f"{sandbox_url}/_sandbox/config", json=config).raise_for_status()
    faults = {"latency_ms": latency_ms}
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=faults).raise_for_status()
    with fresh_database(None, server) as url, TemporaryDirectory() as logs, ExitStack() as run:
        env = {"DATABASE_URL": url, "INTERCOM_API_URL": sandbox_url}
        started_workers = [
            run.enter_context(command(["worker"], env, Path(logs), _worker_started))
            for _ in range(workers)
        ]
        stored_events = stored(objects, time.time())

        async def enqueue() -> None:
            async with await open_store(url) as store:
                for start in range(0, len(stored_events), 500):
                    await store.enqueue(stored_events[start : start + 500])

        def cpu() -> tuple[float, dict[int, float], float]:
            return (
                sum(_cpu(w.pid) for w in started_workers),
                {pid: _cpu(pid) for pid in _backends(url)},
                _cpu(sandbox.pid),
            )

        before, transactions = cpu(), _transactions(url)
        started = time.perf_counter()
        asyncio.run(enqueue())
        while asyncio.run(pending(url)) != (0, 0):
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        after, finished = cpu(), _transactions(url)
    count = len(stored_events)
    # A server process that started while draining used nothing before.
    database_cpu = sum(seconds - before[1].get(pid, 0.0) for pid, seconds in after[1].items())
    commits, rollbacks = (
        (now - then) / count for now, then in zip(finished, transactions, strict=True)
    )
    return Drained(
        events_per_second=count / elapsed,
        workers=(after[0] - before[0]) / count,
        database=database_cpu / count,
        sandbox=(after[2] - before[2]) / count,
        commits=commits,
        rollbacks=rollbacks,
    )


def _cpu(pid: int) -> float:
    """CPU seconds the process used so far (user and system), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backends(url: str) -> list[int]:
    """The server processes serving the database `url` names, this connection's excepted."""
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def _transactions(url: str) -> tuple[int, int]:
    """The database's transactions so far, committed and rolled back."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


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
    parser.add_argument("--latency-ms", type=int, default=0, metavar="L")
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
            runs = [
                measure_drain(args.postgres, sandbox, url, workers, drain_load, args.latency_ms)
                for _ in range(args.runs)
            ]
            name = f"drain, {workers} worker{'s' if workers > 1 else ''}"
            _report(name, [run.events_per_second for run in runs])
            print(
                f"{'':28} CPU per event: workers {_median_ms(runs, 'workers')},"
                f" database {_median_ms(runs, 'database')},"
                f" sandbox {_median_ms(runs, 'sandbox')}; PostgreSQL transactions per event"
                f" {statistics.median(run.commits for run in runs):.2f} committed,"
                f" {statistics.median(run.rollbacks for run in runs):.3f} rolled back",
                flush=True,
            )
    finally:
        sandbox.terminate()
        sandbox.wait()


def _median_ms(runs: list[Drained], figure: str) -> str:
    return f"{statistics.median(getattr(run, figure) for run in runs) * 1000:.2f} ms"


if __name__ == "__main__":
    main()
