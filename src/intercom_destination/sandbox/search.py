"""`POST /contacts/search` queries, compiled into a predicate over a contact's fields.

The request schema has already checked the query's shape (operators, nesting, group sizes);
this module checks what depends on the field: that it is searchable, that the operator suits
its type, and that the value has that type. Strings match exactly (case-sensitively):
Intercom does not document case folding, and a client that works against exact matching works
either way. Timestamps match by calendar day in UTC, as Intercom documents for a workspace in
UTC.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, Literal

from intercom_destination.sandbox.errors import invalid

Kind = Literal["string", "integer", "float", "boolean", "date"]
Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

#: The searchable standard fields the sandbox keeps.
STANDARD_FIELDS: dict[str, Kind] = {
    "id": "string",
    "role": "string",
    "name": "string",
    "avatar": "string",
    "owner_id": "integer",
    "email": "string",
    "email_domain": "string",
    "phone": "string",
    "external_id": "string",
    "created_at": "date",
    "signed_up_at": "date",
    "updated_at": "date",
    "last_seen_at": "date",
    "unsubscribed_from_emails": "boolean",
    "marked_email_as_spam": "boolean",
    "has_hard_bounced": "boolean",
}

_NUMERIC_OPERATORS = frozenset({"=", "!=", "IN", "NIN", "<", ">", "<=", ">="})
_OPERATORS: dict[Kind, frozenset[str]] = {
    "string": frozenset({"=", "!=", "IN", "NIN", "~", "!~", "^", "$"}),
    "boolean": frozenset({"=", "!=", "IN", "NIN"}),
    "integer": _NUMERIC_OPERATORS,
    "float": _NUMERIC_OPERATORS,
    "date": frozenset({"=", "<", ">"}),
}

_CUSTOM_KINDS: dict[str, Kind] = {
    "string": "string",
    "options": "string",
    "integer": "integer",
    "float": "float",
    "boolean": "boolean",
    "date": "date",
    "datetime": "date",
}

_DAY = 86_400


def compile_query(query: Mapping[str, Any], custom_types: Mapping[str, str]) -> Predicate:
    """A predicate for a validated query; `custom_types` maps custom attribute names to their
    data types. Raises `ApiError` (400) for what the schema cannot know."""
    operator = query["operator"]
    if operator in ("AND", "OR"):
        parts = [compile_query(part, custom_types) for part in query["value"]]
        if operator == "AND":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    return _filter(query["field"], operator, query.get("value"), custom_types)


def _filter(field: str, operator: str, value: Any, custom_types: Mapping[str, str]) -> Predicate:
    kind = _kind(field, custom_types)
    if operator not in _OPERATORS[kind]:
        raise invalid(f"The operator '{operator}' is not supported for {kind} field '{field}'")
    if operator in ("IN", "NIN"):
        if not isinstance(value, list):
            raise invalid(f"The operator '{operator}' needs an array value", field)
        wanted = [_value(field, kind, item) for item in value]
        if operator == "IN":
            return lambda row: row.get(field) in wanted
        return lambda row: row.get(field) not in wanted
    if value is None and operator in ("=", "!="):
        return lambda row: (row.get(field) is None) == (operator == "=")
    target = _value(field, kind, value)
    if kind == "date":
        return _date(field, operator, target // _DAY)
    return _compare(field, operator, target)


def _kind(field: str, custom_types: Mapping[str, str]) -> Kind:
    prefix, _, name = field.partition(".")
    if prefix == "custom_attributes" and name in custom_types:
        return _CUSTOM_KINDS[custom_types[name]]
    if field in STANDARD_FIELDS:
        return STANDARD_FIELDS[field]
    raise invalid(f"'{field}' is not a searchable field", field)


def _value(field: str, kind: Kind, value: Any) -> Any:
    """The value in the field's type; numeric strings count as numbers (Intercom's own search
    example sends a timestamp as a string)."""
    if kind in ("integer", "date", "float") and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)
    fits = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "date": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }[kind]
    if not fits:
        raise invalid(f"The value {value!r} is not a valid {kind} for '{field}'", field)
    return value


def _date(field: str, operator: str, day: int) -> Predicate:
    def matches(row: Row) -> bool:
        stamp = row.get(field)
        if stamp is None:
            return False
        found = int(stamp) // _DAY
        return (
            found == day if operator == "=" else (found < day if operator == "<" else found > day)
        )

    return matches


def _compare(field: str, operator: str, target: Any) -> Predicate:
    def matches(row: Row) -> bool:
        found = row.get(field)
        if operator == "=":
            return bool(found == target)
        if operator == "!=":
            return bool(found != target)
        if operator == "!~":
            return not (isinstance(found, str) and target in found)
        if found is None:
            return False
        if operator == "~":
            return bool(target in found)
        if operator == "^":
            return bool(found.startswith(target))
        if operator == "$":
            return bool(found.endswith(target))
        if operator == "<":
            return bool(found < target)
        if operator == ">":
            return bool(found > target)
        if operator == "<=":
            return bool(found <= target)
        return bool(found >= target)

    return matches
