"""Events from a file: a JSON object, a batch envelope, a JSON array, or JSON Lines.

Each item comes with the line it starts on, so a person can find the one that is wrong. JSON
Lines (an archive export, a backfill of any size) are read a line at a time; a document that
spans several lines is read whole, as it is one value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import msgspec

from intercom_destination.spec.decode import merge_envelope
from intercom_destination.spec.events import InvalidEvent
from intercom_destination.spec.wire import decode_object, decode_value, split_batch


class Item(msgspec.Struct, frozen=True):
    line: int
    #: The event with its batch envelope's context and integrations merged in.
    value: dict[str, Any] | InvalidEvent
    #: The batch envelope's sentAt, for events that came in one.
    sent_at: object = None


def read_items(lines: Iterable[str]) -> Iterator[Item]:
    """The items of a file's `lines` (a text file, or a list of lines with their endings)."""
    numbered = enumerate(lines, start=1)
    first = _next_filled(numbered)
    if first is None:
        return
    first_line, first_text = first
    following = _next_filled(numbered)
    value = decode_value(_bytes(first_text), "json")
    if not isinstance(value, InvalidEvent):
        if following is None:
            yield from _document(first_line, value)
        else:
            # A value on the first line, and more lines after it: JSON Lines.
            yield _item(first_line, value, "event")
            yield from _json_lines(chain([following], numbered))
        return
    # The first line is part of a document that spans several; or the file is JSON Lines
    # whose first line is broken, which reading it a line at a time reports; or it is a batch
    # with an item no decoder reads whole, which is read an item at a time.
    rest = [first, *([following] if following else []), *numbered]
    text = _bytes("".join(line for _, line in rest))
    document = decode_value(text, "json")
    if not isinstance(document, InvalidEvent):
        yield from _document(first_line, document)
        return
    split = split_batch(text)
    if split is not None:
        envelope = decode_object(split.envelope, "json")
        if not isinstance(envelope, InvalidEvent):
            items = [decode_value(item, f"batch[{i}]") for i, item in enumerate(split.items)]
            yield from _batch(first_line, envelope, items)
            return
    yield from _json_lines(rest)


def _bytes(text: str) -> bytes:
    """The bytes of a file's text, those that are not UTF-8 as they were, if the file was read
    with errors="surrogateescape"."""
    return text.encode(errors="surrogateescape")


def _next_filled(numbered: Iterator[tuple[int, str]]) -> tuple[int, str] | None:
    """The next numbered line that is not blank."""
    return next((pair for pair in numbered if pair[1].strip()), None)


def _document(first_line: int, document: Any) -> Iterator[Item]:
    if isinstance(document, dict) and isinstance(document.get("batch"), list):
        yield from _batch(first_line, document, document["batch"])
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield _item(first_line, item, f"[{index}]")
    else:
        yield _item(first_line, document, "event")


def _batch(first_line: int, envelope: dict[str, Any], items: list[Any]) -> Iterator[Item]:
    for index, item in enumerate(items):
        yield _item(first_line, item, f"batch[{index}]", envelope)


def _json_lines(lines: Iterable[tuple[int, str]]) -> Iterator[Item]:
    for number, line in lines:
        if line.strip():
            yield _item(number, decode_value(_bytes(line), "json"), "event")


def _item(line: int, value: Any, where: str, envelope: dict[str, Any] | None = None) -> Item:
    if isinstance(value, InvalidEvent):
        return Item(line, value)
    if not isinstance(value, dict):
        return Item(line, InvalidEvent(where, "must be an object"))
    if envelope is None:
        return Item(line, value)
    return Item(line, merge_envelope(value, envelope), envelope.get("sentAt"))
