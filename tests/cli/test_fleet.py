"""Scale-out: two `ingest` and three `worker` processes on one PostgreSQL database, one of the
workers killed with SIGKILL holding leases, the other two taking over. Nothing is lost, each
user's events arrive in order, no contact is made twice, and the fleet keeps within Intercom's
rate limit together."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.cli.running import environment, events_by_user, sandbox_state, status
from tests.cli.test_send_command import identify
from tests.cli.test_worker_crash import step
from tests.waiting import PATIENCE, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

USERS = [f"u{n:02d}" for n in range(40)]
STEPS = 13
#: Intercom's limit per 10-second window, as the sandbox enforces and reports it; the run
#: needs more calls than that, so the workers have to share it.
BUDGET = 500
#: The share of it the fleet allows itself. Until the first response tells a worker the
#: limit it assumes Intercom's default (1666), so the first window may see a few more calls.
RATE_SHARE = "0.8"
#: Short, so the lanes of the killed worker come back quickly.
LEASE_FOR = "3"
_LISTENING = re.compile(r"listening on (http://\S+)")


def test_a_fleet_loses_nothing_keeps_order_and_shares_one_budget(
    sandbox: str, postgres_url: str, tmp_path: Path
) -> None:
    httpx.post(f"{sandbox}/_sandbox/config", json={"rate_limit": BUDGET}).raise_for_status()
    env = environment(tmp_path / "unused.db", sandbox, lease_for=LEASE_FOR, rate_share=RATE_SHARE)
    env["DATABASE_URL"] = postgres_url
    with ExitStack() as fleet:
        ingests = [fleet.enter_context(_ingest(env, tmp_path / f"ingest{n}.log")) for n in (0, 1)]

        # Each user's events alternate between the two ingest processes, the next one sent
        # once the one before is stored; half the users start on each.
        rounds = [[identify(user, f"{user}@example.com") for user in USERS]]
        rounds += [[step(user, n) for user in USERS] for n in range(1, STEPS + 1)]

        def send(number: int) -> None:
            halves = (rounds[number][::2], rounds[number][1::2])
            targets = (ingests[number % 2], ingests[(number + 1) % 2])
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(_post_batch, targets, halves))

        # The victim starts alone, so that it surely leases lanes, and is killed holding them
        # (at once: frozen, it may hold the rate bucket's row lock); the other two workers
        # find those lanes leased until the leases run out.
        victim = fleet.enter_context(_worker(env, tmp_path / "worker0.log"))
        send(0)
        wait_until(lambda: _caught_holding_leases(victim, postgres_url), "the victim holds leases")
        victim.popen.kill()
        victim.popen.wait(timeout=PATIENCE)
        for n in (1, 2):
            fleet.enter_context(_worker(env, tmp_path / f"worker{n}.log"))
        for number in range(1, len(rounds)):
            send(number)

        wait_until(lambda: _idle(status(env)), "the backlog is delivered")

    after = status(env)
    assert (after["backlog"], after["parked"], after["dead"]) == (0, 0, 0)
    contacts = sandbox_state(sandbox)["contacts"]
    assert sorted(contact["external_id"] for contact in contacts) == USERS
    by_user = events_by_user(sandbox)
    for user in USERS:
        delivered = [event["metadata"]["n"] for event in by_user[user]]
        # At least once: the killed worker's last events may arrive twice, never out of order.
        assert delivered == sorted(delivered), user
        assert set(delivered) == set(range(1, STEPS + 1)), user
    recorded = httpx.get(f"{sandbox}/_sandbox/calls").json()
    assert not [n for counts in recorded["counts"].values() for n in counts if n == "429"]
    calls = sorted(call["at"] for call in recorded["calls"])
    assert len(calls) > BUDGET, "the run never needed the budget"
    assert _busiest_window(calls) <= BUDGET


def _post_batch(url: str, events: list[dict[str, Any]]) -> None:
    response = httpx.post(
        f"{url}/v1/batch", json={"batch": events}, auth=("write-key", ""), timeout=PATIENCE
    )
    assert response.status_code == 200, response.text


def _caught_holding_leases(worker: _Process, database_url: str) -> bool:
    """Freezes the worker; True (it stays frozen) when it holds a lease that has not expired."""
    worker.popen.send_signal(signal.SIGSTOP)
    with psycopg.connect(database_url) as connection:
        cursor = connection.execute(
            "SELECT count(*) FROM lanes WHERE owner = %s AND lease_until > %s",
            (_worker_id(worker), time.time()),
        )
        row = cursor.fetchone()
    if row is not None and row[0] > 0:
        return True
    worker.popen.send_signal(signal.SIGCONT)
    return False


def _worker_id(worker: _Process) -> str:
    for line in worker.log.read_text().splitlines():
        record = json.loads(line)
        if record.get("message") == "worker started":
            return str(record["worker_id"])
    raise AssertionError(f"the worker did not log its start: {worker.log.read_text()}")


def _busiest_window(calls: list[float]) -> int:
    """The most calls in any 10 seconds (not only those starting at a multiple of 10)."""
    busiest, first = 0, 0
    for last, at in enumerate(calls):
        while at - calls[first] >= 10:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


def _idle(document: dict[str, Any]) -> bool:
    return document["backlog"] == 0 and document["in_flight"] == 0


@dataclass(frozen=True)
class _Process:
    popen: subprocess.Popen[bytes]
    log: Path


@contextmanager
def _ingest(env: dict[str, str | None], log: Path) -> Iterator[str]:
    with _process(env, log, "ingest", "--port", "0") as process:
        stdout = process.popen.stdout
        assert stdout is not None
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            found = _LISTENING.search(stdout.readline().decode())
            if found:
                yield found.group(1)
                return
        raise AssertionError(f"ingest did not start: {log.read_text()}")


@contextmanager
def _worker(env: dict[str, str | None], log: Path) -> Iterator[_Process]:
    with _process(env, log, "worker") as process:
        wait_until(lambda: "worker started" in log.read_text(), "the worker starts")
        yield process


@contextmanager
def _process(env: dict[str, str | None], log: Path, *args: str) -> Iterator[_Process]:
    """`intercom-destination ARGS` until the block ends; its stderr in `log`."""
    merged = {**os.environ, **env}
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "intercom_destination", *args],
            env={name: value for name, value in merged.items() if value is not None},
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    try:
        yield _Process(process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
