"""Reading a file's items: JSON Lines a line at a time, a document that spans lines whole."""

from __future__ import annotations

from collections.abc import Iterator

from intercom_destination.spec.documents import Item, read_items
from intercom_destination.spec.events import InvalidEvent


def test_json_lines_are_read_a_line_at_a_time() -> None:
    read: list[int] = []

    def lines() -> Iterator[str]:
        for number in range(1, 1001):
            read.append(number)
            yield f'{{"n": {number}}}\n'

    items = read_items(lines())

    # The first item needs its line and the next (which tells JSON Lines from a document).
    assert next(items) == Item(1, {"n": 1})
    assert read == [1, 2]
    assert next(items) == Item(2, {"n": 2})
    assert next(items) == Item(3, {"n": 3})
    assert read == [1, 2, 3]
    assert len(list(items)) == 997


def test_a_document_over_several_lines_is_read_whole_from_its_first_line() -> None:
    lines = [
        "\n",
        "{\n",
        '  "batch": [{"n": 1}, {"n": 2, "context": {"b": 2}}],\n',
        '  "context": {"a": 1}, "sentAt": "2026-01-01T00:00:00Z"\n',
        "}\n",
    ]

    assert list(read_items(lines)) == [
        Item(2, {"n": 1, "context": {"a": 1}}, "2026-01-01T00:00:00Z"),
        Item(2, {"n": 2, "context": {"a": 1, "b": 2}}, "2026-01-01T00:00:00Z"),
    ]


def test_a_single_line_is_a_document_and_blank_lines_count() -> None:
    assert list(read_items(["\n", '[{"n": 1}, 2]\n', "\n"])) == [
        Item(2, {"n": 1}),
        Item(2, InvalidEvent("[1]", "must be an object")),
    ]
    assert list(read_items(["  \n"])) == []


def test_json_lines_whose_first_line_is_broken_report_it_and_read_the_rest() -> None:
    items = list(read_items(['{"n": \n', '{"n": 2}\n', "\n", "[3]\n"]))

    assert [item.line for item in items] == [1, 2, 4]
    assert isinstance(items[0].value, InvalidEvent)
    assert items[0].value.field == "json"
    assert items[1] == Item(2, {"n": 2})
    assert items[2] == Item(4, InvalidEvent("event", "must be an object"))


DEEP = '{"type": "track", "properties": {"x": ' + "[" * 1_100 + "]" * 1_100 + "}}"
LONE = '{"type": "track", "userId": "\\ud800"}'


def test_a_line_no_decoder_reads_whole_is_reported_and_the_rest_read() -> None:
    items = list(read_items(['{"n": 1}\n', DEEP + "\n", LONE + "\n", '{"n": 4}\n']))

    assert items == [
        Item(1, {"n": 1}),
        Item(2, InvalidEvent("json", "nested deeper than 256 levels")),
        Item(3, InvalidEvent("json", "holds a lone UTF-16 surrogate (\\ud800), which is not text")),
        Item(4, {"n": 4}),
    ]


def test_a_batch_with_such_items_is_read_an_item_at_a_time() -> None:
    lines = [
        "{\n",
        f'  "batch": [{{"n": 1}}, {DEEP},\n',
        f"    {LONE}],\n",
        '  "context": {"a": 1}\n',
        "}\n",
    ]

    assert list(read_items(lines)) == [
        Item(1, {"n": 1, "context": {"a": 1}}),
        Item(1, InvalidEvent("batch[1]", "nested deeper than 256 levels")),
        Item(
            1,
            InvalidEvent("batch[2]", "holds a lone UTF-16 surrogate (\\ud800), which is not text"),
        ),
    ]
