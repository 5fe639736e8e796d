"""The console's pages and API over HTTP on a big store: p50 and p95 of each, on a SQLite file
and on PostgreSQL.

    python -m bench.console_pages [--outcomes N] [--repeat R] [--postgres URL | --sqlite-only]

Seeds the store as `bench.console` does (N outcome rows over the last week, default
1,000,000), then asks the console app for each page of `PAGES` R times (default 30) through
httpx's ASGI transport: the store's reads, the rendering and the encoding, without a socket.
Prints each page's p50 and p95, and `bench.console`'s figure for the read behind it is the
part the store takes.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Callable

import httpx

from bench.console import (
    NOW,
    Read,
    Sample,
    arguments,
    backends,
    print_figures,
    sample,
    seeded,
    time_reads,
)
from intercom_destination.console import create_console_app
from intercom_destination.settings import Settings
from intercom_destination.store import Store, open_store

Path = Callable[[Sample, random.Random], str]

#: The pages, by name: each a path made from what the store holds.
PAGES: list[tuple[str, Path]] = [
    ("/ (last hour)", lambda _, __: "/?window=hour"),
    ("/ (last day)", lambda _, __: "/?window=day"),
    ("/ (last week)", lambda _, __: "/?window=week"),
    ("/events (newest)", lambda _, __: "/events"),
    ("/events?q=userId", lambda s, rng: f"/events?q={rng.choice(s.users)}"),
    ("/events?q=email&key=email", lambda s, rng: f"/events?q={rng.choice(s.emails)}&key=email"),
    ("/events?q=name, dead only", lambda s, rng: f"/events?q={rng.choice(s.names)}&outcome=dead"),
    ("/events/<messageId>", lambda s, rng: f"/events/{rng.choice(s.traced)}"),
    ("/dead", lambda _, __: "/dead"),
    ("/tester", lambda _, __: "/tester"),
    ("/api/overview?window=week", lambda _, __: "/api/overview?window=week"),
    ("/api/events?q=userId", lambda s, rng: f"/api/events?q={rng.choice(s.users)}"),
    ("/api/events/<messageId>", lambda s, rng: f"/api/events/{rng.choice(s.traced)}"),
    ("/api/dead", lambda _, __: "/api/dead"),
]


async def measure(url: str, count: int, repeat: int) -> dict[str, tuple[float, float]]:
    async with await open_store(url, outcome_log_rows=count, create=False) as store:
        await store.prune(NOW, limit=0)
        app = create_console_app(Settings(), store, clock=lambda: NOW)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

            def get(path: Path) -> Read:
                async def read(_: Store, seeded: Sample, rng: random.Random) -> object:
                    answer = await client.get(path(seeded, rng))
                    return answer.raise_for_status()

                return read

            reads = [(name, get(path)) for name, path in PAGES]
            return await time_reads(store, sample(count), reads, repeat)


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0], repeat=30)
    results = {}
    for label, postgres in backends(args):
        print(f"{label}: seeding {args.outcomes:,} outcomes", file=sys.stderr)
        with seeded(postgres, args.outcomes) as url:
            results[label] = asyncio.run(measure(url, args.outcomes, args.repeat))
    print_figures("page (ms)", [name for name, _ in PAGES], results)
    print("\n" + " ".join(["python -m bench.console_pages", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
