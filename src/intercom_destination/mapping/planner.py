"""`plan(event, options)`: a Segment event as the Intercom operations it becomes.

Pure: no network, clock or globals. The same event and options always give the same plan.
The filters run first; then every subscription whose trigger matches the event runs its
action, in the order the settings declare them.
"""

from __future__ import annotations

import msgspec

from intercom_destination.mapping.filters import Dropped, apply_filters
from intercom_destination.mapping.integrations import is_enabled
from intercom_destination.mapping.operations import Operation, Plan, Skip
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.mapping.subscriptions import Mappings, Subscription
from intercom_destination.spec import Event

_INTEGRATIONS_OFF = "integrations: Intercom is switched off for this event"
_ALIAS = "alias: Intercom has no alias operation; the userId's own identify updates the contact"


class Route(msgspec.Struct, frozen=True):
    """Where an event goes: the event as the filters leave it and the subscriptions it
    matches, or the reason it goes nowhere (and the filter that dropped it)."""

    event: Event
    subscriptions: tuple[Subscription, ...] = ()
    warnings: list[str] = msgspec.field(default_factory=list)
    skipped: str | None = None
    dropped_by: str | None = None


def route(event: Event, options: MappingOptions) -> Route:
    """Which subscriptions an event triggers, after the filters."""
    if not is_enabled(event.integrations):
        return Route(event, skipped=_INTEGRATIONS_OFF)
    mappings = options.mappings
    warnings: list[str] = []
    if mappings.filters:
        filtered = apply_filters(event, mappings.filters, warnings)
        if isinstance(filtered, Dropped):
            return Route(
                event, warnings=warnings, skipped=filtered.reason, dropped_by=filtered.filter
            )
        event = filtered
    matched = tuple(
        subscription
        for subscription, condition in mappings.by_type[event.type]
        if condition is None or condition.matches(event)
    )
    if not matched:
        return Route(event, warnings=warnings, skipped=_unmatched(event, mappings))
    return Route(event, matched, warnings)


def plan(event: Event, options: MappingOptions) -> Plan | Skip:
    # The common case, taken without building a Route: no filters, and one subscription
    # whose trigger the event's type decides.
    only = options.mappings.only.get(event.type)
    if only is not None and is_enabled(event.integrations):
        return only.action.plan(event, options, only.fields, [])
    way = route(event, options)
    if way.skipped is not None:
        return Skip(reason=way.skipped, warnings=tuple(way.warnings))
    if len(way.subscriptions) == 1:
        [subscription] = way.subscriptions
        return subscription.action.plan(way.event, options, subscription.fields, way.warnings)
    return _combined(way, options)


def _combined(way: Route, options: MappingOptions) -> Plan | Skip:
    """Several subscriptions' operations in order; a skipped one's reason as a warning."""
    operations: list[Operation] = []
    warnings = list(way.warnings)
    reasons: list[str] = []
    for subscription in way.subscriptions:
        outcome = subscription.action.plan(way.event, options, subscription.fields, [])
        warnings.extend(outcome.warnings)
        if isinstance(outcome, Skip):
            reasons.append(f"{subscription.name}: {outcome.reason}")
        else:
            operations.extend(outcome.operations)
    if not operations:
        return Skip(reason="; ".join(reasons), warnings=tuple(warnings))
    warnings.extend(f"subscription {reason}" for reason in reasons)
    return Plan(operations=tuple(operations), warnings=tuple(warnings))


def _unmatched(event: Event, mappings: Mappings) -> str:
    if event.type == "alias":
        return _ALIAS
    if event.type in ("page", "screen") and mappings.default_track_trigger:
        noun = event.type.capitalize()
        return (
            f"{event.type}: not sent to Intercom "
            f"(set {event.type}_events = true to send it as a 'Viewed … {noun}' event)"
        )
    return (
        f"{event.type}: no subscription's trigger matches it (see `intercom-destination mappings`)"
    )
