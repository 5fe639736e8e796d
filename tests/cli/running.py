"""Running the delivery commands against a store file and a sandbox: in-process for the short
ones, as a subprocess for `worker`, which runs until it is signalled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from intercom_destination.cli import main
from tests.waiting import PATIENCE, wait_until

#: Variables of the developer's shell that would change what the commands do.
_CLEARED = (
    "INTERCOM_ACCESS_TOKEN",
    "INTERCOM_REGION",
    "INTERCOM_API_URL",
    "INTERCOM_API_VERSION",
    "DATABASE_URL",
)

Env = dict[str, str | None]


def environment(store: Path, sandbox: str | None, **settings: str) -> Env:
    """A store file, the sandbox's URL (no token: the sandbox takes any), and settings given as
    `INTERCOM_DESTINATION_<NAME>`."""
    env: Env = dict.fromkeys(_CLEARED)
    env["DATABASE_URL"] = f"sqlite:///{store}"
    env["INTERCOM_API_URL"] = sandbox
    for name, value in settings.items():
        env[f"INTERCOM_DESTINATION_{name.upper()}"] = value
    return env


def run(env: Env, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def status(env: Env) -> dict[str, Any]:
    result = run(env, "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return path


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def stop(self) -> int:
        """SIGTERM, then its exit status once it has finished the events in flight."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=PATIENCE)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=PATIENCE)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@contextmanager
def worker(env: Env, log: Path) -> Iterator[Worker]:
    """`intercom-destination worker` as a subprocess, its stderr in `log`."""
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "intercom_destination", "worker"],
            env=_process_environment(env),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield Worker(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_worker_until_idle(env: Env, log: Path) -> Worker:
    """Start a worker, wait until nothing is pending or in flight, stop it."""
    with worker(env, log) as running:
        wait_until(lambda: _idle(status(env)), "the backlog is delivered")
        assert running.stop() == 0, log.read_text()
    return running


def sandbox_state(sandbox: str) -> dict[str, Any]:
    return httpx.get(f"{sandbox}/_sandbox/state").json()  # type: ignore[no-any-return]


def events_by_user(sandbox: str) -> dict[str, list[dict[str, Any]]]:
    """The sandbox's events per contact external_id, in the order the sandbox took them."""
    state = sandbox_state(sandbox)
    users = {contact["id"]: contact.get("external_id") for contact in state["contacts"]}
    events: dict[str, list[dict[str, Any]]] = {}
    for event in state["events"]:
        events.setdefault(users[event["contact_id"]], []).append(event)
    return events


def _idle(document: Mapping[str, Any]) -> bool:
    return document["backlog"] == 0 and document["in_flight"] == 0


def _process_environment(env: Env) -> dict[str, str]:
    merged = {**os.environ, **env}
    return {name: value for name, value in merged.items() if value is not None}
