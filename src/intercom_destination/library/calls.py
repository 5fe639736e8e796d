"""analytics-python's calls, each making a complete Segment Spec event about the user that the
mobile SDKs remember between calls."""

from __future__ import annotations

import abc
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any, Generic, TypeVar

from intercom_destination.library.timeline import Event
from intercom_destination.spec.decode import coerce_id

#: `context.library` of every event.
LIBRARY = {"name": "intercom-destination", "version": version("intercom-destination")}

#: An id as analytics-python takes it: numbers are sent as strings.
Id = str | int

R = TypeVar("R")


class Identity:
    """The current user: userId, anonymousId and traits, kept between calls as analytics-swift
    and analytics.js keep them. Safe to use from many threads.

    An anonymousId is made up at the start and after `reset`. identify remembers its userId
    and adds its traits to the user's; identifying another userId starts their traits afresh.
    """

    def __init__(self, anonymous_id: str | None = None) -> None:
        self._lock = threading.Lock()
        self.user_id: str | None = None
        self.anonymous_id = anonymous_id or str(uuid.uuid4())
        self._traits: dict[str, Any] = {}

    @property
    def traits(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._traits)

    def ids(self, user_id: str | None, anonymous_id: str | None) -> tuple[str | None, str]:
        """The ids for an event: those given, else the remembered ones."""
        with self._lock:
            return (
                self.user_id if user_id is None else user_id,
                self.anonymous_id if anonymous_id is None else anonymous_id,
            )

    def identify(
        self, user_id: str | None, traits: dict[str, Any]
    ) -> tuple[str | None, str, dict[str, Any]]:
        """Remember an identify; the ids and every trait of the user, for its event."""
        with self._lock:
            if user_id is not None and user_id != self.user_id:
                if self.user_id is not None:
                    self._traits = {}
                self.user_id = user_id
            self._traits.update(traits)
            return self.user_id, self.anonymous_id, dict(self._traits)

    def alias(self, previous_id: str | None, user_id: str) -> tuple[str, str]:
        """Remember that the user is now `user_id`; the previous id and the anonymousId."""
        with self._lock:
            previous = previous_id or self.user_id or self.anonymous_id
            self.user_id = user_id
            return previous, self.anonymous_id

    def reset(self) -> None:
        """Forget the user: no userId, no traits, a new anonymousId."""
        with self._lock:
            self.user_id = None
            self.anonymous_id = str(uuid.uuid4())
            self._traits = {}


class Calls(abc.ABC, Generic[R]):
    """analytics-python's calls, with its signatures, about `identity`.

    Each call makes its event (type, messageId, timestamp, ids, `context.library`,
    `integrations`) at once, raising TypeError for a wrong argument, and returns what
    `_dispatch` makes of it: nothing for a threaded client, a coroutine for an asyncio one.
    """

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    @abc.abstractmethod
    def _dispatch(self, event: Event) -> R:
        """Send an event a call made."""

    def identify(
        self,
        user_id: Id | None = None,
        traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        anonymous_id: Id | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> R:
        user, anonymous, every_trait = self.identity.identify(
            coerce_id("user_id", user_id), _object("traits", traits)
        )
        ids = (user, coerce_id("anonymous_id", anonymous_id) or anonymous)
        fields = {"traits": every_trait}
        return self._call("identify", fields, ids, context, timestamp, integrations, message_id)

    def track(
        self,
        user_id: Id | None = None,
        event: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        anonymous_id: Id | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> R:
        if not isinstance(event, str) or not event:
            raise TypeError(f"track needs the event's name as a string, not {event!r}")
        fields = {"event": event, "properties": _object("properties", properties)}
        ids = self._ids(user_id, anonymous_id)
        return self._call("track", fields, ids, context, timestamp, integrations, message_id)

    def group(
        self,
        user_id: Id | None = None,
        group_id: Id | None = None,
        traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        anonymous_id: Id | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> R:
        group = coerce_id("group_id", group_id)
        if group is None:
            raise TypeError("group needs a group_id")
        fields = {"groupId": group, "traits": _object("traits", traits)}
        ids = self._ids(user_id, anonymous_id)
        return self._call("group", fields, ids, context, timestamp, integrations, message_id)

    def page(
        self,
        user_id: Id | None = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        anonymous_id: Id | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = _view_fields("page", category, name, properties)
        ids = self._ids(user_id, anonymous_id)
        return self._call("page", fields, ids, context, timestamp, integrations, message_id)

    def screen(
        self,
        user_id: Id | None = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        anonymous_id: Id | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = _view_fields("screen", category, name, properties)
        ids = self._ids(user_id, anonymous_id)
        return self._call("screen", fields, ids, context, timestamp, integrations, message_id)

    def alias(
        self,
        previous_id: Id | None = None,
        user_id: Id | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> R:
        user = coerce_id("user_id", user_id)
        if user is None:
            raise TypeError("alias needs the user_id the user is known by from now on")
        previous, anonymous = self.identity.alias(coerce_id("previous_id", previous_id), user)
        fields = {"previousId": previous}
        ids = (user, anonymous)
        return self._call("alias", fields, ids, context, timestamp, integrations, message_id)

    def _call(
        self,
        kind: str,
        fields: Mapping[str, Any],
        ids: tuple[str | None, str],
        context: Mapping[str, Any] | None,
        timestamp: datetime | None,
        integrations: Mapping[str, Any] | None,
        message_id: str | None,
    ) -> R:
        user_id, anonymous_id = ids
        event: Event = {
            "type": kind,
            "messageId": message_id or str(uuid.uuid4()),
            "timestamp": _timestamp(timestamp),
            "anonymousId": anonymous_id,
            "context": {**_object("context", context), "library": dict(LIBRARY)},
            "integrations": _object("integrations", integrations),
        }
        if user_id is not None:
            event["userId"] = user_id
        event.update(fields)
        return self._dispatch(event)

    def _ids(self, user_id: Id | None, anonymous_id: Id | None) -> tuple[str | None, str]:
        return self.identity.ids(
            coerce_id("user_id", user_id), coerce_id("anonymous_id", anonymous_id)
        )


def _view_fields(
    kind: str, category: str | None, name: str | None, properties: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A page or screen event's own fields."""
    fields: dict[str, Any] = {"properties": _object("properties", properties)}
    for key, value in (("name", name), ("category", category)):
        if value is not None:
            if not isinstance(value, str):
                raise TypeError(f"{kind} {key} must be a string, not {value!r}")
            fields[key] = value
    return fields


def _object(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, not {type(value).__name__}")
    return dict(value)


def _timestamp(when: datetime | None) -> str:
    """ISO 8601 in UTC to the millisecond; a naive datetime is local time, as Python has it."""
    moment = datetime.now(UTC) if when is None else when.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")
