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

_decoder = msgspec.json.Decoder()


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
    try:
        value = _decoder.decode(first_text)
    except msgspec.DecodeError:
        pass
    else:
        if following is None:
            yield from _document(first_line, value)
        else:
            # A value on the first line, and more lines after it: JSON Lines.
            yield _item(first_line, value, "event")
            yield from _json_lines(chain([following], numbered))
        return
    # The first line is part of a document that spans several; or the file is JSON Lines
    # whose first line is broken, which reading it a line at a time reports.
    rest = [first, *([following] if following else []), *numbered]
    try:
        document = _decoder.decode("".join(line for _, line in rest))
    except msgspec.DecodeError:
        yield from _json_lines(rest)
        return
    yield from _document(first_line, document)


def _next_filled(numbered: Iterator[tuple[int, str]]) -> tuple[int, str] | None:
    """The next numbered line that is not blank."""
    return next((pair for pair in numbered if pair[1].strip()), None)


def _document(first_line: int, document: Any) -> Iterator[Item]:
    if isinstance(document, dict) and isinstance(document.get("batch"), list):
        for index, item in enumerate(document["batch"]):
            yield _item(first_line, item, f"batch[{index}]", document)
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield _item(first_line, item, f"[{index}]")
    else:
        yield _item(first_line, document, "event")


def _json_lines(lines: Iterable[tuple[int, str]]) -> Iterator[Item]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            value = _decoder.decode(line)
        except msgspec.DecodeError as error:
            yield Item(number, InvalidEvent("json", str(error)))
            continue
        yield _item(number, value, "event")


def _item(line: int, value: Any, where: str, envelope: dict[str, Any] | None = None) -> Item:
    if not isinstance(value, dict):
        return Item(line, InvalidEvent(where, "must be an object"))
    if envelope is None:
        return Item(line, value)
    return Item(line, merge_envelope(value, envelope), envelope.get("sentAt"))
