"""The analytics client of library mode: analytics-python's calls on analytics-swift's timeline.

    analytics = Analytics()
    analytics.add(IntercomDestination(access_token="..."))
    analytics.identify("u1", {"email": "ada@example.com"})

Each call builds a complete Segment event and runs it through the timeline's plugins on the
caller's thread; destinations queue it and deliver in the background. `Analytics` is for
threaded code; `AsyncAnalytics` runs delivery as tasks in the application's event loop.

Ending is analytics-python's flush and shutdown, bounded: `flush(timeout)` waits until every
event is delivered or raises FlushTimeout saying what is left; `close(timeout)` (the end of a
`with` block, and interpreter exit for an `Analytics` not closed) gives delivery up to
`close_timeout` seconds, stops, and returns what is left, which a file store keeps for the
next start (and a warning names how many and where).

The user is remembered between calls as the mobile SDKs do: after `identify("u1")`, a call
without user_id is about u1. A server handling many users passes user_id on every call.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import time
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from intercom_destination.library.calls import Calls, Identity
from intercom_destination.library.timeline import (
    DestinationPlugin,
    Event,
    Flushed,
    Plugin,
    PluginType,
    Timeline,
)

log = logging.getLogger("intercom_destination.library")

P = TypeVar("P", bound=Plugin)
R = TypeVar("R")
#: How long closing (a `with` block's end, interpreter exit) gives delivery, seconds.
CLOSE_TIMEOUT = 5.0


class UseClientDefault:
    """`close()`'s timeout when none is given: the client's `close_timeout`."""


USE_CLIENT_DEFAULT = UseClientDefault()


class _Client(Calls[R]):
    """What both clients share: the user, the timeline, and the calls (`Calls`), which hand
    their events to each client's `_dispatch`."""

    def __init__(
        self, *, anonymous_id: str | None = None, close_timeout: float | None = CLOSE_TIMEOUT
    ) -> None:
        super().__init__(Identity(anonymous_id))
        self.timeline = Timeline()
        #: Seconds closing gives delivery (None: as long as it takes).
        self.close_timeout = close_timeout
        self._closed = False

    @property
    def user_id(self) -> str | None:
        return self.identity.user_id

    @property
    def anonymous_id(self) -> str:
        return self.identity.anonymous_id

    @property
    def traits(self) -> dict[str, Any]:
        return self.identity.traits

    def reset(self) -> None:
        """The user logged out: forget their userId and traits, take a new anonymousId, and
        call every plugin's `reset`.

        In device mode this is `Intercom.logout()`, which ends the Messenger's session on
        the device. A server has no session to end, and the contact stays in Intercom:
        events already made keep the user they were made for, and later ones are
        anonymous until the next identify.
        """
        self.identity.reset()
        for plugin in self.timeline:
            plugin.reset()

    def _source(self, event: Event) -> Event | None:
        if self._closed:
            log.warning(
                "Analytics is closed: %s event %s was not sent", event["type"], event["messageId"]
            )
            return None
        return self.timeline.source(event)

    def _detach_destinations(self) -> tuple[DestinationPlugin, ...]:
        """Take the destinations off the timeline for good (closing)."""
        self._closed = True
        destinations = self.timeline.destinations
        for destination in destinations:
            self.timeline.remove(destination)
        return destinations

    def _after(self, event: Event) -> None:
        self.timeline.apply(PluginType.AFTER, event)

    def _close_timeout(self, timeout: float | UseClientDefault | None) -> float | None:
        return self.close_timeout if isinstance(timeout, UseClientDefault) else timeout


class Analytics(_Client[None]):
    """The timeline for threaded applications (web apps, workers, scripts).

    Calls cost microseconds and never wait for the network; `flush()` waits until what was
    sent is delivered. At interpreter exit, an Analytics not closed is closed, giving
    delivery up to `close_timeout` seconds (the file store keeps the rest for the next
    start). The exit status stays the application's: the events left are not lost, and an
    atexit hook could change the status only by skipping the application's other hooks.
    """

    def __init__(
        self, *, anonymous_id: str | None = None, close_timeout: float | None = CLOSE_TIMEOUT
    ) -> None:
        super().__init__(anonymous_id=anonymous_id, close_timeout=close_timeout)
        atexit.register(self.close)

    def add(self, plugin: P) -> P:
        """Add a plugin; a destination starts delivering."""
        if isinstance(plugin, DestinationPlugin):
            plugin.start()
        self.timeline.add(plugin)
        return plugin

    def remove(self, plugin: Plugin, timeout: float | None = None) -> None:
        """Remove a plugin; a destination delivers what it has (up to `timeout`), then stops."""
        self.timeline.remove(plugin)
        if isinstance(plugin, DestinationPlugin):
            _shut_down([plugin], timeout)

    def flush(self, timeout: float | None = None) -> Flushed:
        """Wait until every event sent so far is delivered (or dead, or waiting for its
        contact's identify: see `Flushed`); after `timeout` seconds, FlushTimeout, whose
        `left` says what is not delivered yet."""
        deadline = None if timeout is None else time.monotonic() + timeout
        flushed = Flushed()
        for destination in self.timeline.destinations:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            flushed += destination.flush(remaining)
        return flushed

    def close(self, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT) -> Flushed:
        """Deliver what was sent (waiting up to `timeout` seconds, `close_timeout` unless
        given), then stop every destination; what is left. Events not delivered by then stay
        in a file store for the next start."""
        if self._closed:
            return Flushed()
        atexit.unregister(self.close)
        return _shut_down(self._detach_destinations(), self._close_timeout(timeout))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _dispatch(self, event: Event) -> None:
        source = self._source(event)
        if source is None:
            return
        for destination in self.timeline.destinations:
            destination.process(source)
        self._after(source)


class AsyncAnalytics(_Client[Coroutine[Any, Any, None]]):
    """The timeline for asyncio applications: the same calls, awaited (each makes its event
    when called and sends it when awaited); delivery runs as tasks in the application's
    loop. Use `async with AsyncAnalytics() as analytics:` or call
    `await analytics.close()` before the loop ends (in a lifespan handler, say)."""

    async def add(self, plugin: P) -> P:
        """Add a plugin; a destination starts delivering in the running loop."""
        if isinstance(plugin, DestinationPlugin):
            await plugin.astart()
        self.timeline.add(plugin)
        return plugin

    async def remove(self, plugin: Plugin, timeout: float | None = None) -> None:
        self.timeline.remove(plugin)
        if isinstance(plugin, DestinationPlugin):
            await _ashut_down([plugin], timeout)

    async def flush(self, timeout: float | None = None) -> Flushed:
        """Wait until every event sent so far is delivered (or dead, or waiting for its
        contact's identify); after `timeout` seconds, FlushTimeout, whose `left` says what
        is not delivered yet."""
        destinations = self.timeline.destinations
        return _sum(await asyncio.gather(*(d.aflush(timeout) for d in destinations)))

    async def close(self, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT) -> Flushed:
        """Deliver what was sent (waiting up to `timeout` seconds, `close_timeout` unless
        given), then stop every destination; what is left."""
        if self._closed:
            return Flushed()
        return await _ashut_down(self._detach_destinations(), self._close_timeout(timeout))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _dispatch(self, event: Event) -> Coroutine[Any, Any, None]:
        return self._send(event)

    async def _send(self, event: Event) -> None:
        source = self._source(event)
        if source is None:
            return
        for destination in self.timeline.destinations:
            await destination.aprocess(source)
        self._after(source)


# Closing flushes until the time is up, then each destination's close says what it left
# (and returns it): it knows where its events wait.


def _shut_down(destinations: Sequence[DestinationPlugin], timeout: float | None) -> Flushed:
    deadline = None if timeout is None else time.monotonic() + timeout
    left = Flushed()
    for destination in destinations:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        with contextlib.suppress(TimeoutError):
            destination.flush(remaining)
        left += destination.close()
    return left


async def _ashut_down(destinations: Sequence[DestinationPlugin], timeout: float | None) -> Flushed:
    # Every flush ends (each within `timeout`) before any destination closes.
    flushed = await asyncio.gather(
        *(d.aflush(timeout) for d in destinations), return_exceptions=True
    )
    for result in flushed:
        if isinstance(result, BaseException) and not isinstance(result, TimeoutError):
            raise result
    return _sum(await asyncio.gather(*(d.aclose() for d in destinations)))


def _sum(results: Sequence[Flushed]) -> Flushed:
    total = Flushed()
    for result in results:
        total += result
    return total
