"""The README's "try it", run twice: `serve` with no token, its built-in sandbox, one store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

#: How long the service may take to start or to deliver (a hung test, not a threshold).
PATIENCE = 60.0
TRY_IT = {
    "batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com", "plan": "pro"}},
        {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"revenue": 1}},
    ]
}


@contextmanager
def serving(store: Path) -> Iterator[tuple[str, str]]:
    """`serve` on `store` with nothing else configured: its ingest and sandbox URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "SEGMENT_"))}
    env["DATABASE_URL"] = f"sqlite:///{store}"
    output = store.with_suffix(".serve.txt")
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "intercom_destination", "serve", "--port", "0"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + PATIENCE
        while not (found := re.search(r"listening on (http://\S+);", output.read_text())):
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.05)
        [sandbox] = re.findall(r"local Intercom sandbox at (http://\S+)", output.read_text())
        yield found.group(1), sandbox
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE) == 0, output.read_text()


def try_it(ingest: str, sandbox: str) -> dict[str, Any]:
    """The README's curl, then the sandbox's state once the track arrived."""
    httpx.post(f"{ingest}/v1/batch", json=TRY_IT, auth=("anykey", "")).raise_for_status()
    deadline = time.monotonic() + PATIENCE
    while not (state := httpx.get(f"{sandbox}/_sandbox/state").json())["events"]:
        assert time.monotonic() < deadline, "the track never reached the sandbox"
        time.sleep(0.05)
    return state  # type: ignore[no-any-return]


def test_a_restarted_serve_keeps_what_its_sandbox_showed(tmp_path: Path) -> None:
    store = tmp_path / "intercom-destination.db"
    with serving(store) as (ingest, sandbox):
        first = try_it(ingest, sandbox)
    with serving(store) as (ingest, sandbox):
        assert httpx.get(f"{sandbox}/_sandbox/state").json()["contacts"] == first["contacts"]
        httpx.post(f"{ingest}/v1/batch", json=TRY_IT, auth=("anykey", "")).raise_for_status()
        deadline = time.monotonic() + PATIENCE
        while len((state := httpx.get(f"{sandbox}/_sandbox/state").json())["events"]) < 2:
            assert time.monotonic() < deadline, "the second track never reached the sandbox"
            time.sleep(0.05)
    [contact] = state["contacts"]
    assert contact["custom_attributes"] == {"plan": "pro"}


def test_a_sandbox_that_starts_empty_gets_every_event_again(tmp_path: Path) -> None:
    store = tmp_path / "intercom-destination.db"
    with serving(store) as (ingest, sandbox):
        try_it(ingest, sandbox)
    for saved in tmp_path.glob("*sandbox*"):
        saved.unlink()
    with serving(store) as (ingest, sandbox):
        state = try_it(ingest, sandbox)
    [contact] = state["contacts"]
    assert (contact["external_id"], contact["custom_attributes"]) == ("u1", {"plan": "pro"})
    [event] = state["events"]
    assert event["contact_id"] == contact["id"]
