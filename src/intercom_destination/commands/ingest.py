"""`ingest`: accept events from Segment clients and store them (HTTP only: `serve` delivers
too), in this process or in forked ones that share its port."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from intercom_destination.deadlines import Deadlines
from intercom_destination.ingest import create_app
from intercom_destination.processes import Failed, supervise
from intercom_destination.serving import bind, run, serve
from intercom_destination.settings import Settings
from intercom_destination.store import StoreError, open_store, store_kind


class IngestFailed(Exception):
    """Ingest could not start, or stopped; the message says why."""


def run_ingest(
    settings: Settings,
    host: str,
    port: int,
    *,
    echo: Callable[[str], None],
    processes: int = 1,
    metrics: Path | None = None,
) -> None:
    """Serves ingest in this process; or, given the `metrics` directory, in `processes`
    forked ones."""
    try:
        store_kind(settings.database_url)  # an unusable URL is refused before the port is taken
    except StoreError as error:
        raise IngestFailed(str(error)) from None
    try:
        sock, url = bind(host, port)
    except OSError as error:
        raise IngestFailed(f"cannot listen on {host}:{port}: {error}") from None

    def announce() -> None:
        echo(f"Segment ingest listening on {url}")
        echo(f"Point clients at it: host {url} (analytics-python, analytics-node)")

    async def ingest(serving: Callable[[], None] | None) -> None:
        store = await open_store(settings.database_url)
        try:
            if metrics is None:
                announce()
            await serve(create_app(settings, store), sock, Deadlines.of(settings), serving=serving)
        finally:
            await store.close()

    def serve_ingest(serving: Callable[[], None] | None = None) -> None:
        try:
            run(ingest(serving))
        except StoreError as error:
            raise IngestFailed(str(error)) from None

    if metrics is None:
        serve_ingest()
        return

    def child(serving: Callable[[], None]) -> int:
        try:
            serve_ingest(serving)
        except IngestFailed as error:
            # As the command line shows an error, from the process that met it.
            print(f"Error: {error}", file=sys.stderr, flush=True)
            return 1
        return 0

    # The one port, named once for all the processes.
    announce()
    try:
        supervise(processes, child, metrics=metrics)
    except Failed as error:
        raise IngestFailed(str(error)) from None
