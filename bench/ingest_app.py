"""Ingest's own work on the event loop: the app driven as ASGI, without HTTP.

    python -m bench.ingest_app [--requests N] [--runs R]

`bench.ingest` finds that the rate follows the event loop's time per request; the HTTP layers
(uvicorn) take about the same share of it in ingest and in the baseline. This takes them away:
bench.ingest's requests (10-event batches of the generated workload) go straight to the ASGI
apps from 64 concurrent tasks, and each figure is the event loop's CPU per request, the median
of R runs of N requests:

- ingest, with a store that answers at once: the app's own work (write key, decoding, metrics,
  answer); `python -m bench.decode` tells how much of it is decoding;
- ingest, into the SQLite store on a temporary file: with the store's threads, and the events/s
  the app and the store reach with no HTTP;
- the baseline's app (`bench/ingest_baseline.py`), with a writer that answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import uvloop
from starlette.types import ASGIApp, Message

from bench import ingest_baseline
from bench.ingest import WRITE_KEY, requests
from intercom_destination.ingest import create_app, new_registry
from intercom_destination.settings import Secret, Settings
from intercom_destination.store import Enqueued, NewEvent, Status, Store, open_store

CONCURRENCY = 64


class InstantStore:
    """What ingest asks of a store, answered at once."""

    async def enqueue(self, events: list[NewEvent]) -> list[Enqueued]:
        return [Enqueued.ACCEPTED] * len(events)

    async def status(self, now: float) -> Status:
        return Status(
            lanes=0, in_flight=0, backlog=0, oldest_pending_age=None, parked=0, dead=0, outcomes={}
        )


class InstantWriter(ingest_baseline.Writer):
    """The baseline's writer, answering at once."""

    def __init__(self) -> None:
        pass  # no database, no thread

    async def append(self, rows: list[bytes]) -> None:
        return None


async def drive(app: ASGIApp, bodies: list[bytes]) -> tuple[float, float]:
    """A POST of each of `bodies` to /v1/batch, from `CONCURRENCY` tasks: the event loop's
    CPU µs per request, and events/s."""
    queue = iter(bodies)

    async def client() -> None:
        for body in queue:
            answers: list[int] = []
            await app(_scope(), _receive(body), _collect(answers))
            assert answers == [200], answers

    cpu, started = time.thread_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    return (time.thread_time() - cpu) / len(bodies) * 1e6, len(bodies) * 10 / elapsed


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/batch",
        "raw_path": b"/v1/batch",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8088),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
    }


def _receive(body: bytes) -> Callable[[], Awaitable[Message]]:
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    return receive


def _collect(answers: list[int]) -> Callable[[Message], Awaitable[None]]:
    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answers.append(message["status"])

    return send


async def measure(args: argparse.Namespace) -> None:
    # New events for every run: the store would take the same ones again as duplicates.
    count = args.requests
    bodies = [
        request.partition(b"\r\n\r\n")[2]
        for request in requests(count * args.runs * 10, 10, "127.0.0.1")
    ]
    settings = Settings(write_keys=(Secret(WRITE_KEY),))
    with tempfile.TemporaryDirectory() as directory:
        async with await open_store(f"sqlite:///{directory}/bench.db") as store:
            apps: dict[str, ASGIApp] = {
                "ingest, store answering at once": create_app(
                    settings, cast(Store, InstantStore()), registry=new_registry()
                ),
                "ingest, SQLite store": create_app(settings, store, registry=new_registry()),
                "baseline, writer answering at once": ingest_baseline.create_app(InstantWriter()),
            }
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in apps}
            for run in range(args.runs):
                for name, app in apps.items():
                    runs[name].append(await drive(app, bodies[run * count : (run + 1) * count]))
    for name, figures in runs.items():
        cpu = statistics.median(figure[0] for figure in figures)
        rate = statistics.median(figure[1] for figure in figures)
        print(f"{name}: event loop {cpu:.0f} µs per request, {rate:,.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="requests per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"command: python -m bench.ingest_app {' '.join(sys.argv[1:])}")
    print(f"workload: {args.requests:,} requests of 10 events per run, {CONCURRENCY} tasks")
    uvloop.run(measure(args))


if __name__ == "__main__":
    main()
