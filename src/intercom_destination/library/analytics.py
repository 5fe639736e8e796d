"""The analytics client of library mode: analytics-python's calls on analytics-swift's timeline.

    analytics = Analytics()
    analytics.add(IntercomDestination(access_token="..."))
    analytics.identify("u1", {"email": "ada@example.com"})

Each call builds a complete Segment event and runs it through the timeline's plugins on the
caller's thread; destinations queue it and deliver in the background. `Analytics` is for
threaded code; `AsyncAnalytics` runs delivery as tasks in the application's event loop.

The user is remembered between calls as the mobile SDKs do: after `identify("u1")`, a call
without user_id is about u1. A server handling many users passes user_id on every call.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import time
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from intercom_destination.library.events import Calls, Identity
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
#: How long delivery may go on when the interpreter exits without `close()`, seconds.
EXIT_TIMEOUT = 5.0


class _Client(Calls[R]):
    """What both clients share: the user, the timeline, and the calls (`Calls`), which hand
    their events to each client's `_dispatch`."""

    def __init__(self, *, anonymous_id: str | None = None) -> None:
        super().__init__(Identity(anonymous_id))
        self.timeline = Timeline()
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


class Analytics(_Client[None]):
    """The timeline for threaded applications (web apps, workers, scripts).

    Calls cost microseconds and never wait for the network; `flush()` waits until what was
    sent is delivered. At interpreter exit, an Analytics not closed is closed, giving
    delivery up to EXIT_TIMEOUT seconds (the file store keeps the rest for the next start).
    """

    def __init__(self, *, anonymous_id: str | None = None) -> None:
        super().__init__(anonymous_id=anonymous_id)
        atexit.register(self._at_exit)

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
        contact's identify: see `Flushed`); TimeoutError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        flushed = Flushed()
        for destination in self.timeline.destinations:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            flushed += destination.flush(remaining)
        return flushed

    def close(self, timeout: float | None = None) -> None:
        """Deliver what was sent (waiting up to `timeout` seconds), then stop every
        destination. Events not delivered by then stay in a file store for the next start."""
        if self._closed:
            return
        atexit.unregister(self._at_exit)
        _shut_down(self._detach_destinations(), timeout)

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

    def _at_exit(self) -> None:
        self.close(EXIT_TIMEOUT)


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

    async def flush(self) -> Flushed:
        """Wait until every event sent so far is delivered (or dead, or waiting for its
        contact's identify); bound it with `asyncio.timeout`."""
        flushed = Flushed()
        for result in await asyncio.gather(*(d.aflush() for d in self.timeline.destinations)):
            flushed += result
        return flushed

    async def close(self, timeout: float | None = None) -> None:
        """Deliver what was sent (waiting up to `timeout` seconds), then stop every
        destination."""
        if not self._closed:
            await _ashut_down(self._detach_destinations(), timeout)

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


def _shut_down(destinations: Sequence[DestinationPlugin], timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    for destination in destinations:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            destination.flush(remaining)
        except TimeoutError as error:
            log.warning("closing with events undelivered: %s", error)
        destination.close()


async def _ashut_down(destinations: Sequence[DestinationPlugin], timeout: float | None) -> None:
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(d.aflush() for d in destinations))
    except TimeoutError:
        log.warning("closing with events undelivered after %s s", timeout)
    await asyncio.gather(*(d.aclose() for d in destinations))
