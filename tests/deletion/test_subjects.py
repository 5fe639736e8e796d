"""Who a deletion names: ids given on the command line, in a file, or in an API document."""

from __future__ import annotations

import pytest

from intercom_destination.deletion import BadSubjects, subjects_from_document, subjects_of
from intercom_destination.store import Subject


def test_ids_and_a_files_lines_name_each_person_once_in_order() -> None:
    lines = ["u2\n", "\n", '{"anonymousId": "a2"}\n', '  {"userId": "u1"}  \n', "u3"]

    assert subjects_of(["u1"], ["a1"], lines) == [
        Subject("userId", "u1"),
        Subject("anonymousId", "a1"),
        Subject("userId", "u2"),
        Subject("anonymousId", "a2"),
        Subject("userId", "u3"),
    ]


def test_an_id_as_a_json_string_is_the_id_without_its_quotes() -> None:
    assert subjects_of([], [], ['"u1"\n', '"u\\"2"']) == [
        Subject("userId", "u1"),
        Subject("userId", 'u"2'),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "line 2: not JSON"),
        ('"u1', "line 2: not JSON"),
        ('""', "line 2: userId: an id must be a non-empty string"),
        ('{"userId": "u1"', "line 2: not JSON"),
        ('{"userId": "u1", "anonymousId": "a1"}', 'line 2: give one of "userId" or "anonymousId"'),
        ('{"email": "a@example.com"}', 'line 2: give one of "userId" or "anonymousId"'),
        ('{"userId": ""}', "line 2: userId: an id must be a non-empty string"),
        ('{"anonymousId": 5}', "line 2: anonymousId: an id must be a non-empty string"),
    ],
)
def test_a_bad_line_is_named_with_its_number(line: str, reason: str) -> None:
    with pytest.raises(BadSubjects) as raised:
        subjects_of([], [], ["u1", line])

    assert str(raised.value).startswith(reason)


def test_an_empty_id_on_the_command_line_is_refused() -> None:
    with pytest.raises(BadSubjects, match="--user-id: an id must be a non-empty string"):
        subjects_of([" "], [])


def test_an_api_document_names_people_in_lists() -> None:
    assert subjects_from_document({"userIds": ["u1", "u1"], "anonymousIds": ["a1"]}) == [
        Subject("userId", "u1"),
        Subject("anonymousId", "a1"),
    ]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({}, "userIds, anonymousIds: name at least one person"),
        ({"userIds": "u1"}, "userIds: must be a list of ids"),
        ({"anonymousIds": ["a1", 2]}, "anonymousIds[1]: an id must be a non-empty string"),
    ],
)
def test_a_bad_api_document_names_the_field(document: dict[str, object], reason: str) -> None:
    with pytest.raises(BadSubjects) as raised:
        subjects_from_document(document)

    assert str(raised.value) == reason
