"""SegmentForwarder: the timeline's events on to a Segment-compatible endpoint, through
segment-analytics-python, next to IntercomDestination delivering them directly."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from intercom_destination.library import (
    Analytics,
    Failure,
    IntercomDestination,
    SegmentForwarder,
)
from tests.library import sandbox as sb
from tests.library.recording import AddTrait

REFUSED = "refused-write-key"


class Endpoint(ThreadingHTTPServer):
    """A Segment HTTP API that keeps each batch with its write key, and answers 400 to
    REFUSED."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.batches: list[tuple[str, dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def events(self) -> dict[str, dict[str, Any]]:
        return {event["messageId"]: event for _, batch in self.batches for event in batch["batch"]}


class _Handler(BaseHTTPRequestHandler):
    server: Endpoint

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        credentials = base64.b64decode(self.headers["Authorization"].split()[1]).decode()
        write_key = credentials.partition(":")[0]
        status = 400 if write_key == REFUSED else 200
        if status == 200:
            self.server.batches.append((write_key, json.loads(body)))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_events_reach_segment_and_intercom_at_once(sandbox: str, endpoint: Endpoint) -> None:
    with Analytics() as analytics:
        analytics.add(IntercomDestination(api_url=sandbox, database_url="sqlite:///:memory:"))
        forwarder = analytics.add(
            SegmentForwarder("write-key", host=endpoint.url, upload_interval=0.01, gzip=True)
        )
        forwarder.add(AddTrait("for_segment", True))
        analytics.identify("u1", {"email": "ada@example.com"}, message_id="m1")
        analytics.track(event="Signed Up", properties={"plan": "pro"}, message_id="m2")
        analytics.track(event="Kept Here", integrations={"Segment.io": False}, message_id="m3")
        analytics.track(event="Not For Intercom", integrations={"Intercom": False}, message_id="m4")
        analytics.flush()

    assert sb.event_names(sandbox, "u1") == ["Signed Up", "Kept Here"]
    assert "for_segment" not in sb.contact(sandbox, "u1")["custom_attributes"]
    assert {write_key for write_key, _ in endpoint.batches} == {"write-key"}
    forwarded = endpoint.events()
    assert set(forwarded) == {"m1", "m2", "m4"}
    identify, track = forwarded["m1"], forwarded["m2"]
    assert identify["traits"] == {"email": "ada@example.com", "for_segment": True}
    assert (track["userId"], track["event"], track["properties"]) == (
        "u1",
        "Signed Up",
        {"plan": "pro"},
    )
    assert track["anonymousId"] == analytics.anonymous_id
    # Intercom took them here, so Segment (or `serve`) must not deliver them again.
    assert identify["integrations"] == {"Intercom": False}
    assert forwarded["m4"]["integrations"] == {"Intercom": False}
    assert track["context"]["library"]["name"] == "analytics-python"


def test_every_kind_of_call_is_forwarded_as_it_was_made(endpoint: Endpoint) -> None:
    with Analytics(anonymous_id="anon-1") as analytics:
        analytics.add(SegmentForwarder("write-key", host=endpoint.url, upload_interval=0.01))
        analytics.group("u1", "acme", {"name": "Acme"}, message_id="g")
        analytics.page("u1", "Docs", "Install", {"path": "/docs"}, message_id="p")
        analytics.screen("u1", name="Home", message_id="s")
        analytics.alias("anon-1", "u1", message_id="a")
        analytics.flush()
    events = endpoint.events()
    assert (events["g"]["type"], events["g"]["groupId"], events["g"]["traits"]) == (
        "group",
        "acme",
        {"name": "Acme"},
    )
    assert (events["p"]["type"], events["p"]["category"], events["p"]["name"]) == (
        "page",
        "Docs",
        "Install",
    )
    assert (events["s"]["type"], events["s"]["name"]) == ("screen", "Home")
    assert (events["a"]["type"], events["a"]["previousId"], events["a"]["userId"]) == (
        "alias",
        "anon-1",
        "u1",
    )
    # Nothing local took them: no destination is switched off.
    assert events["g"]["integrations"] == {}


def test_a_batch_the_endpoint_refuses_reaches_on_error(endpoint: Endpoint) -> None:
    failures: list[Failure] = []
    with Analytics() as analytics:
        analytics.add(
            SegmentForwarder(
                REFUSED, host=endpoint.url, upload_interval=0.01, on_error=failures.append
            )
        )
        analytics.track("u1", "Signed Up", message_id="m1")
        analytics.flush()
    [failure] = failures
    assert (failure.destination, failure.kind, failure.message_id) == ("Segment.io", "failed", "m1")
    assert failure.reason.startswith("the endpoint did not take it")
    assert endpoint.batches == []
