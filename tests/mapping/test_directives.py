"""Mapping-kit directives, compiled once and read from an event."""

from typing import Any

import pytest

from intercom_destination.mapping.directives import DirectiveError, compile_source, keys_read
from intercom_destination.mapping.document import MISSING
from tests.mapping.cases import event

IDENTIFY = event(
    {
        "type": "identify",
        "userId": "u1",
        "traits": {"first": "Ada", "last": "Lovelace", "age": 36, "tags": ["a", "b"], "x": None},
        "context": {"device": {"type": "ios"}},
    }
)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ({"@path": "$.traits.first"}, "Ada"),
        ({"@path": "traits.first"}, "Ada"),
        ({"@path": "$.userId"}, "u1"),
        ({"@path": "$.type"}, "identify"),
        ({"@path": "$.context.device.type"}, "ios"),
        ({"@path": "$.traits.tags.1"}, "b"),
        ({"@path": "$.traits.tags.2"}, MISSING),
        ({"@path": "$.traits.nothing"}, MISSING),
        ({"@path": "$.traits.first.deeper"}, MISSING),
        ({"@path": "$.properties.revenue"}, MISSING),
        ({"@path": "$.timestamp"}, "2026-11-28T12:00:00+00:00"),
    ],
)
def test_path_reads_the_value_at_a_segment_path(source: dict[str, Any], value: Any) -> None:
    assert compile_source(source)(IDENTIFY) == value


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{{traits.first}} {{traits.last}}", "Ada Lovelace"),
        ("{{ traits.first }}-{{traits.age}}", "Ada-36"),
        ("{{traits.missing}}x{{traits.x}}", "x"),
        ("plain", "plain"),
    ],
)
def test_template_fills_placeholders_and_leaves_missing_ones_empty(
    template: str, text: str
) -> None:
    assert compile_source({"@template": template})(IDENTIFY) == text


@pytest.mark.parametrize(
    ("condition", "value"),
    [
        ({"exists": {"@path": "$.traits.first"}, "then": "yes", "else": "no"}, "yes"),
        ({"exists": {"@path": "$.traits.nope"}, "then": "yes", "else": "no"}, "no"),
        # null counts as absent, as in mapping-kit
        ({"exists": {"@path": "$.traits.x"}, "then": "yes", "else": "no"}, "no"),
        # without then, the value tested; without else, nothing
        ({"exists": {"@path": "$.traits.age"}}, 36),
        ({"exists": {"@path": "$.traits.nope"}, "then": "yes"}, MISSING),
        (
            {
                "exists": {"@path": "$.traits.full"},
                "then": {"@path": "$.traits.full"},
                "else": {"@template": "{{traits.first}} {{traits.last}}"},
            },
            "Ada Lovelace",
        ),
    ],
)
def test_if_chooses_by_whether_a_source_has_a_value(condition: dict[str, Any], value: Any) -> None:
    assert compile_source({"@if": condition})(IDENTIFY) == value


@pytest.mark.parametrize("literal", ["{{traits.first}}", {"@path": "$.x"}, [1, 2], None, 5])
def test_literal_is_taken_as_it_is(literal: Any) -> None:
    assert compile_source({"@literal": literal})(IDENTIFY) == literal


@pytest.mark.parametrize("plain", ["Signed Up", 7, True, 1.5])
def test_a_plain_value_is_a_literal(plain: Any) -> None:
    assert compile_source(plain)(IDENTIFY) == plain


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"@paht": "$.traits.x"},
            "unknown directive '@paht' (known: @path, @template, @if, @literal)",
        ),
        ({"@path": 5}, '@path takes a string such as "$.traits.email", not 5'),
        (
            {"@path": "$.trait.x"},
            "@path: '$.trait.x' starts with 'trait'; a path starts with one of",
        ),
        ({"@path": "$.traits..x"}, "@path: '$.traits..x' is not a path"),
        ({"@template": "{{traits.x}"}, "@template: an unclosed placeholder"),
        ({"@template": "{{nope.x}}"}, "@template: 'nope.x' starts with 'nope'"),
        ({"@if": {"then": 1}}, "@if needs exists"),
        ({"@if": {"exists": 1, "when": 2}}, "@if: unknown key 'when'"),
        ({"@if": "x"}, "@if takes a table"),
        ({"@path": "$.a", "@literal": 1}, "a table as a source holds exactly one directive"),
        ({"name": "x"}, "a table as a source holds exactly one directive"),
        ([1], "a list is not a source"),
    ],
)
def test_a_bad_source_is_refused_with_what_is_wrong(source: Any, message: str) -> None:
    with pytest.raises(DirectiveError) as raised:
        compile_source(source)
    assert str(raised.value).startswith(message)


def test_the_keys_a_source_reads_from_traits() -> None:
    source = {
        "@if": {
            "exists": {"@path": "$.traits.full_name"},
            "then": {"@path": "$.traits.full_name"},
            "else": {"@template": "{{traits.first}} {{properties.x}}"},
        }
    }
    assert keys_read(source, "traits") == {"full_name", "first"}
    assert keys_read(source, "properties") == {"x"}
