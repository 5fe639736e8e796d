"""A TCP proxy in the test's event loop, to make a server behind it fail as networks do:
refuse connections, or accept them and never answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Proxy:
    """Forwards `127.0.0.1:port` to `target` until told otherwise."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._silent = False
        self.port = 0

    async def forward(self) -> None:
        """Forward new connections (on the same port as before, if any)."""
        self._silent = False
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Drop every connection and refuse new ones, as a stopped server does."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._drop()

    async def go_silent(self) -> None:
        """Drop every connection, then accept new ones and never answer them."""
        self._silent = True
        self._drop()

    def _drop(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self._silent:
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@contextlib.asynccontextmanager
async def proxy(target: tuple[str, int]) -> AsyncIterator[Proxy]:
    opened = Proxy(target)
    await opened.forward()
    try:
        yield opened
    finally:
        await opened.refuse()
