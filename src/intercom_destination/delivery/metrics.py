"""Delivery's Prometheus metrics, in the registry ingest's `/metrics` serves (see
`ingest.metrics`): attempts by outcome, Intercom calls by endpoint and status, and the rate
budget as Intercom's headers and the pacer see it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from intercom_destination.delivery.pacer import Pacer
from intercom_destination.intercom.ratelimit import RateLimitState
from intercom_destination.intercom.schema import find_operation

NAMESPACE = "intercom_destination"


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self.outcomes = Counter(
            "delivery_attempts",
            "Attempts at events by how they ended: delivered, skipped, retry, parked, dead.",
            ["outcome"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.calls = Counter(
            "intercom_calls",
            "Intercom API calls by endpoint and HTTP status ('none' when no answer came).",
            ["endpoint", "status"],
            namespace=NAMESPACE,
            registry=registry,
        )

    def observe_call(self, method: str, path: str, status: int | None) -> None:
        operation = find_operation(method, path)
        endpoint = f"{method} {operation.template if operation else 'other'}"
        self.calls.labels(endpoint, "none" if status is None else str(status)).inc()

    def watch_budget(self, rate_limit: RateLimitState, pacer: Pacer) -> None:
        """Gauges read at scrape time: Intercom's window and the rate the pacer allows."""

        def gauge(name: str, documentation: str) -> Gauge:
            return Gauge(name, documentation, namespace=NAMESPACE, registry=self._registry)

        def window(field: str) -> float:
            current = rate_limit.window
            return float(getattr(current, field)) if current is not None else float("nan")

        gauge(
            "intercom_rate_limit", "Calls Intercom allows per 10-second window (X-RateLimit-Limit)."
        ).set_function(lambda: window("limit"))
        gauge(
            "intercom_rate_limit_remaining",
            "Calls left in Intercom's current window (X-RateLimit-Remaining).",
        ).set_function(lambda: window("remaining"))
        gauge(
            "delivery_rate_budget", "Calls per second this destination allows itself."
        ).set_function(lambda: pacer.rate)
