"""From JSON objects as clients send them to typed events, or to an error naming the field.

Decoding never raises on bad input: every problem becomes an `InvalidEvent`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET

from intercom_destination.spec import plain
from intercom_destination.spec.events import (
    MAX_MESSAGE_ID_LENGTH,
    Alias,
    Event,
    Group,
    Identify,
    InvalidEvent,
    Page,
    Screen,
    Track,
)
from intercom_destination.spec.timestamps import (
    corrected_timestamp,
    isoformat,
    parse_timestamp,
)

#: Each event type and the class it decodes to.
_CLASSES: dict[str, type[Event]] = {
    "identify": Identify,
    "track": Track,
    "page": Page,
    "screen": Screen,
    "group": Group,
    "alias": Alias,
}
EVENT_TYPES = tuple(_CLASSES)
# Fields the HTTP transport adds around an event; they are not part of the event.
_TRANSPORT_FIELDS = ("writeKey", "sentAt", "_metadata")


def stored_form(event: Event) -> dict[str, Any]:
    """The event as Segment keeps it once received: every field the client sent, plus its
    `messageId`, the corrected `timestamp`, the client's own `originalTimestamp` and
    `receivedAt`. Decoding it again gives the same event, whenever that happens."""
    return _into_stored_form(
        dict(event.raw),
        event.type,
        event.message_id,
        isoformat(event.timestamp),
        isoformat(event.received_at),
    )


def _into_stored_form(
    raw: dict[str, Any], kind: str, message_id: str, timestamp: str, received_at: str
) -> dict[str, Any]:
    """`raw` (an event without its transport fields) made its stored form, in place."""
    original = raw.get("originalTimestamp", raw.get("timestamp"))
    raw["type"] = kind
    raw["messageId"] = message_id
    raw["timestamp"] = timestamp
    raw["receivedAt"] = received_at
    if original is not None:
        raw["originalTimestamp"] = original
    return raw


def merge_envelope(item: Mapping[str, Any], envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The item with the envelope's `context` and `integrations` merged in, the item winning."""
    merged = dict(item)
    for key in ("context", "integrations"):
        outer = envelope.get(key)
        if outer is None:
            continue
        inner = item.get(key)
        if isinstance(outer, dict) and isinstance(inner, dict):
            merged[key] = {**outer, **inner}
        elif inner is None:
            merged[key] = outer
    return merged


def decode_event(
    obj: Mapping[str, Any],
    *,
    received_at: datetime,
    make_message_id: Callable[[], str],
    sent_at: object = None,
    type_hint: str | None = None,
) -> Event | InvalidEvent:
    """One Segment event as a typed event, or the first problem found in it.

    `type_hint` is the type a single-event path implies (`/v1/track`); an event's own `type`
    must agree with it. `sent_at` is the batch envelope's, used when the event has none.
    """
    try:
        checked = _check(obj, received_at, make_message_id, parse_timestamp(sent_at), type_hint)
    except _Invalid as invalid:
        return invalid.error
    return _CLASSES[checked.type](
        message_id=checked.message_id,
        user_id=checked.user_id,
        anonymous_id=checked.anonymous_id,
        timestamp=checked.timestamp,
        received_at=received_at,
        context=checked.context,
        integrations=checked.integrations,
        raw=_without_transport_fields(dict(obj)),
        **checked.fields,
    )


class StoredForm(msgspec.Struct, frozen=True):
    """An event that `decode_event` would accept, as `stored_form` writes it."""

    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    document: dict[str, Any]


class Arrival:
    """Events that came in one request, decoded for storage: all received at `received_at`,
    in an envelope that gave `sent_at`. What they share is read once for all of them."""

    def __init__(
        self, received_at: datetime, make_message_id: Callable[[], str], sent_at: object = None
    ) -> None:
        self._received_at = received_at
        self._received_text = isoformat(received_at)
        self._make_message_id = make_message_id
        self._sent_at = parse_timestamp(sent_at)

    def decode_for_storage(
        self, obj: dict[str, Any], type_hint: str | None = None
    ) -> StoredForm | InvalidEvent:
        """`decode_event`'s checks, giving the event's stored form instead of the typed event:
        ingest stores events without reading them. `obj` itself becomes the stored form (pass
        one nothing else holds); it is left as it was when the event is invalid."""
        try:
            checked = _check(
                obj, self._received_at, self._make_message_id, self._sent_at, type_hint
            )
        except _Invalid as invalid:
            return invalid.error
        document = _into_stored_form(
            _without_transport_fields(obj),
            checked.type,
            checked.message_id,
            isoformat(checked.timestamp),
            self._received_text,
        )
        return StoredForm(
            checked.type, checked.message_id, checked.user_id, checked.anonymous_id, document
        )

    def decode_plain_for_storage(self, event: bytes | msgspec.Raw) -> StoredForm | None:
        """`decode_for_storage` of an event's JSON if the event is plain (see `plain`), its
        values stored as they came; None if it is not plain, for `decode_for_storage` to
        decode or refuse."""
        # An event with a NUL anywhere is left to the general way, which tells where it is.
        read = None if _NUL_ESCAPE.search(event) else plain.read(event)
        if read is None:
            return None
        fields, top_level = read
        user_id = fields.userId or None
        anonymous_id = fields.anonymousId or None
        if user_id is None and anonymous_id is None:
            return None
        # As `_timestamp` reads them: both must be readable, and the event happened at its
        # `timestamp` if it has one, else at its `originalTimestamp`.
        happened = None
        for text in (fields.originalTimestamp, fields.timestamp):
            if text is not UNSET:
                happened = parse_timestamp(text)
                if happened is None:
                    return None
        corrected = corrected_timestamp(happened, self._sent_at, self._received_at)
        if corrected is None:
            return None
        kind = plain.KINDS[type(fields)]
        message_id = fields.messageId or self._make_message_id()
        document = _into_stored_form(
            _without_transport_fields(top_level),
            kind,
            message_id,
            isoformat(corrected),
            self._received_text,
        )
        return StoredForm(kind, message_id, user_id, anonymous_id, document)


class _Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.error = InvalidEvent(field, reason)


class _Checked(msgspec.Struct, frozen=True):
    """What an event's checks found: its common fields, and its type's own (`fields`) as the
    keyword arguments of its class."""

    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    timestamp: datetime
    context: dict[str, Any]
    integrations: dict[str, Any]
    fields: dict[str, Any]


def _check(
    obj: Mapping[str, Any],
    received_at: datetime,
    make_message_id: Callable[[], str],
    envelope_sent_at: datetime | None,
    type_hint: str | None,
) -> _Checked:
    """Every check of an event, in the order its problems are reported; raises `_Invalid`."""
    kind = obj.get("type", type_hint)
    if kind is None:
        raise _Invalid("type", "missing")
    if not isinstance(kind, str) or kind.lower() not in EVENT_TYPES:
        raise _Invalid("type", f"must be one of {', '.join(EVENT_TYPES)}")
    kind = kind.lower()
    if type_hint is not None and kind != type_hint:
        raise _Invalid("type", f"is {kind!r} but the path is for {type_hint!r} events")

    message_id = _identifier(obj, "messageId")
    if message_id is None:
        message_id = make_message_id()
    elif len(message_id) >= MAX_MESSAGE_ID_LENGTH:
        raise _Invalid("messageId", f"longer than {MAX_MESSAGE_ID_LENGTH - 1} characters")

    user_id = _identifier(obj, "userId")
    anonymous_id = _identifier(obj, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise _Invalid(kind, "needs userId or anonymousId")

    return _Checked(
        kind,
        message_id,
        user_id,
        anonymous_id,
        _timestamp(obj, received_at, envelope_sent_at),
        _object(obj, "context"),
        _object(obj, "integrations"),
        _type_fields(obj, kind, user_id),
    )


def _type_fields(obj: Mapping[str, Any], kind: str, user_id: str | None) -> dict[str, Any]:
    match kind:
        case "identify":
            return {"traits": _traits(obj)}
        case "track":
            event = _text(obj, "event", kind)
            if event is None:
                raise _Invalid("track.event", "missing")
            return {"event": event, "properties": _object(obj, "properties")}
        case "page" | "screen":
            return {
                "name": _text(obj, "name", kind),
                "category": _text(obj, "category", kind),
                "properties": _object(obj, "properties"),
            }
        case "group":
            group_id = _identifier(obj, "groupId", kind)
            if group_id is None:
                raise _Invalid("group.groupId", "missing")
            return {"group_id": group_id, "traits": _traits(obj)}
        case _:
            previous_id = _identifier(obj, "previousId", kind)
            if previous_id is None:
                raise _Invalid("alias.previousId", "missing")
            if user_id is None:
                raise _Invalid("alias.userId", "missing")
            return {"previous_id": previous_id}


def _without_transport_fields(obj: dict[str, Any]) -> dict[str, Any]:
    for key in _TRANSPORT_FIELDS:
        obj.pop(key, None)
    return obj


def coerce_id(name: str, value: object) -> str | None:
    """An id as a string: numbers are accepted (some clients send them); null and "" are
    absent. TypeError, naming the id, for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{name} must be a string or a number, not {value!r}")


def _identifier(obj: Mapping[str, Any], key: str, kind: str | None = None) -> str | None:
    field = f"{kind}.{key}" if kind else key
    try:
        value = coerce_id(key, obj.get(key))
    except TypeError:
        raise _Invalid(field, "must be a string") from None
    return _without_nul(value, field)


def _text(obj: Mapping[str, Any], key: str, kind: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{kind}.{key}", "must be a string")
    return _without_nul(value, f"{kind}.{key}")


#: A NUL as JSON must spell it: a string cannot hold the byte itself.
_NUL_ESCAPE = re.compile(rb"\\u0000")


def _without_nul(value: str | None, field: str) -> str | None:
    """`value`, unless it holds a NUL. Ids and names become columns of the store (lanes,
    identities, event names), and PostgreSQL's text cannot hold a NUL: refused here, every
    store and every command treats them alike. Elsewhere in an event (properties, traits) a
    NUL is kept, as the event's JSON keeps it."""
    if value is not None and "\x00" in value:
        raise _Invalid(field, "must not contain NUL (\\u0000)")
    return value


def _object(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(key, "must be an object")
    return value


def _traits(obj: Mapping[str, Any]) -> dict[str, Any]:
    # Some clients put identify traits under context.traits only.
    traits = _object(obj, "traits")
    if traits:
        return traits
    context_traits = _object(obj, "context").get("traits")
    return context_traits if isinstance(context_traits, dict) else {}


def _timestamp(
    obj: Mapping[str, Any], received_at: datetime, envelope_sent_at: datetime | None
) -> datetime:
    """The event's corrected time.

    An event that already carries `receivedAt` was processed by Segment (an archive export):
    its `timestamp` is already corrected and is kept.
    """
    # Each is read once, and all are checked: ingest decodes tens of thousands of events a
    # second.
    timestamp = _moment(obj, "timestamp")
    original = _moment(obj, "originalTimestamp")
    sent_at = _moment(obj, "sentAt")
    archived = _moment(obj, "receivedAt") is not None
    if timestamp is not None and archived:
        return timestamp
    # A field that is present but null counts as given, as `dict.get` with a default reads it.
    original_key = "originalTimestamp"
    if "timestamp" in obj:
        original, original_key = timestamp, "timestamp"
    if "sentAt" not in obj:
        sent_at = envelope_sent_at
    corrected = corrected_timestamp(original, sent_at, received_at)
    if corrected is None:
        # Both were read, and only one of them is far off: name the one farther from now.
        assert original is not None
        assert sent_at is not None
        far = abs(sent_at - received_at) > abs(original - received_at)
        key, other = ("sentAt", original_key) if far else (original_key, "sentAt")
        raise _Invalid(key, f"too far from {other}: corrected for clock skew, outside years 1-9999")
    return corrected


def _moment(obj: Mapping[str, Any], key: str) -> datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    moment = parse_timestamp(value)
    if moment is None:
        raise _Invalid(key, "not a timestamp (ISO-8601 or Unix seconds)")
    return moment
