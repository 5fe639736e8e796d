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
from typing import Any, Literal, NamedTuple

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
        #: When the part of the request now awaited must have arrived; None between requests
        #: (uvicorn's keep-alive timeout bounds those).
        self._due: float | None = None
        self._awaiting: Literal["headers", "body"] = "headers"
        #: Whether a byte of the current request has arrived.
        self._begun = False
        #: One timer for the connection, not one per request and part (each set and cancel
        #: costs the event loop): set for a due, it looks when it fires, and is
        #: set again if the due has moved on meanwhile.
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await("headers", self._deadlines.header)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._due is None:  # a later request of the connection: its headers start now
            self._await("headers", self._deadlines.header)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._await("body", self._deadlines.body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._begun = False
        self._due = None

    def _await(self, part: Literal["headers", "body"], seconds: float) -> None:
        self._awaiting = part
        self._due = due = self.loop.time() + seconds
        if self._timer is None or due < self._timer.when():
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(due, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._due is None or self.transport.is_closing():
            return
        if self._due > self.loop.time():
            self._timer = self.loop.call_at(self._due, self._check)
        elif self._awaiting == "headers":
            self._headers_late()
        else:
            self._body_late()

    def _headers_late(self) -> None:
        # A 408 only where it is the next thing on the wire: not before an answer still being
        # written to a previous (pipelined) request.
        if self._begun and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_TIMED_OUT)
            self._log("headers")
        self.transport.close()

    def _body_late(self) -> None:
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
