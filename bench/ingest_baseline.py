"""The floor bench/ingest.py compares ingest with: a bare Starlette + SQLite ingest.

    python -m bench.ingest_baseline [--port P] [--database PATH]

It does the least an ingest must, and nothing more: read the body, decode the envelope
keeping each item's raw bytes (msgspec), append each item to one table of a WAL-mode SQLite
file from a writer thread that group-commits with a flush at every commit (synchronous=FULL,
as the store does), and answer 200 once committed. No write keys, validation, timestamps,
dedup, lanes, metrics or CORS: the difference from `intercom-destination ingest` on the same
machine, in the same run, is what those cost.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable

import msgspec
import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_destination.serving import bind


class Envelope(msgspec.Struct):
    batch: list[msgspec.Raw]


_envelope = msgspec.json.Decoder(Envelope)
Done = Callable[[], object]


class Writer:
    """Appends rows from a thread of its own; each call shares the commit of whatever else is
    queued when the thread gets to it."""

    def __init__(self, path: str) -> None:
        self._queue: queue.SimpleQueue[tuple[list[bytes], Done]] = queue.SimpleQueue()
        self._connection = connect(path)
        threading.Thread(target=self._main, daemon=True).start()

    async def append(self, rows: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((rows, lambda: loop.call_soon_threadsafe(future.set_result, None)))
        await future

    def _main(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            commit(self._connection, [row for rows, _ in jobs for row in rows])
            for _, done in jobs:
                done()


def connect(path: str) -> sqlite3.Connection:
    """The baseline's database: one table of bodies, a flush at every commit."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY, body)")
    return connection


def commit(connection: sqlite3.Connection, bodies: list[bytes]) -> None:
    """The bodies appended in one transaction."""
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO inbox (body) VALUES (?)", [(body,) for body in bodies])
    connection.execute("COMMIT")


def create_app(writer: Writer) -> Starlette:
    async def batch(request: Request) -> Response:
        envelope = _envelope.decode(await request.body())
        await writer.append([bytes(item) for item in envelope.batch])
        return Response(b'{"success":true}', media_type="application/json")

    return Starlette(routes=[Route("/v1/batch", batch, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database", default="baseline.db")
    args = parser.parse_args()
    sock, url = bind("127.0.0.1", args.port)
    print(f"listening on {url}", flush=True)
    config = uvicorn.Config(create_app(Writer(args.database)), log_config=None, access_log=False)
    uvloop.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
