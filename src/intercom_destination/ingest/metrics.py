"""Ingest's Prometheus metrics, and the store's backlog as gauges.

Everything is registered in a `CollectorRegistry` the caller owns and hands to `create_app`:
a process that also delivers registers its own metrics (delivered, skipped, dead, Intercom
calls, rate budget) in the same registry, and `/metrics` shows them all. Names start with
`intercom_destination_`; the `ingest_` ones count requests and events, the `store_` ones are
read from `Store.status` when `/metrics` is scraped and every few seconds.

When several processes serve one socket (`ingest --processes`, see `processes`), each keeps its
metrics in files that `/metrics` sums, whichever process the scrape reaches (prometheus_client's
multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.multiprocess import MultiProcessCollector

from intercom_destination.store import Status

NAMESPACE = "intercom_destination"


def new_registry() -> CollectorRegistry:
    """A registry with the process's own metrics (memory, CPU, open files)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


def exposed(registry: CollectorRegistry) -> CollectorRegistry:
    """What `/metrics` shows: `registry`; or, in multiprocess mode, every process's metrics
    summed from their files. The process metrics (memory, CPU) are left out then: they would
    describe whichever process answered the scrape."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return registry
    shared = CollectorRegistry()
    MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
    return shared


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, documentation: str, *labels: str) -> Counter:
            return Counter(name, documentation, labels, namespace=NAMESPACE, registry=registry)

        def gauge(name: str, documentation: str) -> Gauge:
            # The store's figures, not a process's: in multiprocess mode, one value, the
            # latest any process read (a scrape reads them first, so normally its own), and
            # none from a process that has ended.
            return Gauge(
                name,
                documentation,
                namespace=NAMESPACE,
                registry=registry,
                multiprocess_mode="livemostrecent",
            )

        self.requests = counter(
            "ingest_requests",
            "Requests to Segment's paths (events and settings; not /v1/m), by HTTP status.",
            "status",
        )
        self.refused = counter(
            "ingest_refused_requests",
            "Requests refused as a whole (nothing of them stored), by reason.",
            "reason",
        )
        self.received = counter(
            "ingest_events_received", "Events in requests whose write key was accepted."
        )
        self.accepted = counter("ingest_events_accepted", "Events stored for delivery.")
        self.duplicates = counter(
            "ingest_events_duplicate",
            "Events acknowledged without storing them again: their messageId was stored before.",
        )
        self.suppressed = counter(
            "ingest_events_suppressed",
            "Events refused, and not stored, because their userId or anonymousId is suppressed.",
        )
        self.rejected = counter(
            "ingest_events_rejected",
            "Events not stored, by reason: the field that is invalid, or why their request "
            "was refused.",
            "reason",
        )
        self.duration = Histogram(
            "ingest_request_duration_seconds",
            "Time from reading a request to answering it, storage included.",
            namespace=NAMESPACE,
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
        )
        self.backlog = gauge("store_backlog_events", "Events waiting for delivery.")
        self.oldest_pending_age = gauge(
            "store_oldest_pending_age_seconds",
            "Seconds since the oldest event waiting for delivery was received (0 when none).",
        )
        self.lanes = gauge("store_lanes", "Users (lanes) with events waiting for delivery.")
        self.parked = gauge("store_parked_events", "Events set aside until their contact is known.")
        self.dead = gauge("store_dead_events", "Dead letters.")
        #: `requests` by status, as `requests.labels` would find them (each time, under a lock).
        self._requests_by_status: dict[int, Counter] = {}

    def answered(self, status: int, seconds: float) -> None:
        """A request to Segment's paths, answered with `status` `seconds` after it came."""
        requests = self._requests_by_status.get(status)
        if requests is None:
            requests = self._requests_by_status[status] = self.requests.labels(status)
        requests.inc()
        self.duration.observe(seconds)

    def stored(self, accepted: int, duplicates: int) -> None:
        """Events the store took: `accepted` new ones, and `duplicates` it had already."""
        self.accepted.inc(accepted)
        # Each update takes a lock; duplicates are rare.
        if duplicates:
            self.duplicates.inc(duplicates)

    def observe_status(self, status: Status) -> None:
        self.backlog.set(status.backlog)
        self.oldest_pending_age.set(status.oldest_pending_age or 0.0)
        self.lanes.set(status.lanes)
        self.parked.set(status.parked)
        self.dead.set(status.dead)
