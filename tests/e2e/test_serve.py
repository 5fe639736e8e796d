"""End to end: `serve` as a subprocess, the real segment-analytics-python client, the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from segment.analytics import Client

from tests.e2e.running import serving
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

WRITE_KEY = "wk-end-to-end"


@pytest.fixture
def service(sandbox: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "SEGMENT_"))},
        "INTERCOM_API_URL": sandbox,
        "INTERCOM_ACCESS_TOKEN": "e2e-token",
        "SEGMENT_WRITE_KEYS": WRITE_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
    }
    output = tmp_path / "serve.txt"
    with serving(env, output) as url:
        yield url, env
    assert "e2e-token" not in output.read_text()


def _status(env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "intercom_destination", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_a_real_segment_client_reaches_intercom_through_serve(
    service: tuple[str, dict[str, str]], sandbox: str
) -> None:
    url, env = service
    errors: list[Exception] = []
    client = Client(WRITE_KEY, host=url, sync_mode=True, on_error=lambda e, _: errors.append(e))
    client.identify(
        "u1",
        {
            "email": "ada@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "plan": "pro",
            "createdAt": "2023-11-14T22:13:20Z",
        },
    )
    client.track("u1", "Order Completed", {"revenue": 19.99, "currency": "EUR", "order_id": "o1"})
    client.group("u1", "c-42", {"name": "Analytical Engines", "employees": 120})
    client.page("u1", "Docs", "Pricing", {"url": "https://example.com/pricing"})
    client.alias("anon-1", "u1")
    client.flush()
    assert errors == []

    def settled() -> dict[str, Any] | None:
        status = _status(env)
        return status if sum(status["outcomes"].values()) >= 5 else None

    # Each of the five events settles on its own: wait for all of them, not for the first three.
    status = wait_until(settled, "the five events settle")
    assert status["outcomes"] == {"delivered": 3, "skipped": 2}
    assert (status["backlog"], status["dead"], status["parked"]) == (0, 0, 0)

    state = httpx.get(f"{sandbox}/_sandbox/state").json()
    [contact] = state["contacts"]
    assert contact["external_id"] == "u1"
    assert contact["email"] == "ada@example.com"
    assert contact["name"] == "Ada Lovelace"
    assert contact["signed_up_at"] == 1700000000
    assert contact["custom_attributes"] == {"plan": "pro"}
    [company] = state["companies"]
    assert (company["company_id"], company["name"], company["size"]) == (
        "c-42",
        "Analytical Engines",
        120,
    )
    assert contact["company_ids"] == [company["id"]]
    # the page and the alias were not sent: only the track is an event
    [event] = state["events"]
    assert event["event_name"] == "Order Completed"
    assert event["metadata"] == {"price": {"amount": 1999, "currency": "eur"}, "order_id": "o1"}


def test_serve_refuses_an_unknown_write_key(service: tuple[str, dict[str, str]]) -> None:
    url, _ = service
    answer = httpx.post(
        f"{url}/v1/track", auth=("not-a-key", ""), json={"userId": "u", "event": "E"}
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_write_key"
