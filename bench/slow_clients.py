"""Slow clients: how long ingest holds requests that stall half-sent, and whether it still
serves others meanwhile.

    python -m bench.slow_clients [--clients N] [--header-timeout S] [--body-timeout S]

Starts `intercom-destination ingest` on a temporary SQLite file with the given bounds (the
settings' defaults if not given), opens N connections that each send half a request and stall
(half of them within the headers, half within the body), sends one whole batch while they
wait, then waits for the server to close every stalled connection. Prints, for each kind, the
seconds until the server closed them (min, median, max) and what it answered, and the
latency of the whole batch sent meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

_LISTENING = re.compile(r"listening on (http://\S+)")
_BODY = b'{"batch": [{"type": "track", "event": "E", "userId": "u1", "messageId": "m1"}]}'
#: Half a request of each kind, as a stalled client leaves it.
_HALF = {
    "headers": b"POST /v1/batch HTTP/1.1\r\nHost: bench\r\nContent-Ty",
    "body": b"POST /v1/batch HTTP/1.1\r\nHost: bench\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_BODY), _BODY[:20]),
}


async def stall(host: str, port: int, half: bytes) -> tuple[float, str]:
    """Seconds until the server closed a connection left half-sent, and its status line."""
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    writer.write(half)
    answer = await reader.read()
    writer.close()
    return time.monotonic() - started, answer.split(b"\r\n", 1)[0].decode() or "(closed)"


async def measure(url: str, clients: int) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    kinds = list(_HALF)
    tasks = [
        (kind, asyncio.create_task(stall(host, int(port), _HALF[kind])))
        for index in range(clients)
        for kind in [kinds[index % len(kinds)]]
    ]
    await asyncio.sleep(0.5)  # let them all connect and stall
    async with httpx.AsyncClient(base_url=url) as client:
        started = time.monotonic()
        response = await client.post("/v1/batch", content=_BODY)
        latency = time.monotonic() - started
    print(f"a whole batch meanwhile: {response.status_code} in {latency * 1000:.0f} ms")
    for kind in kinds:
        results = [await task for name, task in tasks if name == kind]
        seconds = [held for held, _ in results]
        answers = sorted({answer for _, answer in results})
        print(
            f"{len(results)} stalled in the {kind}: closed after {min(seconds):.1f} / "
            f"{statistics.median(seconds):.1f} / {max(seconds):.1f} s (min/median/max), "
            f"answered {', '.join(answers)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1100)
    parser.add_argument("--header-timeout", type=float)
    parser.add_argument("--body-timeout", type=float)
    arguments = parser.parse_args()
    # Each connection is a file on either side; the server inherits the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * arguments.clients)), hard))
    env = {**os.environ, "INTERCOM_DESTINATION_MAX_BACKLOG": "1000000"}
    for name in ("header_timeout", "body_timeout"):
        value = getattr(arguments, name)
        if value is not None:
            env[f"INTERCOM_DESTINATION_{name.upper()}"] = str(value)
    with tempfile.TemporaryDirectory() as directory:
        env["DATABASE_URL"] = f"sqlite:///{Path(directory) / 'bench.db'}"
        command = [sys.executable, "-m", "intercom_destination", "ingest", "--port", "0"]
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            found = _LISTENING.search(server.stdout.readline())
            assert found, "ingest did not say where it listens"
            asyncio.run(measure(found.group(1), arguments.clients))
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
