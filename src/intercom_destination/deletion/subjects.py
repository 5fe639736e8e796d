"""Who a deletion request names: ids from the command line, a file, or an API document. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from intercom_destination.store import IdKind, Subject

#: The JSON keys naming a person, in a file's lines and in an API document's lists.
_LINE_KEYS: dict[str, IdKind] = {"userId": "userId", "anonymousId": "anonymousId"}
_DOCUMENT_KEYS: dict[str, IdKind] = {"userIds": "userId", "anonymousIds": "anonymousId"}


class BadSubjects(ValueError):
    """A request names its people wrongly; the message says where and why."""


def subjects_of(
    user_ids: Iterable[str], anonymous_ids: Iterable[str], lines: Iterable[str] = ()
) -> list[Subject]:
    """The people named by ids and a file's `lines`, each once, in the order given.

    A line is a userId, bare or as a JSON string (what `jq .userId` prints), or a JSON object
    with a `userId` or an `anonymousId`; blank lines are skipped. A bad line raises
    BadSubjects naming its number.
    """
    subjects = [Subject("userId", _id("--user-id", value)) for value in user_ids]
    subjects += [Subject("anonymousId", _id("--anonymous-id", value)) for value in anonymous_ids]
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            subjects.append(_line_subject(text))
        except BadSubjects as error:
            raise BadSubjects(f"line {number}: {error}") from None
    return list(dict.fromkeys(subjects))


def subjects_from_document(document: Mapping[str, Any]) -> list[Subject]:
    """The people an API document names: `{"userIds": [...], "anonymousIds": [...]}`."""
    subjects: list[Subject] = []
    for key, kind in _DOCUMENT_KEYS.items():
        values = document.get(key, [])
        if not isinstance(values, list):
            raise BadSubjects(f"{key}: must be a list of ids")
        subjects += [Subject(kind, _id(f"{key}[{i}]", value)) for i, value in enumerate(values)]
    if not subjects:
        raise BadSubjects("userIds, anonymousIds: name at least one person")
    return list(dict.fromkeys(subjects))


def _line_subject(text: str) -> Subject:
    if not text.startswith(("{", '"')):
        return Subject("userId", text)
    try:
        document = msgspec.json.decode(text)
    except msgspec.DecodeError as error:
        raise BadSubjects(f"not JSON: {error}") from None
    if isinstance(document, str):
        # Taken bare, the quotes would be part of the id, which then names no one.
        return Subject("userId", _id("userId", document))
    if not isinstance(document, dict):
        raise BadSubjects("not a JSON object")
    named = [(key, kind) for key, kind in _LINE_KEYS.items() if document.get(key) is not None]
    if len(named) != 1:
        raise BadSubjects('give one of "userId" or "anonymousId"')
    key, kind = named[0]
    return Subject(kind, _id(key, document[key]))


def _id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadSubjects(f"{field}: an id must be a non-empty string")
    return value
