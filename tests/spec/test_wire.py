"""JSON read so that no value's defect escapes: too deep, or holding a lone surrogate, it is an
`InvalidEvent` of that value alone; a batch holding such an item splits into its items."""

import pytest

from intercom_destination.spec import InvalidEvent
from intercom_destination.spec.wire import (
    MAX_NESTING,
    Split,
    decode_object,
    nesting_error,
    raw_error,
    split_batch,
)


def nested(levels: int) -> bytes:
    """An object `levels` deep: the event itself is the first level."""
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def test_an_object_as_deep_as_the_limit_is_read() -> None:
    assert isinstance(decode_object(nested(MAX_NESTING), "event"), dict)


@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 1_000, 100_000])
def test_a_deeper_one_is_refused_however_deep(levels: int) -> None:
    assert decode_object(nested(levels), "event") == InvalidEvent(
        "event", "nested deeper than 256 levels"
    )


def test_brackets_in_strings_do_not_nest() -> None:
    text = b'{"a": "\\"' + b"[" * 1_000 + b'", "b": ["\\\\", "{"]}'
    assert nesting_error(text, "event") is None
    assert decode_object(text, "event") == {"a": '"' + "[" * 1_000, "b": ["\\", "{"]}


@pytest.mark.parametrize(
    ("text", "escape"),
    [
        (b'{"userId": "\\ud800"}', "\\ud800"),
        (b'{"userId": "a\\uDBFFb"}', "\\uDBFF"),
        (b'{"userId": "\\udc00"}', "\\udc00"),
        (b'{"p": {"q": ["\\ud800\\ud800"]}}', "\\ud800"),
        (b'{"userId": "\\\\\\ud800"}', "\\ud800"),
    ],
)
def test_a_lone_surrogate_is_named(text: bytes, escape: str) -> None:
    assert decode_object(text, "event") == InvalidEvent(
        "event", f"holds a lone UTF-16 surrogate ({escape}), which is not text"
    )


def test_a_surrogate_pair_and_an_escaped_backslash_are_text() -> None:
    assert decode_object(b'{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}', "event") == {
        "a": "\U0001f600",
        "b": "\\ud800",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"[1]", "must be an object"),
        (b'{"a": tru}', "JSON is malformed: invalid character (byte 10)"),
    ],
)
def test_other_problems_are_named_as_msgspec_names_them(text: bytes, reason: str) -> None:
    assert decode_object(text, "event") == InvalidEvent("event", reason)


def test_a_batch_splits_into_its_items_as_they_came() -> None:
    body = (
        b'{"writeKey": "k", "context": {"batch": [0]}, "batch": [ {"a": [1, {"b": "],"}]} ,'
        b'\n[2], "x\\"]" , 3], "sentAt": "s"}'
    )
    assert split_batch(body) == Split(
        b'{"writeKey": "k", "context": {"batch": [0]}, "batch": [], "sentAt": "s"}',
        [b'{"a": [1, {"b": "],"}]}', b"[2]", b'"x\\"]"', b"3"],
    )


def test_its_key_may_be_escaped_and_its_array_empty() -> None:
    assert split_batch(b'{"\\u0062atch": [ ]}') == Split(b'{"\\u0062atch": []}', [])


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"batch": {}}',
        b'[{"batch": [1]}]',
        b'["batch", [1]]',
        b'{"batch": [1,]}',
        b'{"batch": [1, , 2]}',
        b'{"batch": [1]',
        b'{"batch": [1], "batch": [2]}',
    ],
)
def test_a_body_that_is_not_one_object_with_a_batch_array_does_not_split(body: bytes) -> None:
    assert split_batch(body) is None


def test_raw_bytes_that_are_not_utf_8_are_named_where_they_start() -> None:
    assert raw_error('{"a": "é"}'.encode(), "event") is None
    assert raw_error(b'{"a": "\xe9"}', "event") == InvalidEvent(
        "event", "is not UTF-8: invalid continuation byte at byte 7"
    )
    assert raw_error(nested(MAX_NESTING + 1), "event") == InvalidEvent(
        "event", "nested deeper than 256 levels"
    )
