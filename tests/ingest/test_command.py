"""`intercom-destination ingest`: serves until SIGTERM, and what it accepted is in the store."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from intercom_destination import logs
from intercom_destination.cli import main
from intercom_destination.store import open_store
from tests.captures import load_captures
from tests.ingest.helpers import stored

#: How long the server may take to start or stop before the test gives up (not a threshold).
PATIENCE = 30.0


def start(directory: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    out, err = directory / "stdout.txt", directory / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "intercom_destination", "ingest", "--port", "0"],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, **env},
        )
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        assert process.poll() is None, err.read_text()
        found = re.search(r"listening on (http://\S+)", out.read_text())
        if found:
            try:
                httpx.get(f"{found.group(1)}/health").raise_for_status()
            except httpx.TransportError:
                pass
            else:
                return process, found.group(1)
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"ingest did not start: {err.read_text()}")


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
