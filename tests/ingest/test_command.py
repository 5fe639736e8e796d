"""`intercom-destination ingest`: serves until SIGTERM, and what it accepted is in the store."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from intercom_destination import logs
from intercom_destination.cli import main
from intercom_destination.store import open_store
from tests.captures import load_captures
from tests.conftest import POSTGRESQL
from tests.ingest.helpers import basic, stored, track
from tests.waiting import PATIENCE, wait_until

INGEST = [sys.executable, "-m", "intercom_destination", "ingest", "--port", "0"]


def start(
    directory: Path, env: dict[str, str], *options: str
) -> tuple[subprocess.Popen[bytes], str]:
    out, err = directory / "stdout.txt", directory / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*INGEST, *options],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, **env},
        )

    def serving() -> str | None:
        assert process.poll() is None, err.read_text()
        found = re.search(r"listening on (http://\S+)", out.read_text())
        if found is None:
            return None
        try:
            httpx.get(f"{found.group(1)}/health").raise_for_status()
        except httpx.TransportError:
            return None
        return found.group(1)

    try:
        return process, wait_until(serving, "ingest serves")
    except AssertionError:
        process.kill()
        raise


@pytest.mark.slow
@pytest.mark.anyio
async def test_ingest_stores_what_it_accepts_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "events.db"
    [capture] = [c for name, c in load_captures() if name == "node-3.1.0-001.json"]
    env = {"SEGMENT_WRITE_KEYS": "WRITEKEY_NODE, other", "DATABASE_URL": f"sqlite:///{database}"}
    process, url = start(tmp_path, env)
    try:
        response = httpx.post(
            f"{url}/v1/batch",
            content=json.dumps(capture["body"]),
            headers={"Authorization": "Basic V1JJVEVLRVlfTk9ERTo="},
        )
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=PATIENCE)

    assert response.status_code == 200, response.text
    assert status == 0
    async with await open_store(f"sqlite:///{database}") as store:
        assert sorted(await stored(store, received_at=None)) == sorted(
            e["messageId"] for e in capture["body"]["batch"]
        )
    # Logs are JSON lines when stderr is not a terminal.
    for line in (tmp_path / "stderr.txt").read_text().splitlines():
        assert json.loads(line)["level"] in ("info", "warning")


def test_without_write_keys_ingest_refuses_to_listen_beyond_loopback() -> None:
    result = CliRunner().invoke(
        main, ["ingest", "--host", "0.0.0.0"], env={"SEGMENT_WRITE_KEYS": ""}
    )

    assert result.exit_code == 2
    assert "no write keys are configured, so anyone who can reach 0.0.0.0 could send" in (
        result.output
    )


def test_log_lines_are_json_documents_with_their_fields() -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    try:
        logging.getLogger("x").warning("refused %s", "it", extra={"fields": {"status": 400}})
    finally:
        logging.getLogger().handlers.clear()

    document = json.loads(stream.getvalue())
    assert document["message"] == "refused it"
    assert document["status"] == 400
    assert (document["level"], document["logger"]) == ("warning", "x")


PROCESS_ENV = {"SEGMENT_WRITE_KEYS": "key"}


def children(process: subprocess.Popen[bytes]) -> set[int]:
    """The pids of `process`'s children."""
    listed = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
    return {int(pid) for pid in listed.split()}


async def send(url: str, message_ids: list[str]) -> None:
    """One event per request, all at once: as many connections as events."""
    async with httpx.AsyncClient(base_url=url, headers=basic("key")) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/track", json=track(id, f"user-{id}")) for id in message_ids)
        )
    assert [response.status_code for response in responses] == [200] * len(message_ids)


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """/metrics, one scrape: each sample's labels and value, by sample name."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def stopped(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=PATIENCE)


async def stored_ids(database_url: str) -> list[str]:
    async with await open_store(database_url) as store:
        return sorted(await stored(store, received_at=None))


def logged(directory: Path) -> list[str]:
    """The messages of the log lines the command wrote to stderr.txt."""
    lines = (directory / "stderr.txt").read_text().splitlines()
    return [json.loads(line)["message"] for line in lines]


@pytest.fixture(params=["sqlite-file", POSTGRESQL])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.mark.slow
@pytest.mark.anyio
async def test_ingest_processes_share_the_port_sum_their_metrics_and_stop_on_sigterm(
    tmp_path: Path, database_url: str
) -> None:
    process, url = start(
        tmp_path, {**PROCESS_ENV, "DATABASE_URL": database_url}, "--processes", "2"
    )
    try:
        workers = children(process)
        ids = [f"event-{n}" for n in range(20)]
        await send(url, ids)
        metrics = scrape(url)
    finally:
        status = stopped(process)

    assert len(workers) == 2
    assert metrics["intercom_destination_ingest_events_accepted_total"] == [({}, 20.0)]
    assert metrics["intercom_destination_ingest_requests_total"] == [({"status": "200"}, 20.0)]
    assert metrics["intercom_destination_ingest_request_duration_seconds_count"] == [({}, 20.0)]
    # The store's figures once, not once per process; no process's memory or CPU.
    assert metrics["intercom_destination_store_backlog_events"] == [({}, 20.0)]
    assert not [name for name in metrics if name.startswith("process_")]
    assert status == 0
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []
    assert (tmp_path / "stdout.txt").read_text().count("listening on") == 1
    # Only the embedded store is slower with several processes.
    assert await stored_ids(database_url) == sorted(ids)


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_killed_ingest_process_is_replaced_and_what_it_counted_stays_counted(
    tmp_path: Path,
) -> None:
    database = tmp_path / "events.db"
    env = {**PROCESS_ENV, "DATABASE_URL": f"sqlite:///{database}"}
    process, url = start(tmp_path, env, "--processes", "2")
    try:
        first = children(process)
        await send(url, [f"before-{n}" for n in range(10)])
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: len(children(process) - first) == 2, "both are replaced")
        # Answered by the replacements only, while the counts before are the killed ones'.
        await send(url, [f"after-{n}" for n in range(10)])
        metrics = scrape(url)
    finally:
        status = stopped(process)

    assert metrics["intercom_destination_ingest_events_accepted_total"] == [({}, 20.0)]
    assert status == 0
    ended = [
        (line["pid"], line["status"], line["served"])
        for line in map(json.loads, (tmp_path / "stderr.txt").read_text().splitlines())
        if line["message"] == "a process ended unexpectedly"
    ]
    assert sorted(ended) == [(pid, "killed by SIGKILL", True) for pid in sorted(first)]
    assert len(await stored_ids(env["DATABASE_URL"])) == 20


@pytest.mark.slow
def test_ingest_processes_that_cannot_open_the_store_end_the_command(tmp_path: Path) -> None:
    env = {**PROCESS_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/events.db"}
    result = subprocess.run(
        [*INGEST, "--processes", "2"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=PATIENCE,
    )

    assert result.returncode == 1
    assert "Error: cannot open the SQLite database" in result.stderr
    assert "processes in a row ended before they served; see their errors above" in (result.stderr)
