"""Company traits (group traits, or an identify's `traits.company`) as an Intercom company."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec.timestamps import parse_timestamp, unix_seconds
from tests.mapping.legacy.values import custom_values

MAX_MONTHLY_SPEND = 2**31 - 1

# Traits that become standard company fields, or identify the company, and so are never
# repeated as custom attributes.
_STANDARD = frozenset(
    {
        "id",
        "company_id",
        "companyId",
        "name",
        "plan",
        "monthly_spend",
        "monthlySpend",
        "createdAt",
        "created_at",
        "remote_created_at",
        "employees",
        "employee_count",
        "size",
        "website",
        "industry",
        "remove",
    }
)


def company_id_from_name(name: str) -> str:
    """A stable company_id for a company known only by name: the name, case- and space-folded.

    Readable in Intercom and unchanged by a different capitalisation; a renamed company
    does become a new one, since nothing else identifies it.
    """
    return " ".join(name.casefold().split())


def company_body(
    company_id: str, traits: dict[str, Any], options: MappingOptions, warnings: list[str]
) -> dict[str, Any]:
    """The `POST /companies` body for a company with these traits."""
    body: dict[str, Any] = {"company_id": company_id}
    for field in ("name", "website", "industry"):
        text = _text(traits, (field,))
        if text is not None:
            body[field] = text
    plan = traits.get("plan")
    if isinstance(plan, dict):
        plan = plan.get("name")
    if isinstance(plan, str | int | float) and not isinstance(plan, bool) and plan != "":
        body["plan"] = str(plan)

    spend = _first(traits, ("monthly_spend", "monthlySpend"))
    if spend is not None:
        whole = _whole_number(spend)
        if whole is None or not 0 <= whole <= MAX_MONTHLY_SPEND:
            warnings.append(f"company monthly_spend {spend!r} dropped: not a number Intercom takes")
        else:
            body["monthly_spend"] = whole
    size = _first(traits, ("employees", "employee_count", "size"))
    if size is not None:
        whole = _whole_number(size)
        if whole is None or whole < 0:
            warnings.append(f"company size {size!r} dropped: not a whole number of employees")
        else:
            body["size"] = whole
    created = _first(traits, ("createdAt", "created_at", "remote_created_at"))
    if created is not None:
        moment = parse_timestamp(created)
        if moment is None:
            warnings.append(f"company createdAt {created!r} dropped: not a timestamp")
        else:
            body["remote_created_at"] = unix_seconds(moment)

    custom = custom_values(
        ((key, value) for key, value in traits.items() if key not in _STANDARD),
        options,
        warnings,
        what="company attribute",
    )
    if custom:
        body["custom_attributes"] = custom
    return body


def _first(traits: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if traits.get(key) is not None:
            return traits[key]
    return None


def _text(traits: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    value = _first(traits, keys)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        return None
    return str(value)


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
