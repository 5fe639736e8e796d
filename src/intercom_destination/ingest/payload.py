"""From a request body to the events to store, within Segment's limits.

A batch is read in two steps: first its envelope, keeping each item's JSON as raw bytes (so a
refused write key costs no event decoding, and each event's size is its exact size on the
wire), then the items one by one, so one bad event rejects only itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from intercom_destination.ingest.responses import RejectedItem, bad_request
from intercom_destination.spec import InvalidEvent
from intercom_destination.spec.decode import Arrival, merge_envelope
from intercom_destination.spec.wire import (
    decode_object,
    nesting_error,
    raw_error,
    split_batch,
    why_not_json,
)
from intercom_destination.store import NewEvent, new_event

#: Segment's limits ("32 KB", "500 KB"), read generously: clients cap themselves below them.
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500


class Envelope(msgspec.Struct, frozen=True):
    batch: list[msgspec.Raw]
    # Segment's spellings, as on the wire.
    writeKey: object = None
    sentAt: object = None
    context: object = None
    integrations: object = None


class _WriteKey(msgspec.Struct, frozen=True):
    writeKey: object = None


class Decoded(msgspec.Struct, frozen=True):
    events: list[NewEvent]
    rejected: list[RejectedItem]


_envelope = msgspec.json.Decoder(Envelope)
_encoder = msgspec.json.Encoder()
_object = msgspec.json.Decoder(dict[str, Any])
_write_key = msgspec.json.Decoder(_WriteKey)


def read_envelope(body: bytes) -> Envelope:
    """The batch envelope, its items still raw; a 400 Refusal if it is not one."""
    try:
        envelope = _envelope.decode(_non_empty(body))
    except (msgspec.DecodeError, RecursionError) as error:
        split = _split_envelope(body)
        if split is None:
            reason = why_not_json(body, error)
            raise bad_request("invalid_json", f"the body is not a batch: {reason}") from None
        envelope = split
    if len(envelope.batch) > MAX_BATCH_EVENTS:
        raise bad_request(
            "too_many_events",
            f"the batch has {len(envelope.batch):,} events, more than {MAX_BATCH_EVENTS:,}",
        )
    for name in ("context", "integrations"):
        value = getattr(envelope, name)
        if value is None:
            continue
        # Merged into each event, it nests there as deep as under its name in the envelope.
        too_deep = nesting_error(_encoder.encode({name: value}), name)
        if too_deep is not None:
            raise bad_request("invalid_json", f"the body is not a batch: {too_deep}")
    return envelope


def _split_envelope(body: bytes) -> Envelope | None:
    """The envelope of a batch that msgspec refused because of its items alone (one too deep,
    or holding a lone surrogate), for each item to be read, or refused, on its own."""
    split = split_batch(body)
    if split is None or nesting_error(split.envelope, "batch") is not None:
        return None
    try:
        envelope = _envelope.decode(split.envelope)
    except msgspec.DecodeError:
        return None
    return msgspec.structs.replace(envelope, batch=[msgspec.Raw(item) for item in split.items])


def envelope_write_key(envelope: Envelope) -> object:
    """The envelope's writeKey, else its first item's (analytics.js puts it on each item)."""
    if envelope.writeKey is not None or not envelope.batch:
        return envelope.writeKey
    try:
        return _write_key.decode(envelope.batch[0]).writeKey
    except (msgspec.DecodeError, RecursionError):  # the item is refused when it is read
        return None


def read_event(body: bytes) -> dict[str, Any]:
    """A single event's JSON object; a 400 Refusal if it is not one."""
    error = nesting_error(_non_empty(body), "event")
    if error is not None:
        raise bad_request("invalid_json", f"the body is not an event: {error.reason}")
    try:
        return _object.decode(body)
    except msgspec.DecodeError as decode_error:
        reason = why_not_json(body, decode_error)
        raise bad_request("invalid_json", f"the body is not an event: {reason}") from None


def _non_empty(body: bytes) -> bytes:
    if not body.strip():
        raise bad_request("invalid_json", "the body is empty")
    return body


class Decoder:
    """Decodes events as Segment receives them: stamped with the request's arrival time, their
    timestamps corrected with `sentAt`, given a messageId when they have none."""

    def __init__(self, make_message_id: Callable[[], str]) -> None:
        self._make_message_id = make_message_id

    def batch(self, envelope: Envelope, received_at: float) -> Decoded:
        arrival = Arrival(
            datetime.fromtimestamp(received_at, UTC), self._make_message_id, envelope.sentAt
        )
        merges = envelope.context is not None or envelope.integrations is not None
        outer = {"context": envelope.context, "integrations": envelope.integrations}
        events: list[NewEvent] = []
        rejected: list[RejectedItem] = []
        for index, raw in enumerate(envelope.batch):
            if len(raw) > MAX_EVENT_BYTES:
                error = InvalidEvent("event", f"larger than {MAX_EVENT_BYTES:,} bytes")
                rejected.append(RejectedItem.of(index, error))
                continue
            data = bytes(raw)
            unreadable = raw_error(data, "event")
            if unreadable is not None:
                rejected.append(RejectedItem.of(index, unreadable))
                continue
            # An envelope's context and integrations are merged into objects: those are built.
            stored = None if merges else arrival.decode_plain_for_storage(raw)
            if stored is None:
                item = decode_object(data, "event")
                if isinstance(item, InvalidEvent):
                    rejected.append(RejectedItem.of(index, item))
                    continue
                result = arrival.decode_for_storage(merge_envelope(item, outer) if merges else item)
                if isinstance(result, InvalidEvent):
                    rejected.append(RejectedItem.of(index, result, item.get("messageId")))
                    continue
                stored = result
            events.append(new_event(stored, received_at))
        return Decoded(events, rejected)

    def single(self, obj: dict[str, Any], kind: str, received_at: float) -> NewEvent:
        """The event of a single-event path (`kind` from the path); a 400 Refusal if invalid."""
        arrival = Arrival(datetime.fromtimestamp(received_at, UTC), self._make_message_id)
        result = arrival.decode_for_storage(obj, type_hint=kind)
        if isinstance(result, InvalidEvent):
            rejected = [RejectedItem.of(0, result, obj.get("messageId"))]
            raise bad_request("invalid_event", f"the event is invalid: {result}", rejected)
        return new_event(result, received_at)
