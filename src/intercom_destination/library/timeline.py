"""Plugins and the timeline that runs them, as analytics-swift has them.

An event goes through four stages, each a list of plugins in the order they were added:
`before` plugins (validation, filtering), `enrichment` plugins (adding to the event), every
`destination` that `integrations` leaves switched on, then `after` plugins, which see the
event as the destinations got it. A `before` or `enrichment` plugin that returns None drops
the event. A destination has a timeline of its own, whose plugins change only what that
destination receives.
"""

from __future__ import annotations

import abc
import copy
import enum
from collections.abc import Iterator
from typing import Any, ClassVar, TypeVar

import msgspec

from intercom_destination.mapping.integrations import is_enabled

#: A Segment Spec event, as the JSON object it is sent as.
Event = dict[str, Any]

P = TypeVar("P", bound="Plugin")


class PluginType(enum.Enum):
    BEFORE = "before"
    ENRICHMENT = "enrichment"
    DESTINATION = "destination"
    AFTER = "after"


class Plugin:
    """A plugin of one `type`; override `execute` to see (and change, or drop) each event."""

    type: ClassVar[PluginType]

    def configure(self, timeline: Timeline) -> None:
        """The plugin joined `timeline`."""

    def execute(self, event: Event) -> Event | None:
        """The event, changed or not; None drops it (in the before and enrichment stages)."""
        return event

    def reset(self) -> None:
        """The user logged out (`reset()`): forget what is theirs."""


class Flushed(msgspec.Struct, frozen=True):
    """What a flush or a close left behind."""

    #: Events set aside until their contact's identify arrives: Intercom cannot take an event
    #: for a person it does not know, and flush does not wait for an identify that may never
    #: be sent (they wait up to `wait_timeout`, in the store).
    waiting: int = 0
    #: Dead letters in the store (each was reported to `on_error` when it died).
    dead: int = 0
    #: Events not delivered when the time given ran out (Intercom did not answer, say): a
    #: file store keeps them for the next start.
    pending: int = 0

    def __add__(self, other: Flushed) -> Flushed:
        return Flushed(
            self.waiting + other.waiting, self.dead + other.dead, self.pending + other.pending
        )


class FlushTimeout(TimeoutError):
    """A flush ran out of time; `left` says what it left behind."""

    def __init__(self, message: str, left: Flushed) -> None:
        super().__init__(message)
        self.left = left


class DestinationPlugin(Plugin, abc.ABC):
    """Delivers events somewhere. `deliver` is called on the caller's thread (or `adeliver` in
    the caller's event loop) and must not wait for the network; the lifecycle methods come in
    two forms, for threads (`start`, `flush`, `close`) and for asyncio (`astart`, ...)."""

    type = PluginType.DESTINATION
    #: The destination's name in `integrations`: `{"Intercom": false}` switches it off.
    key: ClassVar[str]

    def __init__(self) -> None:
        self.timeline = Timeline()

    def add(self, plugin: P) -> P:
        """Add a before, enrichment or after plugin that sees only this destination's events."""
        if plugin.type is PluginType.DESTINATION:
            raise ValueError("a destination's own plugins are before, enrichment or after plugins")
        self.timeline.add(plugin)
        return plugin

    def remove(self, plugin: Plugin) -> None:
        self.timeline.remove(plugin)

    def enabled(self, event: Event) -> bool:
        """Segment's rule for `integrations`: this destination's key, else `All`, else on."""
        integrations = event.get("integrations")
        return not isinstance(integrations, dict) or is_enabled(integrations, self.key)

    def process(self, event: Event) -> None:
        prepared = self._prepare(event)
        if prepared is not None:
            self.deliver(prepared)
            self.timeline.apply(PluginType.AFTER, prepared)

    async def aprocess(self, event: Event) -> None:
        prepared = self._prepare(event)
        if prepared is not None:
            await self.adeliver(prepared)
            self.timeline.apply(PluginType.AFTER, prepared)

    def reset(self) -> None:
        for plugin in self.timeline:
            plugin.reset()

    @abc.abstractmethod
    def deliver(self, event: Event) -> None:
        """Take the event for delivery, from the caller's thread."""

    async def adeliver(self, event: Event) -> None:
        """Take the event for delivery, in the caller's event loop."""
        self.deliver(event)

    def start(self) -> None:
        """Start delivering, for an application that uses threads."""

    async def astart(self) -> None:
        """Start delivering in the running event loop."""

    def flush(self, timeout: float | None = None) -> Flushed:
        """Wait until what was taken is delivered; after `timeout` seconds, FlushTimeout
        (or any TimeoutError) saying what is left."""
        return Flushed()

    async def aflush(self, timeout: float | None = None) -> Flushed:
        return Flushed()

    def close(self) -> Flushed:
        """Stop; what is not delivered yet stays where the destination keeps it, and the
        result says how much that is."""
        return Flushed()

    async def aclose(self) -> Flushed:
        return Flushed()

    def _prepare(self, event: Event) -> Event | None:
        if not self.enabled(event):
            return None
        if not self.timeline.has_source_plugins:
            return event
        # The destination's own plugins change a copy: other destinations get the original.
        return self.timeline.source(copy.deepcopy(event))


class Timeline:
    """The plugins of an `Analytics` (or of one destination), by type, in the order added.

    Adding and removing replace the tuples, so events in flight on other threads keep the
    plugin lists they started with.
    """

    def __init__(self) -> None:
        self._plugins: dict[PluginType, tuple[Plugin, ...]] = dict.fromkeys(PluginType, ())
        self.destinations: tuple[DestinationPlugin, ...] = ()

    def add(self, plugin: Plugin) -> None:
        if plugin.type is PluginType.DESTINATION and not isinstance(plugin, DestinationPlugin):
            raise TypeError(f"{plugin!r} is of type destination but no DestinationPlugin")
        self._plugins[plugin.type] += (plugin,)
        if isinstance(plugin, DestinationPlugin):
            self.destinations += (plugin,)
        plugin.configure(self)

    def remove(self, plugin: Plugin) -> None:
        self._plugins[plugin.type] = tuple(p for p in self._plugins[plugin.type] if p is not plugin)
        self.destinations = tuple(d for d in self.destinations if d is not plugin)

    def __iter__(self) -> Iterator[Plugin]:
        for kind in PluginType:
            yield from self._plugins[kind]

    @property
    def has_source_plugins(self) -> bool:
        return bool(self._plugins[PluginType.BEFORE] or self._plugins[PluginType.ENRICHMENT])

    def source(self, event: Event) -> Event | None:
        """The event after the before and enrichment plugins, or None if one dropped it."""
        result = self.apply(PluginType.BEFORE, event)
        return None if result is None else self.apply(PluginType.ENRICHMENT, result)

    def apply(self, kind: PluginType, event: Event) -> Event | None:
        """Run the plugins of `kind` in order; None once one returns None."""
        for plugin in self._plugins[kind]:
            result = plugin.execute(event)
            if result is None:
                return None
            event = result
        return event
