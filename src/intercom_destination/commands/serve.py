"""`serve`: ingest and delivery in one process, and a local Intercom when no token is set.

With no INTERCOM_ACCESS_TOKEN and no INTERCOM_API_URL, the sandbox runs in the same process
and receives the deliveries, so the service works end to end with nothing configured; its
workspace is kept next to a SQLite store's file, so a restart shows what the last run did. On
SIGTERM or SIGINT the ingest stops accepting and answers what it has, then the worker
finishes the events in flight, then the store closes.

The delivery console has a listener of its own, never the ingest port: browsers post
analytics to ingest from anywhere, and the console is for the people running the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable

import msgspec

from intercom_destination.commands.console import announce
from intercom_destination.console import create_console_app
from intercom_destination.deadlines import Deadlines
from intercom_destination.deletion import open_deletions
from intercom_destination.delivery.connection import SANDBOX_TOKEN
from intercom_destination.delivery.engine import open_worker
from intercom_destination.delivery.metrics import DeliveryMetrics
from intercom_destination.ingest import create_app
from intercom_destination.ingest.metrics import new_registry
from intercom_destination.sandbox import SandboxConfig
from intercom_destination.sandbox import create_app as create_sandbox
from intercom_destination.serving import bind, serve, serving_alongside
from intercom_destination.settings import Secret, Settings
from intercom_destination.store import Store, beside_store, open_store

log = logging.getLogger("intercom_destination.serve")

#: The built-in sandbox's state file is the store's path with this suffix.
SANDBOX_STATE_SUFFIX = "-sandbox.json"


class ConsoleUnavailable(Exception):
    """The console's address cannot be listened on."""


async def run_serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    console: tuple[str, int] | None,
    echo: Callable[[str], None],
) -> None:
    """Serve ingest on `host:port`, deliver, and serve the console on `console` (host,
    port), unless it is None."""
    sock, url = bind(host, port)
    console_listener = _console_listener(*console) if console is not None else None
    # Opened first: a store that cannot be opened fails before anything starts (the
    # sandbox would save its workspace beside a store that is not there).
    store = await open_store(
        settings.database_url,
        trace_retention=settings.trace_retention,
        trace_rows=settings.trace_rows,
    )
    try:
        async with _intercom(settings, echo) as settings:
            registry = new_registry()
            metrics = DeliveryMetrics(registry)
            app = create_app(settings, store, registry=registry)
            async with (
                open_worker(settings, store, metrics=metrics) as worker,
                _console(settings, store, console_listener, echo),
            ):
                stop = asyncio.Event()
                delivering = asyncio.create_task(worker.run(stop))
                echo(f"Segment ingest listening on {url}; delivering to {settings.base_url}")
                echo(f"Point clients at it: host {url} (analytics-python, analytics-node)")
                if not settings.write_keys:
                    echo("No SEGMENT_WRITE_KEYS: any write key is accepted (loopback only).")
                try:
                    await serve(app, sock, Deadlines.of(settings))
                finally:
                    stop.set()
                    await delivering
    finally:
        await store.close()
    log.info("stopped: requests answered, events in flight delivered, store closed")


def _console_listener(host: str, port: int) -> tuple[socket.socket, str]:
    try:
        return bind(host, port)
    except OSError as error:
        raise ConsoleUnavailable(
            f"cannot listen on {host}:{port} for the console: {error}; choose another "
            "--console-port (0 picks a free one), or --no-console"
        ) from None


@contextlib.asynccontextmanager
async def _console(
    settings: Settings,
    store: Store,
    listener: tuple[socket.socket, str] | None,
    echo: Callable[[str], None],
) -> AsyncIterator[None]:
    if listener is None:
        yield
        return
    sock, url = listener
    async with open_deletions(settings, store) as deletions:
        app = create_console_app(settings, store, deletions=deletions)
        async with serving_alongside(app, sock, Deadlines.of(settings)):
            echo(f"Delivery console on {url}{announce(settings)}")
            yield


@contextlib.asynccontextmanager
async def _intercom(settings: Settings, echo: Callable[[str], None]) -> AsyncIterator[Settings]:
    """The settings to deliver with: the configured Intercom, or a sandbox run here."""
    if settings.access_token is not None or settings.api_url is not None:
        token = settings.access_token or Secret(SANDBOX_TOKEN)
        yield msgspec.structs.replace(settings, access_token=token)
        return
    sock, url = bind("127.0.0.1", 0)
    state_file = beside_store(settings.database_url, SANDBOX_STATE_SUFFIX)
    async with serving_alongside(
        create_sandbox(SandboxConfig(state_file=state_file)), sock, Deadlines.of(settings)
    ):
        echo(f"No INTERCOM_ACCESS_TOKEN: delivering to a local Intercom sandbox at {url}")
        echo(f"  see what arrived: {url}/_sandbox/state")
        if state_file is not None:
            echo(f"  its workspace is kept in {state_file} from one run to the next")
        echo(
            "  to deliver to your workspace, set INTERCOM_ACCESS_TOKEN (and INTERCOM_REGION "
            "if it is in the EU or Australia) and restart"
        )
        yield msgspec.structs.replace(settings, api_url=url, access_token=Secret(SANDBOX_TOKEN))
