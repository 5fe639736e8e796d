"""CORS for browsers, the settings document for mobile SDKs, and the service's own endpoints:
/health, /ready, /metrics."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families

from intercom_destination.store import Store
from tests.ingest.conftest import MakeIngest
from tests.ingest.helpers import batch, stored, track

pytestmark = pytest.mark.anyio

ORIGIN = "https://shop.example.com"


async def test_a_browser_preflight_is_answered_for_any_site_and_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options(
        "/v1/t",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-retry-count, x-site",
        },
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == (
        "authorization, content-type, x-retry-count, x-site"
    )


@pytest.mark.parametrize("path", ["/v1/t", "/v1/b", "/v1/batch"])
async def test_answers_to_a_browser_carry_its_origin(path: str, client: httpx.AsyncClient) -> None:
    accepted = await client.post(
        path, json=track("m1", writeKey="WRITEKEY_AJS"), headers={"Origin": ORIGIN}
    )
    refused = await client.post(path, content=b"{", headers={"Origin": ORIGIN})

    for response in (accepted, refused):
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        # analytics.js reads Retry-After on a 429, which a browser hides unless exposed
        assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/batch"), ("GET", "/health")])
async def test_answers_to_server_libraries_carry_no_cors_headers(
    method: str, path: str, client: httpx.AsyncClient
) -> None:
    response = await client.request(method, path, json=batch(track("m1")))

    assert response.status_code == 200
    assert not [name for name in response.headers if name.startswith("access-control-")]
    # a cache must not give this answer to a browser, which needs the CORS headers
    assert response.headers["Vary"] == "Origin"


async def test_a_preflight_needs_an_origin(client: httpx.AsyncClient) -> None:
    response = await client.options("/v1/batch", headers={"Access-Control-Request-Method": "POST"})

    assert response.status_code == 405
    assert response.headers["Vary"] == "Origin"


async def test_analytics_js_telemetry_is_answered_and_dropped(
    client: httpx.AsyncClient, store: Store
) -> None:
    response = await client.post(
        "/v1/m", content=b'{"series": []}', headers={"Content-Type": "text/plain"}
    )

    assert (response.status_code, response.json()) == (200, {"success": True})
    assert await stored(store) == {}


async def test_the_settings_document_names_this_service_as_the_api_host(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/v1/projects/WRITEKEY_AJS/settings", headers={"Host": "events.example.com:8088"}
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    segment = response.json()["integrations"]["Segment.io"]
    assert segment["apiKey"] == "WRITEKEY_AJS"
    assert segment["apiHost"] == "events.example.com:8088/v1"
    assert segment["protocol"] == "http"


async def test_the_settings_document_uses_the_public_url_when_one_is_set(
    make_ingest: MakeIngest,
) -> None:
    ingest = make_ingest(public_url="https://proxy.example.com/segment/")

    async with ingest.client() as client:
        response = await client.get("/v1/projects/WRITEKEY_AJS/settings")

    segment = response.json()["integrations"]["Segment.io"]
    assert (segment["apiHost"], segment["protocol"]) == ("proxy.example.com/segment/v1", "https")


async def test_no_settings_document_for_an_unknown_write_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/projects/NOT-OURS/settings")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_write_key"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    ready = await client.get("/ready")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "backlog": 0})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_requests_and_events_and_show_the_backlog(
    make_ingest: MakeIngest, store: Store
) -> None:
    ingest = make_ingest(now=2_000_000_000.0)
    # Registered by another part of the process (delivery): shown on the same page.
    delivered = Counter("delivered", "Events delivered.", registry=ingest.registry)
    delivered.inc(5)

    async with ingest.client() as client:
        await client.post(
            "/v1/batch", json=batch(track("m1"), track("m2"), {"type": "track", "userId": "u"})
        )
        await client.post("/v1/batch", json=batch(track("m3"), write_key="NOT-OURS"))
        await client.post("/v1/batch", content=b"{")
        ingest.now += 30
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    found = samples(response.text)
    prefix = "intercom_destination_"
    assert found[(f"{prefix}ingest_requests_total", (("status", "200"),))] == 1
    assert found[(f"{prefix}ingest_requests_total", (("status", "400"),))] == 2
    assert (
        found[(f"{prefix}ingest_refused_requests_total", (("reason", "invalid_write_key"),))] == 1
    )
    assert found[(f"{prefix}ingest_refused_requests_total", (("reason", "invalid_json"),))] == 1
    assert found[(f"{prefix}ingest_events_received_total", ())] == 3
    assert found[(f"{prefix}ingest_events_accepted_total", ())] == 2
    assert found[(f"{prefix}ingest_events_rejected_total", (("reason", "track.event"),))] == 1
    assert found[(f"{prefix}ingest_request_duration_seconds_count", ())] == 3
    assert found[(f"{prefix}store_backlog_events", ())] == 2
    assert found[(f"{prefix}store_oldest_pending_age_seconds", ())] == 30
    assert found[(f"{prefix}store_lanes", ())] == 1
    assert found[("delivered_total", ())] == 5
    assert found[("process_resident_memory_bytes", ())] > 0
