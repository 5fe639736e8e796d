"""Segment Spec events, decoded and validated, with every original field kept in `raw`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

#: A messageId must be shorter than this (Segment's limit).
MAX_MESSAGE_ID_LENGTH = 100


class BaseEvent(msgspec.Struct, frozen=True, kw_only=True):
    type: ClassVar[str]

    message_id: str
    user_id: str | None = None
    anonymous_id: str | None = None
    #: When it happened, corrected for the device's clock skew.
    timestamp: datetime
    received_at: datetime
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    integrations: dict[str, Any] = msgspec.field(default_factory=dict)
    #: The event as the client sent it (after the batch envelope was merged in).
    raw: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def lane(self) -> str:
        """The key that orders this event among its user's events."""
        return self.user_id or self.anonymous_id or ""


class Identify(BaseEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "identify"
    traits: dict[str, Any] = msgspec.field(default_factory=dict)


class Track(BaseEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "track"
    event: str
    properties: dict[str, Any] = msgspec.field(default_factory=dict)


class Page(BaseEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "page"
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)


class Screen(BaseEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "screen"
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)


class Group(BaseEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "group"
    group_id: str
    traits: dict[str, Any] = msgspec.field(default_factory=dict)


class Alias(BaseEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "alias"
    previous_id: str


Event = Identify | Track | Page | Screen | Group | Alias


class InvalidEvent(msgspec.Struct, frozen=True):
    """Why an event cannot be accepted, naming the field: `track.event: missing`."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"
