"""The README's "try it", run twice: `serve` with no token, its built-in sandbox, one store."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.running import serving
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

TRY_IT = {
    "batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com", "plan": "pro"}},
        {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"revenue": 1}},
    ]
}


@contextmanager
def serving_on(store: Path) -> Iterator[tuple[str, str]]:
    """`serve` on `store` with nothing else configured: its ingest and sandbox URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "SEGMENT_"))}
    env["DATABASE_URL"] = f"sqlite:///{store}"
    output = store.with_suffix(".serve.txt")
    with serving(env, output) as ingest:
        [sandbox] = re.findall(r"local Intercom sandbox at (http://\S+)", output.read_text())
        yield ingest, sandbox


def try_it(ingest: str, sandbox: str, *, events: int = 1) -> dict[str, Any]:
    """The README's curl, then the sandbox's state once it holds `events` events."""
    httpx.post(f"{ingest}/v1/batch", json=TRY_IT, auth=("anykey", "")).raise_for_status()

    def holding() -> dict[str, Any] | None:
        state: dict[str, Any] = httpx.get(f"{sandbox}/_sandbox/state").json()
        return state if len(state["events"]) >= events else None

    return wait_until(holding, f"the sandbox has {events} events")


def test_a_restarted_serve_keeps_what_its_sandbox_showed(tmp_path: Path) -> None:
    store = tmp_path / "intercom-destination.db"
    with serving_on(store) as (ingest, sandbox):
        first = try_it(ingest, sandbox)
    with serving_on(store) as (ingest, sandbox):
        assert httpx.get(f"{sandbox}/_sandbox/state").json()["contacts"] == first["contacts"]
        state = try_it(ingest, sandbox, events=2)
    [contact] = state["contacts"]
    assert contact["custom_attributes"] == {"plan": "pro"}


def test_a_sandbox_that_starts_empty_gets_every_event_again(tmp_path: Path) -> None:
    store = tmp_path / "intercom-destination.db"
    with serving_on(store) as (ingest, sandbox):
        try_it(ingest, sandbox)
    for saved in tmp_path.glob("*sandbox*"):
        saved.unlink()
    with serving_on(store) as (ingest, sandbox):
        state = try_it(ingest, sandbox)
    [contact] = state["contacts"]
    assert (contact["external_id"], contact["custom_attributes"]) == ("u1", {"plan": "pro"})
    [event] = state["events"]
    assert event["contact_id"] == contact["id"]
