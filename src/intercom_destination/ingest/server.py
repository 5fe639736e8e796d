"""Serving an ASGI app with uvicorn inside a running event loop, so that whoever started it
(and opened the store) closes what it opened once the server has stopped."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

T = TypeVar("T")


def bind(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening socket on `host:port` (port 0 picks a free one), and its URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    bound = sock.getsockname()[1]
    url = f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
    return sock, url


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises SIGTERM once it has stopped, which would end the process before
        # the caller closes the store; here a signal only asks the server to stop.
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for number in signals:
            loop.add_signal_handler(number, self.handle_exit, number, None)
        try:
            yield
        finally:
            for number in signals:
                loop.remove_signal_handler(number)


async def serve(app: ASGIApp, sock: socket.socket) -> None:
    """Serves `app` on `sock` until SIGINT or SIGTERM, then returns once requests in flight
    are answered. uvicorn logs through the root logger; no access log, since a settings path
    holds a write key."""
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=30
    )
    await _Server(config).serve(sockets=[sock])


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` on uvloop (the fastest loop uvicorn supports) where it is installed."""
    try:
        import uvloop
    except ImportError:
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
