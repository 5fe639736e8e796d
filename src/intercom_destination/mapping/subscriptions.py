"""The workspace's mappings, compiled once from the settings' tables: which actions each event
triggers (subscriptions), with which fields, after which destination filters.

    [actions.track_event]                       # replace a default subscription's parts
    trigger = 'type = "track" and event != "Heartbeat"'
    [actions.identify_contact.mapping]
    name = { "@path" = "$.traits.full_name" }

    [[subscriptions]]                           # and add more, as Segment's Actions allows
    name = "orders"
    action = "track_event"
    trigger = 'type = "track" and event = "Order Completed"'
    mapping = { event_name = "order-completed" }

    [[filters]]                                 # drop events, or properties and traits
    if = 'context.traits.internal = true'
    drop = true

Everything is checked here, when the settings load: a `MappingError` names the key.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from typing import Any

from intercom_destination.mapping.actions import ACTIONS, Action, default_trigger
from intercom_destination.mapping.fields import FieldError, Fields
from intercom_destination.mapping.triggers import (
    EVENT_TYPES,
    Condition,
    TriggerError,
    parse_trigger,
)


class MappingError(ValueError):
    """A mapping setting that cannot be used: `key` names it, the message says why."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class Subscription:
    """An action, the events that trigger it, and its fields."""

    name: str
    action: Action
    trigger: str
    condition: Condition
    fields: Fields
    #: Where the settings declared it: `actions.track_event` or `subscriptions[0]`.
    key: str


@dataclass(frozen=True)
class Filter:
    """A destination filter: for events its condition matches, drop the event, or drop (or
    keep only) some properties and traits."""

    name: str
    condition_text: str | None
    condition: Condition | None
    drop: bool = False
    drop_properties: frozenset[str] = frozenset()
    allow_properties: frozenset[str] | None = None
    drop_traits: frozenset[str] = frozenset()
    allow_traits: frozenset[str] | None = None


#: A subscription that may match an event of a type, and what of its trigger is left to
#: test once the type is known (None: it matches every event of that type).
Candidate = tuple[Subscription, Condition | None]


@dataclass(frozen=True)
class Mappings:
    subscriptions: tuple[Subscription, ...]
    filters: tuple[Filter, ...] = ()
    #: Whether track_event keeps its default trigger, which page_events / screen_events widen.
    default_track_trigger: bool = True
    by_type: dict[str, tuple[Candidate, ...]] = field(default_factory=dict)
    #: Whether the settings change the defaults at all.
    custom: bool = False
    #: Without filters, the one subscription every event of a type triggers, by type.
    only: dict[str, Subscription] = field(default_factory=dict)


_ACTION_KEYS = {"enabled", "trigger", "mapping"}
_SUBSCRIPTION_KEYS = {"name", "action", "trigger", "mapping", "enabled"}
_FILTER_KEYS = {
    "name",
    "if",
    "drop",
    "drop_properties",
    "allow_properties",
    "drop_traits",
    "allow_traits",
}


def compile_mappings(
    actions: MappingType[str, Any],
    subscriptions: list[Any] | tuple[Any, ...],
    filters: list[Any] | tuple[Any, ...],
    *,
    page_events: bool = False,
    screen_events: bool = False,
) -> Mappings:
    """The mappings the settings' `actions`, `subscriptions` and `filters` tables describe."""
    compiled: list[Subscription] = []
    for name, table in actions.items():
        if name not in ACTIONS:
            raise MappingError(f"actions.{name}", f"no such action (actions: {', '.join(ACTIONS)})")
        _table(table, f"actions.{name}", _ACTION_KEYS)
    for name, action in ACTIONS.items():
        table = actions.get(name, {})
        if table.get("enabled", True) is False:
            continue
        default = default_trigger(action, page_events=page_events, screen_events=screen_events)
        trigger = table.get("trigger", default)
        compiled.append(
            _subscription(name, action, trigger, table.get("mapping", {}), f"actions.{name}")
        )
    for index, table in enumerate(subscriptions):
        key = f"subscriptions[{index}]"
        _table(table, key, _SUBSCRIPTION_KEYS)
        if table.get("action") not in ACTIONS:
            raise MappingError(f"{key}.action", f"name one of {', '.join(ACTIONS)}")
        subscribed = ACTIONS[table["action"]]
        if "trigger" not in table:
            raise MappingError(f"{key}.trigger", "missing: say which events it takes")
        if table.get("enabled", True) is False:
            continue
        name = table.get("name", key)
        compiled.append(
            _subscription(name, subscribed, table["trigger"], table.get("mapping", {}), key)
        )
    seen: set[str] = set()
    for subscription in compiled:
        if subscription.name in seen:
            raise MappingError(
                f"{subscription.key}.name", f"{subscription.name!r} names two subscriptions"
            )
        seen.add(subscription.name)
    by_type = {kind: _candidates(compiled, kind) for kind in EVENT_TYPES}
    compiled_filters = tuple(
        _filter(table, f"filters[{index}]") for index, table in enumerate(filters)
    )
    only = {
        kind: candidates[0][0]
        for kind, candidates in by_type.items()
        if len(candidates) == 1 and candidates[0][1] is None and not compiled_filters
    }
    return Mappings(
        subscriptions=tuple(compiled),
        filters=compiled_filters,
        default_track_trigger="trigger" not in actions.get("track_event", {}),
        by_type=by_type,
        custom=bool(actions or subscriptions or filters),
        only=only,
    )


def _table(value: Any, key: str, allowed: set[str]) -> None:
    if not isinstance(value, dict):
        raise MappingError(key, "must be a table")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise MappingError(
            f"{key}.{unknown[0]}", f"not a key here (keys: {', '.join(sorted(allowed))})"
        )
    if "enabled" in value and not isinstance(value["enabled"], bool):
        raise MappingError(f"{key}.enabled", "must be true or false")
    if "name" in value and not (isinstance(value["name"], str) and value["name"].strip()):
        raise MappingError(f"{key}.name", "must be a non-empty string")


def _subscription(name: str, action: Action, trigger: Any, mapping: Any, key: str) -> Subscription:
    condition = _condition(trigger, f"{key}.trigger")
    if not isinstance(mapping, dict):
        raise MappingError(f"{key}.mapping", "must be a table of field = source")
    try:
        fields = action.compile(mapping)
    except FieldError as error:
        raise MappingError(f"{key}.mapping.{error.field}", str(error).split(": ", 1)[1]) from None
    return Subscription(name, action, trigger, condition, fields, key)


def _condition(trigger: Any, key: str) -> Condition:
    if not isinstance(trigger, str):
        raise MappingError(key, "must be a string such as 'type = \"track\"'")
    try:
        return parse_trigger(trigger)
    except TriggerError as error:
        raise MappingError(key, str(error)) from None


def _candidates(subscriptions: list[Subscription], kind: str) -> tuple[Candidate, ...]:
    candidates: list[Candidate] = []
    for subscription in subscriptions:
        left = subscription.condition.given_type(kind)
        if left is True:
            candidates.append((subscription, None))
        elif left is not False:
            candidates.append((subscription, left))
    return tuple(candidates)


def _filter(table: Any, key: str) -> Filter:
    _table(table, key, _FILTER_KEYS)
    condition_text = table.get("if")
    condition = None if condition_text is None else _condition(condition_text, f"{key}.if")
    drop = table.get("drop", False)
    if not isinstance(drop, bool):
        raise MappingError(f"{key}.drop", "must be true or false")
    names = {
        name: _names(table[name], f"{key}.{name}")
        for name in _FILTER_KEYS
        if name.endswith(("_properties", "_traits")) and name in table
    }
    if not drop and not names:
        raise MappingError(
            key, "does nothing: give drop = true, or drop_/allow_ properties or traits"
        )
    if drop and names:
        raise MappingError(key, "drops the event: drop_/allow_ lists would never apply")
    return Filter(
        name=table.get("name", key),
        condition_text=condition_text,
        condition=condition,
        drop=drop,
        drop_properties=names.get("drop_properties", frozenset()),
        allow_properties=names.get("allow_properties"),
        drop_traits=names.get("drop_traits", frozenset()),
        allow_traits=names.get("allow_traits"),
    )


def _names(value: Any, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise MappingError(key, "must be a list of names")
    return frozenset(value)
