"""JSON as clients send it, read so that no value's defect escapes as an exception.

msgspec refuses two defects in a way that takes more than the value with it: nesting deeper
than Python's recursion allows raises `RecursionError`, and a lone UTF-16 surrogate
(`"\\ud800"`, which no UTF-8 text can hold) is a `DecodeError` of the whole document, even
while msgspec only skips over the value that holds it. A third it lets through when it skips a
value: bytes that are not UTF-8. Here each becomes an `InvalidEvent` of the value alone, and a
batch that holds one is split into its items without decoding them, so its other events are
read as usual.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec

from intercom_destination.spec.events import InvalidEvent

#: The deepest nesting an event may have: far beyond any real event (a few levels), and far
#: below where msgspec raises RecursionError (about 1,000 levels, less the frames of the stack
#: it runs on): an event taken here decodes wherever it is read again (a worker, the library's
#: thread), and which events are taken does not depend on the stack that reads them.
MAX_NESTING = 256

_decoder = msgspec.json.Decoder()

_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE, _COMMA = ord('"'), ord(",")
# Outside strings, the characters of a document's structure; inside them, what ends one. An
# escape is matched whole, so its character is never taken for a quote.
_TOKEN = re.compile(rb'\\.|["\[\]{},]', re.DOTALL)
# An odd number of backslashes (an escape) before a high surrogate with no low one after it,
# or a low surrogate with no high one before it.
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*(\\u[dD][89abAB][0-9a-fA-F]{2})(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)


def decode_value(data: bytes, where: str) -> Any:
    """The JSON value `data` holds, or an `InvalidEvent` at `where` naming why not."""
    try:
        value = _decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as error:
        return InvalidEvent(where, why_not_json(data, error))
    # After decoding: what cannot be decoded (a broken JSON Lines file read whole, to see if it
    # is one document) is never scanned.
    return nesting_error(data, where) or value


def decode_object(data: bytes, where: str) -> dict[str, Any] | InvalidEvent:
    """The JSON object `data` holds, or an `InvalidEvent` at `where` naming why not."""
    value = decode_value(data, where)
    if isinstance(value, dict | InvalidEvent):
        return value
    return InvalidEvent(where, "must be an object")


def raw_error(data: bytes, where: str) -> InvalidEvent | None:
    """An `InvalidEvent` at `where` for what msgspec lets through when it skims JSON without
    building its values (a batch's raw items, the plain way of reading an event): nesting
    past `MAX_NESTING`, and bytes that are not UTF-8, which JSON must be."""
    not_utf_8 = _utf_8_error(data)
    if not_utf_8 is not None:
        return InvalidEvent(where, not_utf_8)
    return nesting_error(data, where)


def _utf_8_error(data: bytes) -> str | None:
    if data.isascii():
        return None
    try:
        data.decode()
    except UnicodeDecodeError as error:
        return f"is not UTF-8: {error.reason} at byte {error.start}"
    return None


def nesting_error(data: bytes, where: str) -> InvalidEvent | None:
    """An `InvalidEvent` at `where` if the JSON `data` nests deeper than `MAX_NESTING`."""
    # Each level takes two brackets, and it is no deeper than it has brackets: nearly every
    # event is short, or has far fewer than the limit, and that is all it costs.
    if len(data) <= 2 * MAX_NESTING or data.count(b"[") + data.count(b"{") <= MAX_NESTING:
        return None
    depth = 0
    for _, char in _structure(data):
        if char in _OPEN:
            depth += 1
            if depth > MAX_NESTING:
                return InvalidEvent(where, f"nested deeper than {MAX_NESTING} levels")
        elif char in _CLOSE:
            depth -= 1
    return None


def why_not_json(data: bytes, error: Exception) -> str:
    """Why msgspec's decoding of `data` raised `error` (a `DecodeError`, or `RecursionError`),
    in words: msgspec's own, but for the defects it names misleadingly, if at all."""
    not_utf_8 = _utf_8_error(data)
    if not_utf_8 is not None:
        return not_utf_8
    lone = _LONE_SURROGATE.search(data)
    if lone is not None:
        escape = (lone.group(1) or lone.group(2)).decode()
        return f"holds a lone UTF-16 surrogate ({escape}), which is not text"
    if isinstance(error, RecursionError):
        return f"nested deeper than {MAX_NESTING} levels"
    return str(error)


class Split(msgspec.Struct, frozen=True):
    """A batch envelope split without decoding its items."""

    #: The envelope, its `batch` an empty array.
    envelope: bytes
    #: The JSON of each item of its `batch`, as it came.
    items: list[bytes]


def split_batch(body: bytes) -> Split | None:
    """`body`'s batch envelope and items, for a body msgspec cannot decode whole; None when its
    structure is not one object with a `batch` array (what the envelope holds besides is for
    the caller to decode, and each item too)."""
    depth = 0
    expects_key = False
    key: object = None
    batches: list[tuple[int, int]] = []
    items: list[bytes] = []
    item_start = -1
    for start, char in _structure(body):
        if char == _QUOTE:
            if depth == 1 and expects_key:
                key = decode_value(_string_at(body, start), "key")
                expects_key = False
        elif char in _OPEN:
            if depth == 1 and char == ord("[") and key == "batch":
                batches.append((start, -1))
                item_start = start + 1
            depth += 1
            expects_key = depth == 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 1 and item_start >= 0:
                items.append(body[item_start:start].strip())
                batches[-1] = (batches[-1][0], start + 1)
                item_start = -1
        elif char == _COMMA:
            if depth == 2 and item_start >= 0:
                items.append(body[item_start:start].strip())
                item_start = start + 1
            expects_key = depth == 1
    if depth != 0 or len(batches) != 1 or not body.lstrip().startswith(b"{"):
        return None
    if items == [b""]:
        items = []  # an empty batch
    if b"" in items:
        return None
    begin, end = batches[0]
    return Split(body[:begin] + b"[]" + body[end:], items)


def _structure(data: bytes) -> Iterator[tuple[int, int]]:
    """The position and character of each bracket and comma outside strings, and of each
    string's opening quote."""
    in_string = False
    for match in _TOKEN.finditer(data):
        start = match.start()
        char = data[start]
        if in_string:
            in_string = char != _QUOTE
        elif char == _QUOTE:
            in_string = True
            yield start, char
        elif char != ord("\\"):
            yield start, char


def _string_at(data: bytes, start: int) -> bytes:
    """The JSON string that starts at `start`, quotes included."""
    end = _STRING_END.match(data, start + 1)
    return data[start : end.end() if end else len(data)]


_STRING_END = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)
