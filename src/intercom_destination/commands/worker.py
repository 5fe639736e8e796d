"""`worker`: delivery only, until SIGTERM or SIGINT; then the events in flight are finished.

Nothing is released by hand on the way out: a lease not spent expires, and the lane goes to
another worker (delivery is at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from intercom_destination.delivery.engine import open_worker
from intercom_destination.settings import Settings
from intercom_destination.store import open_store, store_name

log = logging.getLogger("intercom_destination.worker")


async def run_worker(settings: Settings) -> None:
    """Deliver `settings`' store until a signal; logs its start and stop (never the token)."""
    stop = asyncio.Event()
    received: list[str] = []

    def on_signal(number: signal.Signals) -> None:
        received.append(number.name)
        stop.set()

    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, on_signal, number)
    async with (
        await open_store(
            settings.database_url,
            trace_retention=settings.trace_retention,
            trace_rows=settings.trace_rows,
        ) as store,
        open_worker(settings, store) as worker,
    ):
        log.info(
            "worker started",
            extra={
                "fields": {
                    "worker_id": worker.worker_id,
                    "intercom": settings.base_url,
                    "intercom_version": settings.api_version,
                    "database": store_name(settings.database_url),
                    "concurrency": settings.concurrency,
                    "lease_for": settings.lease_for,
                }
            },
        )
        await worker.run(stop)
        log.info(
            "worker stopped: the events in flight are finished",
            extra={"fields": {"worker_id": worker.worker_id, "signal": received[0]}},
        )
