"""Write the project's compact extract of Intercom's 2.14 request schemas.

Usage: .venv/bin/python scripts/extract_openapi.py PATH/TO/descriptions/2.14/api.intercom.io.yaml

Reads Intercom's OpenAPI description and writes
src/intercom_destination/intercom/openapi-2.14.json: for each operation the project uses, its
operationId, path and query parameters, and its request body as a self-contained JSON Schema
(2020-12) that `intercom_destination.intercom.schema` validates requests against.

The script is strict: a schema keyword it does not know, an open object nobody decided about,
or a correction whose target no longer looks as expected stops it, so regenerating against a
changed description cannot silently loosen or tighten the extract.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

SOURCE = {
    "repository": "intercom/Intercom-OpenAPI",
    "commit": "8889625a7b931d8649e18726e7f872ff073520fc",
    "file": "descriptions/2.14/api.intercom.io.yaml",
}

OUTPUT = Path(__file__).resolve().parent.parent / (
    "src/intercom_destination/intercom/openapi-2.14.json"
)

OPERATIONS = [
    ("GET", "/me"),
    ("POST", "/contacts"),
    ("PUT", "/contacts/{contact_id}"),
    ("GET", "/contacts/{contact_id}"),
    ("DELETE", "/contacts/{contact_id}"),
    ("GET", "/contacts/find_by_external_id/{external_id}"),
    ("POST", "/contacts/search"),
    ("POST", "/contacts/{contact_id}/archive"),
    ("POST", "/contacts/{contact_id}/unarchive"),
    ("GET", "/contacts/{contact_id}/companies"),
    ("POST", "/contacts/{contact_id}/companies"),
    ("DELETE", "/contacts/{contact_id}/companies/{company_id}"),
    ("POST", "/companies"),
    ("GET", "/companies"),
    ("POST", "/events"),
    ("GET", "/data_attributes"),
    ("POST", "/data_attributes"),
]

# Keywords that only document a schema. Dropped to keep the extract small.
ANNOTATIONS = {"description", "example", "examples", "title", "deprecated", "readOnly", "default"}

# Keywords that validate and are copied as they are.
KEPT = {
    "type",
    "required",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "format",
}

# Intercom documents at most two levels of nested AND/OR groups in a search query
# ("There's a limit of max 2 nested filters") and at most 15 filters in each group.
# multiple_filter_search_request refers to itself; unrolling it to that depth keeps every
# body schema free of $ref and enforces the documented limit.
MAX_RECURSION = 2
SEARCH_GROUP_MAX_FILTERS = 15

# Decision: a custom attribute value is a JSON scalar. Intercom: "Data values must be sent
# as JSON strings, numbers or booleans ... We can't accept object, nested hashes and array
# data formats". A contact attribute may be null (it sets the attribute to unknown); the
# company request declares no null, so none is allowed there.
CONTACT_ATTRIBUTE_VALUE: dict[str, Any] = {"type": ["string", "number", "boolean", "null"]}
COMPANY_ATTRIBUTE_VALUE: dict[str, Any] = {"type": ["string", "number", "boolean"]}

# Decision: metadata values follow the POST /events description (intercom-api.md §8.2), not
# the schema's strings-only `additionalProperties: {type: string}`: a string of at most 255
# characters (links and *_date values are just strings and numbers), a number, a boolean, a
# monetary amount {amount: integer cents >= 0, currency} or a rich link {url, value}. Both
# objects are closed: anything else nested is rejected ("We do not currently support nested
# JSON structure").
METADATA_VALUE: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": 255},
        {"type": "number"},
        {"type": "boolean"},
        {
            "type": "object",
            "properties": {
                "amount": {"type": "integer", "minimum": 0},
                "currency": {"type": "string"},
            },
            "required": ["amount", "currency"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"url": {"type": "string"}, "value": {"type": "string"}},
            "required": ["url", "value"],
            "additionalProperties": False,
        },
    ]
}

# Decision: metadata key rules live in the extract, as JSON Schema `propertyNames`, so the
# sandbox and the planner's property tests enforce them through the one validator: keys may
# not contain `.`, `$`, any of ~`!@#%^&*'{}|\" or NUL (intercom-api.md §8.2, help 175).
METADATA_KEY = {"pattern": "^[^.$~`!@#%^&*'{}|\\\\\"\\x00]*$"}


def _metadata(original: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": METADATA_VALUE, "propertyNames": METADATA_KEY}


def _attributes(value: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def replace(original: dict[str, Any]) -> dict[str, Any]:
        return {**original, "additionalProperties": value}

    return replace


# Corrections by (component schema, property): the known schema errors listed in
# intercom-openapi/SOURCE.md, and the decision that custom attributes and metadata are the
# only open-keyed objects. Each target's original shape is checked before it is replaced.
CORRECTIONS: dict[tuple[str, str], tuple[dict[str, Any], Callable[..., dict[str, Any]]]] = {
    ("create_contact_request", "custom_attributes"): (
        {"type": "object", "nullable": True},
        _attributes(CONTACT_ATTRIBUTE_VALUE),
    ),
    ("update_contact_request", "custom_attributes"): (
        {"type": "object", "nullable": True},
        _attributes(CONTACT_ATTRIBUTE_VALUE),
    ),
    ("create_or_update_company_request", "custom_attributes"): (
        {"type": "object", "additionalProperties": {"type": "string"}},
        _attributes(COMPANY_ATTRIBUTE_VALUE),
    ),
    ("create_data_event_request", "metadata"): (
        {"type": "object", "additionalProperties": {"type": "string"}},
        _metadata,
    ),
}

NOTES = [
    "Generated by scripts/extract_openapi.py; do not edit by hand.",
    "Request bodies are self-contained JSON Schema 2020-12: every $ref is inlined;"
    " multiple_filter_search_request, which refers to itself, is unrolled to the two levels of"
    " nested AND/OR groups Intercom documents, with at most 15 filters per group.",
    "OpenAPI `nullable: true` became a JSON Schema type union (or a null alternative or enum"
    " value); `format: date-time` on integers was dropped (timestamps are Unix seconds);"
    " descriptions, examples and titles were dropped; a oneOf of a single schema became that"
    " schema.",
    "Objects are closed (additionalProperties: false): Intercom rejects unknown fields"
    " (400 bad_request \"bad 'test' parameter\") and the destination must never send a field"
    " the schema does not list. Properties that only oneOf/anyOf branches declare are listed"
    " on the object too, so closing it does not reject them. Only custom_attributes and"
    " metadata are open-keyed.",
    "Contact custom_attributes values: string, number, boolean or null; company"
    " custom_attributes values: string, number or boolean (the description's strings-only"
    " company schema is a known error). No nested objects or arrays.",
    "Event metadata values (the strings-only schema is a known error): a string of at most"
    " 255 characters, a number, a boolean, a monetary amount {amount: integer >= 0, currency:"
    " string} or a rich link {url: string, value: string}, each object with exactly those"
    " keys. Keys may not contain . $ ~ ` ! @ # % ^ & * ' { } | \\ \" or NUL (propertyNames)."
    " The 10-key cap is not a validation rule: Intercom silently ignores further keys.",
    "The validator treats JSON Schema `integer` strictly: 1.0 is a number, not an integer.",
]


class Extractor:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]

    def operation(self, method: str, template: str) -> dict[str, Any]:
        path_item = self.document["paths"][template]
        operation = path_item[method.lower()]
        parameters = [
            self.resolve_parameter(p)
            for p in [*path_item.get("parameters", []), *operation.get("parameters", [])]
        ]
        path_names = [p["name"] for p in parameters if p["in"] == "path"]
        if sorted(path_names) != sorted(_template_names(template)):
            raise ValueError(f"{method} {template}: path parameters {path_names}")
        body = None
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]
            body = self.schema(content["application/json"]["schema"], [], None)
        return {
            "operation_id": operation["operationId"],
            "path_parameters": _template_names(template),
            "query_parameters": [_query_parameter(p) for p in parameters if p["in"] == "query"],
            "request_body": body,
        }

    def resolve_parameter(self, parameter: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in parameter:
            return self.lookup(parameter["$ref"])  # type: ignore[no-any-return]
        return parameter

    def lookup(self, ref: str) -> Any:
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def schema(self, node: dict[str, Any], refs: list[str], owner: str | None) -> Any:
        """Returns the inlined schema, or None for a recursion past MAX_RECURSION."""
        if "$ref" in node:
            ref = node["$ref"]
            if refs.count(ref) >= MAX_RECURSION:
                return None
            name = ref.rsplit("/", 1)[-1]
            return self.schema(self.lookup(ref), [*refs, ref], name)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "format" and value == "date-time" and node.get("type") == "integer":
                continue
            if key in KEPT:
                out[key] = value
            elif key == "nullable":
                continue  # applied below, once the rest of the schema is known
            elif key == "properties":
                out[key] = {
                    name: self.property(owner, name, sub, refs) for name, sub in value.items()
                }
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else self.schema(value, refs, None)
            elif key == "propertyNames":
                out[key] = self.schema(value, refs, None)
            elif key == "items":
                items = self.schema(value, refs, None)
                if items is None:
                    return None
                out[key] = items
            elif key in ("oneOf", "anyOf", "allOf"):
                branches = [self.schema(b, refs, owner) for b in value]
                out[key] = [b for b in branches if b is not None]
            else:
                raise ValueError(f"unhandled schema keyword {key!r} in {owner or node}")
        if len(out.get("oneOf", ())) == 1 and out.keys() == {"oneOf"}:
            out = out["oneOf"][0]
        if node.get("nullable"):
            out = _nullable(out)
        return _closed(out)

    def property(self, owner: str | None, name: str, node: dict[str, Any], refs: list[str]) -> Any:
        if (owner, name) == ("multiple_filter_search_request", "value"):
            group = self.schema(node, refs, None)
            for branch in group.get("oneOf", [group]):
                branch["maxItems"] = SEARCH_GROUP_MAX_FILTERS
            return group
        correction = CORRECTIONS.get((owner or "", name))
        if correction is None:
            return self.schema(node, refs, None)
        expected, replace = correction
        if _without_annotations(node) != expected:
            raise ValueError(f"{owner}.{name} changed upstream: {node}")
        return self.schema(replace(node), refs, None)


def _template_names(template: str) -> list[str]:
    return [s[1:-1] for s in template.split("/") if s.startswith("{")]


def _query_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    schema = parameter["schema"]
    out = {
        "name": parameter["name"],
        "type": schema["type"],
        "required": bool(parameter.get("required", False)),
    }
    if "enum" in schema:
        out["enum"] = schema["enum"]
    return out


def _without_annotations(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k not in ANNOTATIONS}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 `nullable: true` as JSON Schema: null joins the type, enum or alternatives."""
    out = dict(schema)
    if "type" in out:
        out["type"] = [*_as_list(out["type"]), "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    for key in ("oneOf", "anyOf"):
        if key in out and "type" not in out:
            out[key] = [*out[key], {"type": "null"}]
    return out


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Closes an object schema; properties its branches declare are listed on it too.

    Decision: Intercom rejects unknown fields (intercom-api.md §5/§7.1,
    `400 bad_request "bad 'test' parameter"`), so every object is closed unless the
    description explicitly allows extra properties (additionalProperties is set) --
    which, after CORRECTIONS, only custom_attributes and metadata do.
    """
    # A branch of oneOf/anyOf without a type only constrains its parent; the parent is closed.
    if "object" not in _as_list(schema.get("type", [])) or "additionalProperties" in schema:
        return schema
    names = dict.fromkeys(schema.get("properties", {}))
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in schema.get(key, []):
            names.update(dict.fromkeys(branch.get("properties", {})))
    if not names:
        raise ValueError(f"open object with no properties and no decision: {schema}")
    properties = {name: schema.get("properties", {}).get(name, {}) for name in names}
    return {**schema, "properties": properties, "additionalProperties": False}


def render(extract: dict[str, Any]) -> str:
    """Sorted keys; one line per note and per operation, so a diff shows what changed."""

    def compact(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    notes = ",\n".join(f"  {compact(n)}" for n in extract["notes"])
    operations = ",\n".join(
        f"  {compact(key)}: {compact(op)}" for key, op in sorted(extract["operations"].items())
    )
    return (
        "{\n"
        f'"notes": [\n{notes}\n],\n'
        f'"operations": {{\n{operations}\n}},\n'
        f'"source": {compact(extract["source"])}\n'
        "}\n"
    )


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} PATH/TO/api.intercom.io.yaml")
    with open(argv[1], encoding="utf-8") as f:
        document = yaml.safe_load(f)
    extractor = Extractor(document)
    extract = {
        "notes": NOTES,
        "operations": {f"{m} {p}": extractor.operation(m, p) for m, p in OPERATIONS},
        "source": SOURCE,
    }
    OUTPUT.write_text(render(extract), encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, {len(OPERATIONS)} operations)")


if __name__ == "__main__":
    main(sys.argv)
