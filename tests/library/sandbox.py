"""Reading and steering the sandbox a test's destination delivers to."""

from __future__ import annotations

import socket
from typing import Any

import httpx


def state(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/_sandbox/state").json()  # type: ignore[no-any-return]


def contact(url: str, external_id: str) -> dict[str, Any]:
    [found] = [c for c in state(url)["contacts"] if c.get("external_id") == external_id]
    return found


def event_names(url: str, external_id: str | None = None) -> list[str]:
    """Event names in the order Intercom got them, of one contact or of all."""
    workspace = state(url)
    ids = {c["id"] for c in workspace["contacts"] if external_id in (None, c.get("external_id"))}
    return [e["event_name"] for e in workspace["events"] if e["contact_id"] in ids]


def company_ids(url: str, external_id: str) -> list[str]:
    """The company_ids of the companies a contact is attached to."""
    workspace = state(url)
    by_id = {company["id"]: company["company_id"] for company in workspace["companies"]}
    return [by_id[i] for i in contact(url, external_id)["company_ids"]]


def answered(url: str, endpoint: str, status: int) -> int:
    """How many calls to `endpoint` (`"POST /events"`) the sandbox answered with `status`."""
    counts = httpx.get(f"{url}/_sandbox/calls", timeout=10).json()["counts"]
    return int(counts.get(endpoint, {}).get(str(status), 0))


def set_faults(url: str, **faults: Any) -> None:
    httpx.post(f"{url}/_sandbox/faults", json=faults).raise_for_status()


def nowhere(host: str = "127.0.0.1") -> str:
    """The URL of an Intercom that is not there: a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://{host}:{probe.getsockname()[1]}"
