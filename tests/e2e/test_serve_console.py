"""`serve` starts the console on a listener of its own, and `console` serves it alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.running import console_url, serving
from tests.waiting import PATIENCE, wait_until

pytestmark = pytest.mark.slow


def _env(sandbox: str, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "SEGMENT_"))},
        "INTERCOM_API_URL": sandbox,
        "DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
    }


def test_serve_prints_the_console_and_keeps_it_off_the_ingest_port(
    sandbox: str, tmp_path: Path
) -> None:
    output = tmp_path / "serve.txt"
    with serving(_env(sandbox, tmp_path), output) as ingest:
        console = console_url(output)
        assert console != ingest
        assert httpx.get(f"{console}/api/overview").status_code == 200
        # Browsers post to ingest from anywhere: none of the console is there.
        assert httpx.get(f"{ingest}/dead").status_code == 404
        assert httpx.get(f"{ingest}/api/overview").status_code == 404


def test_serve_without_the_console(sandbox: str, tmp_path: Path) -> None:
    output = tmp_path / "serve.txt"
    with serving(_env(sandbox, tmp_path), output, "--no-console") as ingest:
        assert httpx.get(f"{ingest}/health").status_code == 200
        assert "console" not in output.read_text().lower()


def test_a_console_port_in_use_is_named(sandbox: str, tmp_path: Path) -> None:
    output = tmp_path / "first.txt"
    with serving(_env(sandbox, tmp_path), output):
        taken = console_url(output).rsplit(":", 1)[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "intercom_destination",
                "serve",
                "--port",
                "0",
                "--console-port",
                taken,
            ],
            env={**_env(sandbox, tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/other.db"},
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken} for the console" in result.stderr
    assert "--no-console" in result.stderr


def test_console_serves_a_store_alone(sandbox: str, tmp_path: Path) -> None:
    # A store that serve made and left.
    with serving(_env(sandbox, tmp_path), tmp_path / "serve.txt") as ingest:
        assert httpx.get(f"{ingest}/health").status_code == 200
    output = tmp_path / "console.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "intercom_destination", "console", "--port", "0"],
            env=_env(sandbox, tmp_path),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:

        def listening() -> str | None:
            assert process.poll() is None, output.read_text()
            found = re.search(r"Delivery console on (http://\S+)", output.read_text())
            return found and found.group(1)

        url = wait_until(listening, "the console listens")
        wait_until(lambda: _answers(f"{url}/api/dead"), "the console answers")
        assert httpx.get(f"{url}/api/dead").json()["letters"] == []
        assert "store.db" in output.read_text()
    finally:
        process.terminate()
        assert process.wait(timeout=PATIENCE) == 0, output.read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def test_console_never_creates_a_store(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "intercom_destination", "console", "--port", "0"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/missing.db"},
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert result.returncode == 1
    assert "missing.db" in result.stderr
    assert not (tmp_path / "missing.db").exists()
