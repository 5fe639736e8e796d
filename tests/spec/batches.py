"""Batch envelopes decoded the way ingest reads them (see `ingest.payload.Decoder`), as
typed events: what the decoding tests assert about a whole batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from intercom_destination.spec import Event, InvalidEvent, decode_event
from intercom_destination.spec.decode import merge_envelope


class Rejected(msgspec.Struct, frozen=True):
    """An item of a batch that could not be accepted, by its position in the batch."""

    index: int
    error: InvalidEvent


class Batch(msgspec.Struct, frozen=True):
    events: list[Event]
    rejected: list[Rejected]


def decode_batch(
    envelope: Mapping[str, Any],
    *,
    received_at: datetime,
    make_message_id: Callable[[], str],
) -> Batch | InvalidEvent:
    """A batch envelope (`{"batch": [...], "context", "integrations", "sentAt"}`) as events.

    Envelope `context` and `integrations` are merged into each item one level deep, the
    item winning, so per-destination option objects set on an event stay as they are.
    """
    items = envelope.get("batch")
    if not isinstance(items, list):
        return InvalidEvent("batch", "missing" if items is None else "must be an array")
    sent_at = envelope.get("sentAt")
    events: list[Event] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejected.append(Rejected(index, InvalidEvent(f"batch[{index}]", "must be an object")))
            continue
        result = decode_event(
            merge_envelope(item, envelope),
            received_at=received_at,
            sent_at=sent_at,
            make_message_id=make_message_id,
        )
        if isinstance(result, InvalidEvent):
            rejected.append(Rejected(index, result))
        else:
            events.append(result)
    return Batch(events, rejected)
