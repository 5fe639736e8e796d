"""Intercom's 2.14 request schemas, and a validator for requests against them.

The schemas are the project's own extract of Intercom's OpenAPI description
(`openapi-2.14.json` beside this module, written by scripts/extract_openapi.py, which also
records the corrections made to it). The sandbox rejects requests that do not validate, and
the planner's tests check every body it produces, so both hold the destination to the same
rules: no field the schema does not list, every value of the documented type.

    >>> validate_request("POST", "/contacts/6762f0dd/companies", {"id": 5})
    [Problem(field='id', message='expected string, got integer', code='parameter_invalid')]
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any, Literal
from urllib.parse import parse_qsl

import msgspec
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import create

__all__ = [
    "ErrorCode",
    "Operation",
    "Problem",
    "QueryParameter",
    "find_operation",
    "validate_request",
]

ErrorCode = Literal["bad_request", "parameter_not_found", "parameter_invalid", "not_found"]
"""The Intercom error code a problem deserves: an unknown top-level field (or query parameter)
is `bad_request`, a missing one `parameter_not_found`, a wrong type or value
`parameter_invalid`, and a path no operation serves `not_found`."""


class Problem(msgspec.Struct, frozen=True):
    """One reason a request does not validate.

    `field` is a dotted path into the body (`custom_attributes.plan`,
    `metadata.price.amount`, `query.value.0.field`) or the query parameter's name;
    "" means the body as a whole.
    """

    field: str
    message: str
    code: ErrorCode

    @property
    def intercom_message(self) -> str:
        """The message Intercom gives for this problem, where it is known."""
        if self.code == "bad_request" and self.field:
            return f"bad '{self.field}' parameter"
        return self.message


class QueryParameter(msgspec.Struct, frozen=True):
    name: str
    type: Literal["string", "integer", "boolean"]
    required: bool
    enum: tuple[str, ...] | None = None


class Operation(msgspec.Struct, frozen=True):
    """One Intercom operation: `"POST /contacts/{contact_id}/companies"` and its inputs."""

    method: str
    template: str
    operation_id: str
    path_parameters: tuple[str, ...]
    query_parameters: tuple[QueryParameter, ...]
    request_body: dict[str, Any] | None
    """A self-contained JSON Schema (2020-12), or None when the operation takes no body."""


class _Entry(msgspec.Struct, frozen=True):
    operation_id: str
    path_parameters: tuple[str, ...]
    query_parameters: tuple[QueryParameter, ...]
    request_body: dict[str, Any] | None


class _Extract(msgspec.Struct, frozen=True):
    operations: dict[str, _Entry]


def _is_integer(checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema counts 1.0 as an integer; Intercom's integers (timestamps, amounts in cents,
# ids) are documented as integers, and a float there is a planner bug worth catching.
# create()'s other defaults are Draft 2020-12's.
_StrictValidator = create(
    meta_schema=Draft202012Validator.META_SCHEMA,
    validators=Draft202012Validator.VALIDATORS,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


class _Catalog:
    """The operations, most specific template first, and one compiled validator each."""

    def __init__(self, extract: _Extract) -> None:
        operations = []
        for key, entry in extract.operations.items():
            method, template = key.split(" ", 1)
            operations.append(
                Operation(
                    method,
                    template,
                    entry.operation_id,
                    entry.path_parameters,
                    entry.query_parameters,
                    entry.request_body,
                )
            )
        # A literal segment beats a parameter at the same position, so `/contacts/search`
        # and `/contacts/find_by_external_id/{external_id}` win over `/contacts/{contact_id}`.
        self.operations = sorted(
            operations,
            key=lambda op: [not _is_parameter(s) for s in op.template.split("/")],
            reverse=True,
        )
        self.validators: dict[tuple[str, str], Validator] = {
            (op.method, op.template): _StrictValidator(op.request_body)
            for op in operations
            if op.request_body is not None
        }


@functools.cache
def _catalog() -> _Catalog:
    data = (
        resources.files("intercom_destination.intercom").joinpath("openapi-2.14.json").read_bytes()
    )
    return _Catalog(msgspec.json.decode(data, type=_Extract))


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def find_operation(method: str, path: str) -> Operation | None:
    """The operation serving `method` on a concrete path (a query string is ignored)."""
    method = method.upper()
    segments = path.partition("?")[0].split("/")
    for op in _catalog().operations:
        template = op.template.split("/")
        if (
            op.method == method
            and len(template) == len(segments)
            and all(
                (_is_parameter(t) and s) or t == s for t, s in zip(template, segments, strict=True)
            )
        ):
            return op
    return None


def validate_request(method: str, path: str, body: object | None) -> list[Problem]:
    """Every problem with a request, or [] when it validates.

    `path` is the concrete path, with its query string if it has one; `body` is the decoded
    JSON body, or None when there is none. An operation that takes a body treats a missing
    one as `{}` (Intercom declares no body required; its required fields still apply); an
    operation that takes none rejects any body.
    """
    op = find_operation(method, path)
    if op is None:
        return [Problem("", f"no Intercom operation serves {method.upper()} {path}", "not_found")]
    problems = list(_query_problems(op, path.partition("?")[2]))
    if op.request_body is None:
        if body is not None:
            problems.append(Problem("", f"{op.operation_id} takes no request body", "bad_request"))
    else:
        validator = _catalog().validators[(op.method, op.template)]
        instance: Any = {} if body is None else body
        for error in validator.iter_errors(instance):
            problems.extend(_problems(error))
    return list(dict.fromkeys(problems))


def _query_problems(op: Operation, query: str) -> Iterator[Problem]:
    given = parse_qsl(query, keep_blank_values=True)
    declared = {p.name: p for p in op.query_parameters}
    for name, value in given:
        parameter = declared.get(name)
        if parameter is None:
            yield Problem(name, f"unknown query parameter '{name}'", "bad_request")
        elif parameter.enum is not None and value not in parameter.enum:
            yield Problem(
                name, f"expected {_one_of(parameter.enum)}, got {value!r}", "parameter_invalid"
            )
        elif not _QUERY_TYPES[parameter.type].fullmatch(value):
            yield Problem(name, f"expected {parameter.type}, got {value!r}", "parameter_invalid")
    names = {name for name, _ in given}
    for parameter in op.query_parameters:
        if parameter.required and parameter.name not in names:
            yield Problem(
                parameter.name,
                f"missing required query parameter '{parameter.name}'",
                "parameter_not_found",
            )


_QUERY_TYPES = {
    "string": re.compile(".*", re.DOTALL),
    "integer": re.compile("-?[0-9]+"),
    "boolean": re.compile("true|false"),
}


def _problems(error: ValidationError) -> Iterator[Problem]:
    """Translates one jsonschema error into the problems it stands for."""
    path = list(error.absolute_path)
    field = _dotted(path)
    # jsonschema types these Unset-able; an error from iter_errors always has them.
    instance: Any = error.instance
    expected: Any = error.validator_value
    if "propertyNames" in error.relative_schema_path:
        # jsonschema reports a bad key with the object's path and the key as the instance.
        yield Problem(_dotted([*path, instance]), _bad_key(instance, error), "parameter_invalid")
        return
    match error.validator:
        case "required":
            for name in expected:
                if name not in instance:
                    yield Problem(
                        _dotted([*path, name]),
                        f"missing required field '{name}'",
                        "parameter_not_found",
                    )
        case "additionalProperties":
            schema: Any = error.schema
            known = schema.get("properties", {})
            code: ErrorCode = "parameter_invalid" if path else "bad_request"
            for name in instance:
                if name not in known:
                    yield Problem(_dotted([*path, name]), f"unknown field '{name}'", code)
        case "type":
            types = [expected] if isinstance(expected, str) else expected
            message = f"expected {_either(types)}, got {_json_type(instance)}"
            yield Problem(field, message, "parameter_invalid")
        case "enum":
            yield Problem(
                field, f"expected {_one_of(expected)}, got {_json(instance)}", "parameter_invalid"
            )
        case "anyOf" | "oneOf":
            yield from _alternative_problems(error)
        case "minimum":
            yield Problem(
                field, f"expected at least {expected}, got {_json(instance)}", "parameter_invalid"
            )
        case "maximum":
            yield Problem(
                field, f"expected at most {expected}, got {_json(instance)}", "parameter_invalid"
            )
        case "maxLength":
            message = f"expected at most {expected} characters, got {len(instance)}"
            yield Problem(field, message, "parameter_invalid")
        case "maxItems":
            yield Problem(
                field,
                f"expected at most {expected} items, got {len(instance)}",
                "parameter_invalid",
            )
        case _:
            yield Problem(field, error.message, "parameter_invalid")


def _alternative_problems(error: ValidationError) -> Iterator[Problem]:
    """Explains a value that matches none of anyOf/oneOf's alternatives.

    Where the value plausibly meant one alternative -- its JSON type fits and it has no key
    that alternative does not know -- the problems are that alternative's own (a money object
    with a float amount: `metadata.price.amount: expected integer`); the alternative with the
    fewest problems wins. Otherwise the value is described against all of them.
    """
    path = list(error.absolute_path)
    field = _dotted(path)
    if not error.context:
        yield Problem(field, "matches more than one of the allowed forms", "parameter_invalid")
        return
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    alternatives: Any = error.validator_value
    plausible = sorted(
        (len(errors), index)
        for index, errors in by_branch.items()
        if _has_type(error.instance, alternatives[index].get("type"))
        and not any(
            e.validator == "additionalProperties" and list(e.absolute_path) == path for e in errors
        )
    )
    if not plausible:
        described = _either([_describe(a) for a in alternatives])
        yield Problem(
            field, f"expected {described}, got {_json_type(error.instance)}", "parameter_invalid"
        )
        return
    fewest = plausible[0][0]
    tied = [by_branch[index] for count, index in plausible if count == fewest]
    if len(tied) > 1 and all(e.validator == "required" for errors in tied for e in errors):
        # Alternatives that differ only in which field they require (an event's id, user_id
        # or email): what all of them miss is missing; of the rest, one is.
        missing = [_missing(errors) for errors in tied]
        common = [name for name in missing[0] if all(name in m for m in missing)]
        for name in common:
            yield Problem(
                _dotted([*path, name]), f"missing required field '{name}'", "parameter_not_found"
            )
        rest = [name for m in missing for name in m if name not in common]
        message = f"missing required field: one of {', '.join(map(repr, rest))}"
        yield Problem(field, message, "parameter_not_found")
        return
    for sub in tied[0]:
        yield from _problems(sub)


def _missing(errors: list[ValidationError]) -> list[str]:
    names: dict[str, None] = {}
    for error in errors:
        required: Any = error.validator_value
        instance: Any = error.instance
        names.update((n, None) for n in required if n not in instance)
    return list(names)


def _has_type(instance: object, declared: str | list[str] | None) -> bool:
    if declared is None:
        return True
    types = [declared] if isinstance(declared, str) else declared
    return any(_StrictValidator.TYPE_CHECKER.is_type(instance, t) for t in types)


def _describe(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return _one_of(schema["enum"])
    declared = schema.get("type", "any value")
    types = [declared] if isinstance(declared, str) else declared
    if "object" in types and "properties" in schema:
        return "{" + ", ".join(schema["properties"]) + "}"
    return _either(types)


def _bad_key(key: str, error: ValidationError) -> str:
    pattern: Any = error.validator_value
    if error.validator != "pattern":
        return f"key {key!r} is not allowed: {error.message}"
    # The key patterns are character classes: name the characters the class refuses.
    refused = [c for c in dict.fromkeys(key) if not re.fullmatch(pattern, c)]
    if not refused:
        return f"key {key!r} does not match {pattern}"
    return f"key {key!r} contains forbidden characters: {' '.join(map(repr, refused))}"


def _dotted(path: Sequence[object]) -> str:
    return ".".join(str(p) for p in path)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _either(options: Sequence[str]) -> str:
    options = list(dict.fromkeys(options))
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


def _one_of(values: Sequence[object]) -> str:
    return "one of " + ", ".join(_json(v) for v in values)
