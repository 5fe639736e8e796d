"""The event tester: a pasted event, decoded as ingest would decode it, and its plan.

Pure: the caller gives the time and the messageId to use when the event has none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from intercom_destination.mapping import MappingOptions, Skip, describe, plan
from intercom_destination.spec import Event, InvalidEvent, decode_event

#: Segment's limit on one event; the tester takes no more.
MAX_EVENT_BYTES = 32 * 1024

_object = msgspec.json.Decoder(dict[str, Any])


class Tried(msgspec.Struct, frozen=True, kw_only=True):
    """What the tester shows of a pasted event: why it is invalid, or what it becomes."""

    error: str | None = None
    message_id: str | None = None
    type: str | None = None
    operations: list[dict[str, Any]] = msgspec.field(default_factory=list)
    skipped: str | None = None
    warnings: list[str] = msgspec.field(default_factory=list)


def read_event(text: str, *, received_at: datetime, message_id: str) -> Event | InvalidEvent:
    """The event in `text` (one JSON object, as a client sends it), received at
    `received_at`; `message_id` is its messageId when it has none."""
    data = text.encode("utf-8", errors="surrogateescape")
    if len(data) > MAX_EVENT_BYTES:
        return InvalidEvent("event", f"larger than {MAX_EVENT_BYTES:,} bytes")
    try:
        obj = _object.decode(data)
    except msgspec.DecodeError as error:
        return InvalidEvent("event", f"not a JSON object ({error})")
    return decode_event(obj, received_at=received_at, make_message_id=lambda: message_id)


def dry_run(event: Event | InvalidEvent, options: MappingOptions) -> Tried:
    """What `event` becomes in Intercom, without sending anything."""
    if isinstance(event, InvalidEvent):
        return Tried(error=str(event))
    outcome = plan(event, options)
    if isinstance(outcome, Skip):
        return Tried(
            message_id=event.message_id,
            type=event.type,
            skipped=outcome.reason,
            warnings=list(outcome.warnings),
        )
    return Tried(
        message_id=event.message_id,
        type=event.type,
        operations=[describe(operation) for operation in outcome.operations],
        warnings=list(outcome.warnings),
    )
