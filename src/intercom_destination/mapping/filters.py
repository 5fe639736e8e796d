"""Destination filters, run before any action: drop an event, or some of its properties and
traits."""

from __future__ import annotations

from typing import Any

import msgspec

from intercom_destination.mapping.subscriptions import Filter
from intercom_destination.spec import Event


class Dropped(msgspec.Struct, frozen=True):
    """The filter that dropped an event."""

    filter: str
    reason: str


def apply_filters(
    event: Event, filters: tuple[Filter, ...], warnings: list[str]
) -> Event | Dropped:
    """The event as the filters leave it, or the filter that drops it."""
    for rule in filters:
        if rule.condition is not None and not rule.condition.matches(event):
            continue
        if rule.drop:
            matched = (
                f"it matches {rule.condition_text!r}"
                if rule.condition_text
                else "it drops every event"
            )
            return Dropped(rule.name, f"filter {rule.name}: dropped, {matched}")
        event = _without_fields(event, rule, warnings)
    return event


def _without_fields(event: Event, rule: Filter, warnings: list[str]) -> Event:
    changes: dict[str, Any] = {}
    for attribute, drop, allow in (
        ("properties", rule.drop_properties, rule.allow_properties),
        ("traits", rule.drop_traits, rule.allow_traits),
    ):
        values = getattr(event, attribute, None)
        if not values:
            continue
        kept = {
            key: value
            for key, value in values.items()
            if key not in drop and (allow is None or key in allow)
        }
        if len(kept) < len(values):
            removed = ", ".join(repr(key) for key in values if key not in kept)
            warnings.append(f"filter {rule.name}: {attribute} {removed} dropped")
            changes[attribute] = kept
    return msgspec.structs.replace(event, **changes) if changes else event
