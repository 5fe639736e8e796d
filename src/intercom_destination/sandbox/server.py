"""Serving the sandbox with uvicorn, on a socket bound before anything is printed."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from intercom_destination.sandbox.app import create_app
from intercom_destination.sandbox.control import PREFIX
from intercom_destination.sandbox.runtime import SandboxConfig
from intercom_destination.serving import bind


def serve(
    config: SandboxConfig,
    *,
    host: str,
    port: int,
    access_log: bool,
    echo: Callable[[str], None],
) -> None:
    """Binds `host:port` (port 0 picks a free one), says where it listens and how to use it,
    then serves until interrupted."""
    app = create_app(config)
    sock, url = bind(host, port)
    token = "only the token given with --token" if config.token else "any non-empty token"
    echo(f"Intercom sandbox listening on {url}")
    echo(f"Point the destination at it: INTERCOM_API_URL={url}")
    echo(f"Any Intercom client works too: base URL {url}, bearer token: {token}.")
    echo(f"Control endpoints: {url}{PREFIX}/state, /calls, /reset, /faults, /clock, /config")
    if config.state_file is not None:
        echo(f"State file: {config.state_file} (written on shutdown and by {PREFIX}/save)")
    server = uvicorn.Server(
        uvicorn.Config(app, access_log=access_log, log_level="info", lifespan="on")
    )
    server.run(sockets=[sock])
