"""Events from a file, decoded as Segment would receive them, each with its line number."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial

import msgspec

from intercom_destination.spec import Event, InvalidEvent, decode_event
from intercom_destination.spec.documents import read_items

_encoder = msgspec.json.Encoder()


class Line(msgspec.Struct, frozen=True):
    number: int
    event: Event | InvalidEvent


def read_events(lines: Iterable[str], received_at: datetime) -> Iterator[Line]:
    """Every event in a file's `lines` (JSON, a batch envelope, an array or JSON Lines, these
    read a line at a time), or why not.

    An event without a messageId gets one derived from its content, so reading the same
    file twice gives the same ids and the store deduplicates a backfill that is run again.
    """
    for item in read_items(lines):
        if isinstance(item.value, InvalidEvent):
            yield Line(item.line, item.value)
            continue
        event = decode_event(
            item.value,
            received_at=received_at,
            sent_at=item.sent_at,
            make_message_id=partial(_content_id, [item.value, item.sent_at]),
        )
        yield Line(item.line, event)


def _content_id(content: object) -> str:
    return f"file-{hashlib.sha256(_encoder.encode(content)).hexdigest()[:32]}"
