"""`serve` as a subprocess, as a user starts it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.waiting import PATIENCE, wait_until

SERVE = (sys.executable, "-m", "intercom_destination", "serve")


@contextmanager
def serving(env: dict[str, str], output: Path, *options: str) -> Iterator[str]:
    """`serve --port 0 OPTIONS` with `env`, writing to `output`: its ingest URL (the console's
    is printed too: `console_url`). OPTIONS are `--console-port 0` unless given. It must stop
    cleanly on SIGTERM."""
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*SERVE, "--port", "0", *(options or ("--console-port", "0"))],
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
    def listening() -> str | None:
        assert process.poll() is None, output.read_text()
        found = re.search(r"Segment ingest listening on (http://\S+);", output.read_text())
        return found and found.group(1)

    return wait_until(listening, "serve listens")


def console_url(output: Path) -> str:
    """The console's URL, as the `serve` writing to `output` printed it."""
    found = re.search(r"Delivery console on (http://\S+)", output.read_text())
    assert found, output.read_text()
    return found.group(1)
