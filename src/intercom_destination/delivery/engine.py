"""Wiring: the Intercom client, the pacer, the executor and a worker over one store."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from intercom_destination.delivery.connection import delivery_options, intercom_connection
from intercom_destination.delivery.executor import AUTH_PAUSE, BACKOFF_BASE, Executor
from intercom_destination.delivery.metrics import DeliveryMetrics
from intercom_destination.delivery.pacer import Pacer
from intercom_destination.delivery.pauses import Pauses
from intercom_destination.delivery.traces import record_exchange
from intercom_destination.delivery.worker import Worker
from intercom_destination.intercom import IntercomClient, Transport
from intercom_destination.settings import Settings
from intercom_destination.store import Store


@asynccontextmanager
async def open_worker(
    settings: Settings,
    store: Store,
    *,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    transport: Transport | None = None,
    worker_id: str | None = None,
    backoff_base: float = BACKOFF_BASE,
    auth_pause: float = AUTH_PAUSE,
    metrics: DeliveryMetrics | None = None,
) -> AsyncIterator[Worker]:
    """A worker delivering `store`'s lanes to the Intercom `settings` names."""
    rng = rng or random.Random()
    observe = metrics.observe_call if metrics is not None else None
    pauses = Pauses()
    connection = intercom_connection(settings)
    async with IntercomClient(
        connection, transport=transport, observe=observe, record=record_exchange
    ) as client:
        pacer = Pacer(
            store,
            client.rate_limit,
            share=settings.rate_share,
            clock=clock,
            sleep=pauses.sleep,
            rng=rng,
        )
        executor = Executor(
            client,
            store,
            delivery_options(settings),
            pacer,
            clock=clock,
            rng=rng,
            sleep=pauses.sleep,
            backoff_base=backoff_base,
            auth_pause=auth_pause,
        )
        if metrics is not None:
            metrics.watch_budget(client.rate_limit, pacer)
        yield Worker(
            store,
            executor,
            settings.mapping_options,
            concurrency=settings.concurrency,
            lease_for=settings.lease_for,
            clock=clock,
            pauses=pauses,
            worker_id=worker_id,
            metrics=metrics,
        )
