"""track (and page/screen when sent as events) → one Intercom data event."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.operations import CreateEvent, Plan, Skip
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec import Event
from intercom_destination.spec.timestamps import unix_seconds
from tests.mapping.legacy.contacts import (
    context_email,
    event_contact,
    identity_fields,
    property_email,
)
from tests.mapping.legacy.money import cents, currency_code
from tests.mapping.legacy.values import custom_values


def plan_data_event(
    event: Event,
    event_name: str,
    properties: dict[str, Any],
    options: MappingOptions,
    warnings: list[str],
) -> Plan | Skip:
    email = property_email(properties) or context_email(event)
    contact = event_contact(event, email, options)
    if isinstance(contact, str):
        return Skip(reason=contact, warnings=tuple(warnings))
    body: dict[str, Any] = {
        "event_name": event_name,
        "created_at": unix_seconds(event.timestamp),
        **identity_fields(contact),
    }
    # The email that names the contact is not repeated as metadata.
    used = {"email"} if "email" in body else set()
    metadata = _metadata(properties, used, options, warnings)
    if metadata:
        body["metadata"] = metadata
    return Plan(operations=(CreateEvent(contact=contact, body=body),), warnings=tuple(warnings))


def _metadata(
    properties: dict[str, Any], used: set[str], options: MappingOptions, warnings: list[str]
) -> dict[str, Any]:
    """Metadata in Intercom's terms: `price` first, then properties in their order, at most
    `max_metadata_keys` keys (Intercom silently ignores keys past its tenth)."""
    items: list[tuple[str, Any]] = []
    price = _price(properties, warnings)
    if price is not None:
        source, amount = price
        items.append(
            ("price", {"amount": amount, "currency": currency_code(properties.get("currency"))})
        )
        used |= {source, "currency"}
    items.extend((key, value) for key, value in properties.items() if key not in used)
    metadata = custom_values(items, options, warnings, what="metadata key", rich_objects=True)
    limit = options.max_metadata_keys
    if len(metadata) <= limit:
        return metadata
    keys = list(metadata)
    dropped = ", ".join(repr(key) for key in keys[limit:])
    warnings.append(f"metadata keys {dropped} dropped: Intercom keeps only the first {limit}")
    return {key: metadata[key] for key in keys[:limit]}


def _price(properties: dict[str, Any], warnings: list[str]) -> tuple[str, int] | None:
    """(`revenue` or `total`, its amount in cents), the revenue winning when both are given."""
    source = "revenue" if properties.get("revenue") is not None else "total"
    value = properties.get(source)
    if value is None:
        return None
    amount = cents(value)
    if amount is None or amount < 0:
        warnings.append(
            f"{source} {value!r} sent as plain metadata: Intercom's price needs an amount of "
            "zero or more"
        )
        return None
    return source, amount
