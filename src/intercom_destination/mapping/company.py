"""Company traits (group traits, or an identify's `traits.company`) as an Intercom company."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.fields import (
    Call,
    Field,
    Fields,
    Value,
    to_object,
    to_unix_seconds,
)
from intercom_destination.mapping.values import custom_values
from intercom_destination.spec.timestamps import parse_timestamp, unix_seconds

MAX_MONTHLY_SPEND = 2**31 - 1

# Traits that identify a company (or ask to leave it) rather than describe it.
COMPANY_IDENTIFIERS = frozenset({"id", "company_id", "companyId", "remove"})
_SPEND = ("monthly_spend", "monthlySpend")
_SIZE = ("employees", "employee_count", "size")
_CREATED = ("createdAt", "created_at", "remote_created_at")
_BODY_FIELDS = ("name", "website", "industry", "plan", "monthly_spend", "size", "remote_created_at")


def company_id_from_name(name: str) -> str:
    """A stable company_id for a company known only by name: the name, case- and space-folded.

    Readable in Intercom and unchanged by a different capitalisation; a renamed company
    does become a new one, since nothing else identifies it.
    """
    return " ".join(name.casefold().split())


def company_body(company_id: str, call: Call, fields: Fields) -> dict[str, Any]:
    """The `POST /companies` body for the company `call.subject` describes."""
    body: dict[str, Any] = {"company_id": company_id}
    for name in _BODY_FIELDS:
        value = fields.values[name](call)
        if value is not None:
            body[name] = value
    custom = fields.values["custom_attributes"](call)
    if custom:
        body["custom_attributes"] = custom
    return body


def _first(traits: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if traits.get(key) is not None:
            return traits[key]
    return None


def _text_of(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        return None
    return str(value)


def _trait_text(key: str) -> Value:
    def value(call: Call) -> str | None:
        found = call.subject.get(key)
        # Most traits are absent or strings: those need no call.
        if found is None or found.__class__ is str:
            return found or None
        return _text_of(found)

    return value


def to_text(value: Any, label: str, call: Call) -> str | None:
    text = _text_of(value)
    if text is None and value is not None and value != "":
        call.warnings.append(f"company {label} {value!r} dropped: expected a string or a number")
    return text


def _plan(call: Call) -> str | None:
    plan = call.subject.get("plan")
    return _text_of(plan.get("name") if isinstance(plan, dict) else plan)


def _monthly_spend(call: Call) -> int | None:
    spend = _first(call.subject, _SPEND)
    return None if spend is None else to_monthly_spend(spend, "monthly_spend", call)


def to_monthly_spend(spend: Any, label: str, call: Call) -> int | None:
    whole = _whole_number(spend)
    if whole is None or not 0 <= whole <= MAX_MONTHLY_SPEND:
        call.warnings.append(f"company {label} {spend!r} dropped: not a number Intercom takes")
        return None
    return whole


def _size(call: Call) -> int | None:
    size = _first(call.subject, _SIZE)
    return None if size is None else to_size(size, "size", call)


def to_size(size: Any, label: str, call: Call) -> int | None:
    whole = _whole_number(size)
    if whole is None or whole < 0:
        call.warnings.append(f"company {label} {size!r} dropped: not a whole number of employees")
        return None
    return whole


def _remote_created_at(call: Call) -> int | None:
    created = _first(call.subject, _CREATED)
    if created is None:
        return None
    moment = parse_timestamp(created)
    if moment is None:
        call.warnings.append(f"company createdAt {created!r} dropped: not a timestamp")
        return None
    return unix_seconds(moment)


def _custom_attributes(call: Call) -> dict[str, Any]:
    reserved = call.reserved
    items = ((key, value) for key, value in call.subject.items() if key not in reserved)
    return custom_values(items, call.options, call.warnings, what="company attribute")


def to_company_attributes(value: Any, label: str, call: Call) -> dict[str, Any] | None:
    attributes = to_object(value, label, call)
    if attributes is None:
        return None
    return custom_values(attributes.items(), call.options, call.warnings, what="company attribute")


def _whole_number(value: Any) -> int | None:
    """Intercom truncates floats to integers (155.98 → 155); numeric strings count too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**63:
        return int(value)
    return None


#: The company fields, read from the company's traits; `group_company` adds its company_id.
COMPANY_FIELDS = (
    Field("name", "string", "traits.name", _trait_text("name"), to_text, frozenset({"name"})),
    Field(
        "website",
        "string",
        "traits.website",
        _trait_text("website"),
        to_text,
        frozenset({"website"}),
    ),
    Field(
        "industry",
        "string",
        "traits.industry",
        _trait_text("industry"),
        to_text,
        frozenset({"industry"}),
    ),
    Field(
        "plan", "string", "traits.plan (or traits.plan.name)", _plan, to_text, frozenset({"plan"})
    ),
    Field(
        "monthly_spend",
        "integer",
        "traits.monthly_spend (or monthlySpend), truncated",
        _monthly_spend,
        to_monthly_spend,
        frozenset(_SPEND),
    ),
    Field(
        "size",
        "integer",
        "traits.employees (or employee_count, size)",
        _size,
        to_size,
        frozenset(_SIZE),
    ),
    Field(
        "remote_created_at",
        "Unix seconds",
        "traits.createdAt (or created_at, remote_created_at; ISO-8601 or Unix s/ms)",
        _remote_created_at,
        to_unix_seconds,
        frozenset(_CREATED),
    ),
    Field(
        "custom_attributes",
        "object",
        "the other traits",
        _custom_attributes,
        to_company_attributes,
    ),
)
#: How an identify's `traits.company` maps: always by the defaults.
DEFAULT_COMPANY_FIELDS = Fields(COMPANY_FIELDS, {}, COMPANY_IDENTIFIERS)
