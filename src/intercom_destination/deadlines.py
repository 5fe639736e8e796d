"""How long a request may take to arrive, so that slow or stalled clients cannot hold the
server's connections.

uvicorn bounds the wait between two requests of a connection (`timeout_keep_alive`) but not
how long a request takes to arrive: a client that sends half its headers, or half its body,
holds its connection (and the memory behind it) for as long as it likes, and a thousand such
clients exhaust the server. Here a connection gets `Deadlines.header` seconds, from its
opening or from a request's first byte, to send a request's headers, and `Deadlines.body`
seconds after them to send its body:

- headers late: the client is answered 408 and the connection closed (closed without an
  answer if it sent nothing at all: a browser's preconnect, not a request);
- body late: the app, reading the body within the same bound (see `ingest.body`), answers 408
  and closes; an app that answers without reading the body has its answer end the
  connection, which is closed at once if it was already sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from intercom_destination.settings import Settings

log = logging.getLogger(__name__)

#: The answer to a request whose headers came too late, as ingest words its refusals.
_TIMED_OUT_BODY = (
    b'{"success":false,"code":"request_timeout",'
    b'"message":"the request\'s headers did not arrive in time"}'
)
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/json\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n"
    b"\r\n%s" % (len(_TIMED_OUT_BODY), _TIMED_OUT_BODY)
)


class Deadlines(NamedTuple):
    """Seconds a request's headers, and then its body, may take to arrive."""

    header: float
    body: float

    @classmethod
    def of(cls, settings: Settings) -> Deadlines:
        return cls(settings.header_timeout, settings.body_timeout)


def deadline_protocol(deadlines: Deadlines) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools), holding each request to `deadlines`."""

    class Protocol(_DeadlineProtocol):
        _deadlines = deadlines

    return Protocol


class _DeadlineProtocol(HttpToolsProtocol):
    _deadlines: Deadlines

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        #: Whether a byte of the current request has arrived.
        self._begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._deadlines.header, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._timer is None:  # a later request of the connection: its headers start now
            self._arm(self._deadlines.header, self._headers_late)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self._deadlines.body, self._body_late)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._begun = False
        self._disarm()

    def _arm(self, seconds: float, late: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        # A 408 only where it is the next thing on the wire: not before an answer still being
        # written to a previous (pipelined) request.
        if self._begun and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_TIMED_OUT)
            self._log("headers")
        self.transport.close()

    def _body_late(self) -> None:
        self._timer = None
        if self.cycle.response_complete:
            self._log("body")
            self.transport.close()
        else:
            # The answer to come ends the connection (with `Connection: close`).
            self.cycle.keep_alive = False

    def _log(self, part: str) -> None:
        seconds = self._deadlines.header if part == "headers" else self._deadlines.body
        log.info(
            f"a request's {part} did not arrive within {seconds:g} s: connection closed",
            extra={"fields": {"client": self.client[0] if self.client else None}},
        )
