"""A worker killed with SIGKILL in the middle of a backlog loses nothing: its leases expire,
another worker takes the lanes, and each user's events still arrive in order."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.running import (
    environment,
    events_by_user,
    run,
    run_worker_until_idle,
    status,
    worker,
    write_jsonl,
)
from tests.events import identify, track
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

USERS = [f"u{n}" for n in range(10)]
STEPS = 19
#: Short, so the lanes of the killed worker come back quickly.
LEASE_FOR = "3"


def step(user: str, n: int) -> dict[str, Any]:
    return track(user, "Step", n, n=n)


def test_a_killed_worker_loses_nothing_and_keeps_each_users_order(
    sandbox: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "store.db", sandbox, lease_for=LEASE_FOR)
    # Users interleaved, as they would arrive: every lane has work at once.
    events = [identify(user, f"{user}@example.com") for user in USERS]
    events += [step(user, n) for n in range(1, STEPS + 1) for user in USERS]
    assert (
        run(env, "send", "--no-wait", str(write_jsonl(tmp_path / "e.jsonl", events))).exit_code == 0
    )
    # Every Intercom call takes 100 ms, so each lane takes seconds and the kill lands mid-run.
    httpx.post(f"{sandbox}/_sandbox/faults", json={"latency_ms": 100}).raise_for_status()

    with worker(env, tmp_path / "killed.log") as killed:
        wait_until(lambda: len(_delivered(sandbox)) >= 2 * len(USERS), "some events arrive")

        def caught_holding_leases() -> bool:
            # Frozen, the worker cannot finish an event between this look and the kill.
            killed.process.send_signal(signal.SIGSTOP)
            if status(env)["in_flight"] > 0:
                return True
            killed.process.send_signal(signal.SIGCONT)
            return False

        wait_until(caught_holding_leases, "the worker is caught holding leases")
        killed.kill()

    assert status(env)["backlog"] > 0, "the kill landed after the backlog was delivered"
    httpx.post(f"{sandbox}/_sandbox/faults", json={}).raise_for_status()

    run_worker_until_idle(env, tmp_path / "restarted.log")

    after = status(env)
    assert (after["backlog"], after["parked"], after["dead"]) == (0, 0, 0)
    by_user = events_by_user(sandbox)
    assert sorted(by_user) == USERS
    for user in USERS:
        assert [e["metadata"]["n"] for e in by_user[user]] == list(range(1, STEPS + 1)), user


def _delivered(sandbox: str) -> list[dict[str, Any]]:
    return httpx.get(f"{sandbox}/_sandbox/state").json()["events"]  # type: ignore[no-any-return]
