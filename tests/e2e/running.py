"""`serve` as a subprocess, as a user starts it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: How long the service may take to start or to deliver (a hung test, not a threshold).
PATIENCE = 60.0


@contextmanager
def serving(env: dict[str, str], output: Path) -> Iterator[str]:
    """`serve --port 0` with `env`, writing to `output`: its ingest URL. It must stop cleanly
    on SIGTERM."""
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "intercom_destination", "serve", "--port", "0"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield _wait_for_url(process, output)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE) == 0, output.read_text()


def _wait_for_url(process: subprocess.Popen[bytes], output: Path) -> str:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        assert process.poll() is None, output.read_text()
        found = re.search(r"Segment ingest listening on (http://\S+);", output.read_text())
        if found:
            return found.group(1)
        time.sleep(0.05)
    pytest.fail(f"serve did not start: {output.read_text()}")
