"""Serving ASGI apps with uvicorn inside a running event loop, so that whoever started them
(and opened the store) closes what it opened once the servers have stopped."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

from intercom_destination.deadlines import Deadlines, deadline_protocol

T = TypeVar("T")


def bind(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening socket on `host:port` (port 0 picks a free one), and its URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    bound = sock.getsockname()[1]
    url = f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
    return sock, url


class _Server(uvicorn.Server):
    """Stops on SIGINT or SIGTERM, and returns instead of ending the process; calls `serving`
    once it accepts connections."""

    def __init__(self, config: uvicorn.Config, serving: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._serving = serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._serving is not None:
            self._serving()

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


class _Companion(uvicorn.Server):
    """Leaves signals to another server; stops when its `should_exit` is set."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(app: ASGIApp, deadlines: Deadlines) -> uvicorn.Config:
    # uvicorn logs through the root logger; no access log, since a settings path holds a
    # write key. No WebSocket: no app served here has one, and an upgraded connection would
    # leave the protocol that holds requests to their deadlines.
    return uvicorn.Config(
        app,
        http=deadline_protocol(deadlines),
        ws="none",
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    deadlines: Deadlines,
    *,
    serving: Callable[[], None] | None = None,
) -> None:
    """Serves `app` on `sock` until SIGINT or SIGTERM, then returns once requests in flight
    are answered; calls `serving`, if given, once it accepts connections. Each request must
    arrive within `deadlines`."""
    with _startup_frozen():
        await _Server(_config(app, deadlines), serving).serve(sockets=[sock])


@contextlib.contextmanager
def _startup_frozen() -> Iterator[None]:
    # What exists once a server starts (modules, settings, the app, the store: some 45,000
    # objects) lives as long as the process. Frozen, it is left out of the collector's full
    # passes, which requests' allocations bring every few thousand requests, with the GIL
    # held: each is then a fraction as long.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.asynccontextmanager
async def serving_alongside(
    app: ASGIApp, sock: socket.socket, deadlines: Deadlines
) -> AsyncIterator[None]:
    """Serves `app` on `sock` while the block runs (next to a server that handles signals),
    each request within `deadlines`."""
    server = _Companion(_config(app, deadlines))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await task


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
