"""A destination that keeps what it receives, and plugins that change or drop events."""

from __future__ import annotations

from typing import ClassVar

from intercom_destination.library import DestinationPlugin, Event, Flushed, Plugin, PluginType


class Recorder(DestinationPlugin):
    key = "Recorder"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self.resets = 0
        self.started = self.closed = False

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def reset(self) -> None:
        super().reset()
        self.resets += 1

    def start(self) -> None:
        self.started = True

    async def astart(self) -> None:
        self.started = True

    def close(self) -> Flushed:
        self.closed = True
        return Flushed()

    async def aclose(self) -> Flushed:
        self.closed = True
        return Flushed()

    def of_type(self, kind: str) -> list[Event]:
        return [event for event in self.events if event["type"] == kind]


class DropTracks(Plugin):
    """A before plugin: track calls named in `names` go nowhere."""

    type: ClassVar[PluginType] = PluginType.BEFORE

    def __init__(self, *names: str) -> None:
        self.names = names

    def execute(self, event: Event) -> Event | None:
        if event["type"] == "track" and event["event"] in self.names:
            return None
        return event


class AddTrait(Plugin):
    """An enrichment plugin: every identify gets the trait `name = value`."""

    type: ClassVar[PluginType] = PluginType.ENRICHMENT

    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = value
        self.resets = 0

    def execute(self, event: Event) -> Event | None:
        if event["type"] == "identify":
            event["traits"][self.name] = self.value
        return event

    def reset(self) -> None:
        self.resets += 1


class Seen(Plugin):
    """An after plugin: keeps the events it sees."""

    type: ClassVar[PluginType] = PluginType.AFTER

    def __init__(self) -> None:
        self.events: list[Event] = []

    def execute(self, event: Event) -> Event | None:
        self.events.append(event)
        return event
