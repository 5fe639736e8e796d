"""track_event: a track (and a page or screen, when sent as events) as one Intercom data event."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.contacts import (
    context_email,
    event_contact,
    identity_fields,
    property_email,
)
from intercom_destination.mapping.fields import (
    Call,
    Field,
    Fields,
    to_object,
    to_string,
    to_unix_seconds,
)
from intercom_destination.mapping.money import cents, currency_code
from intercom_destination.mapping.operations import CreateEvent, Plan, Skip
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.mapping.values import custom_values
from intercom_destination.spec import Event, Page, Screen, Track
from intercom_destination.spec.timestamps import unix_seconds


def plan_track(
    event: Event, options: MappingOptions, fields: Fields, warnings: list[str]
) -> Plan | Skip:
    properties: dict[str, Any] = getattr(event, "properties", None) or {}
    values = fields.values
    call = Call(event, properties, options, warnings)
    event_name = values["event_name"](call)
    if event_name is None:
        return missing("event_name", call)
    contact = event_contact(event, values["email"](call), options)
    if isinstance(contact, str):
        return Skip(reason=contact, warnings=tuple(warnings))
    created_at = values["created_at"](call)
    if created_at is None:
        return missing("created_at", call)
    body: dict[str, Any] = {
        "event_name": event_name,
        "created_at": created_at,
        **identity_fields(contact),
    }
    # The email that names the contact is not repeated as metadata.
    used = {"email"} if "email" in body else set()
    items: list[tuple[str, Any]] = []
    price = values["price"](call)
    if price is not None:
        amount, source = price
        currency = currency_code(properties.get("currency"))
        items.append(("price", {"amount": amount, "currency": currency}))
        # The default names the property it took the amount from; a directive, its paths.
        used |= fields.reads["price"] if source is None else {source}
        used.add("currency")
    call.reserved = used
    items.extend(values["metadata"](call) or ())
    metadata = _limited(
        custom_values(items, options, warnings, what="metadata key", rich_objects=True),
        options.max_metadata_keys,
        warnings,
    )
    if metadata:
        body["metadata"] = metadata
    return Plan(operations=(CreateEvent(contact=contact, body=body),), warnings=tuple(warnings))


def missing(field: str, call: Call) -> Skip:
    """The skip for an event whose source gave no value for a field Intercom requires."""
    return Skip(
        reason=f"{call.event.type}: {field} has no value from its source",
        warnings=tuple(call.warnings),
    )


def _limited(metadata: dict[str, Any], limit: int, warnings: list[str]) -> dict[str, Any]:
    """At most `limit` keys (Intercom silently ignores keys past its tenth)."""
    if len(metadata) <= limit:
        return metadata
    keys = list(metadata)
    dropped = ", ".join(repr(key) for key in keys[limit:])
    warnings.append(f"metadata keys {dropped} dropped: Intercom keeps only the first {limit}")
    return {key: metadata[key] for key in keys[:limit]}


def _event_name(call: Call) -> str | None:
    event = call.event
    if isinstance(event, Track):
        return event.event
    if isinstance(event, Page | Screen):
        noun = "Page" if isinstance(event, Page) else "Screen"
        return f"Viewed {event.name} {noun}" if event.name else f"Viewed {noun}"
    return None


def _created_at(call: Call) -> int:
    return unix_seconds(call.event.timestamp)


def _email(call: Call) -> str | None:
    return property_email(call.subject) or context_email(call.event)


def _price(call: Call) -> tuple[int, str] | None:
    """(the amount in cents, `revenue` or `total`), the revenue winning when both are given."""
    properties = call.subject
    source = "revenue" if properties.get("revenue") is not None else "total"
    value = properties.get(source)
    if value is None:
        return None
    return _to_price(value, source, call)


def _price_from(value: Any, label: str, call: Call) -> tuple[int, None] | None:
    price = _to_price(value, label, call)
    return None if price is None else (price[0], None)


def _to_price(value: Any, label: str, call: Call) -> tuple[int, str] | None:
    amount = cents(value)
    if amount is None or amount < 0:
        call.warnings.append(
            f"{label} {value!r} sent as plain metadata: Intercom's price needs an amount of "
            "zero or more"
        )
        return None
    return amount, label


def _metadata(call: Call) -> list[tuple[str, Any]]:
    used = call.reserved
    return [(key, value) for key, value in call.subject.items() if key not in used]


def _to_metadata(value: Any, label: str, call: Call) -> list[tuple[str, Any]] | None:
    metadata = to_object(value, label, call)
    return None if metadata is None else list(metadata.items())


FIELDS = (
    Field(
        "event_name",
        "string",
        "track: event; page / screen: `Viewed <name> Page` / `Viewed <name> Screen`",
        _event_name,
        to_string,
    ),
    Field("created_at", "Unix seconds", "the event's timestamp", _created_at, to_unix_seconds),
    Field(
        "email",
        "string",
        "properties.email, else context.traits.email (names the contact when there is no userId)",
        _email,
        to_string,
    ),
    Field(
        "price",
        "monetary amount",
        "properties.revenue (else total) in integer cents, with properties.currency "
        "(default usd); first in metadata",
        _price,
        _price_from,
        frozenset({"revenue", "total", "currency"}),
    ),
    Field(
        "metadata",
        "object",
        "the other properties, at most max_metadata_keys with the price",
        _metadata,
        _to_metadata,
    ),
)
