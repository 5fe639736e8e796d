"""Events from a file's text: a JSON object, a batch envelope, a JSON array, or JSON Lines.

Each item comes with the line it starts on, so a person can find the one that is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
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


def read_items(text: str) -> Iterator[Item]:
    stripped = text.lstrip()
    if not stripped:
        return
    first_line = text[: len(text) - len(stripped)].count("\n") + 1
    try:
        document = _decoder.decode(stripped)
    except msgspec.DecodeError:
        yield from _json_lines(text)
        return
    if isinstance(document, dict) and isinstance(document.get("batch"), list):
        for index, item in enumerate(document["batch"]):
            yield _item(first_line, item, f"batch[{index}]", document)
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield _item(first_line, item, f"[{index}]")
    else:
        yield _item(first_line, document, "event")


def _json_lines(text: str) -> Iterator[Item]:
    for number, line in enumerate(text.splitlines(), start=1):
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
