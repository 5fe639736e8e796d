"""The mappings described for people: what `intercom-destination mappings` prints, and the
tables docs/mapping.md holds (a test keeps the two equal)."""

from __future__ import annotations

import json
from typing import Any

from intercom_destination.mapping.actions import ACTIONS
from intercom_destination.mapping.subscriptions import Filter, Mappings, Subscription


def describe_mappings(mappings: Mappings) -> dict[str, Any]:
    """The effective subscriptions and filters as one JSON-ready document."""
    return {
        "subscriptions": [_subscription(each) for each in mappings.subscriptions],
        "filters": [_filter(each) for each in mappings.filters],
    }


def _subscription(subscription: Subscription) -> dict[str, Any]:
    overridden = subscription.fields.overridden
    return {
        "name": subscription.name,
        "key": subscription.key,
        "action": subscription.action.name,
        "trigger": subscription.trigger,
        "fields": [
            {
                "field": field.name,
                "type": field.type,
                "source": overridden.get(field.name, field.source),
                "default": field.name not in overridden,
            }
            for field in subscription.action.fields
        ],
    }


def _filter(rule: Filter) -> dict[str, Any]:
    document: dict[str, Any] = {"name": rule.name, "if": rule.condition_text}
    if rule.drop:
        document["drop"] = True
    for name in ("drop_properties", "allow_properties", "drop_traits", "allow_traits"):
        names = getattr(rule, name)
        if names:
            document[name] = sorted(names)
    return document


def render_mappings(mappings: Mappings) -> str:
    """The effective subscriptions and filters as text."""
    document = describe_mappings(mappings)
    lines: list[str] = []
    for subscription in document["subscriptions"]:
        lines.append(f"subscription {subscription['name']} ({subscription['key']})")
        lines.append(f"  action   {subscription['action']}")
        lines.append(f"  trigger  {subscription['trigger']}")
        lines.append("  fields")
        width = max(len(field["field"]) for field in subscription["fields"])
        for field in subscription["fields"]:
            source = field["source"]
            shown = source if field["default"] else f"{json.dumps(source)}  (set)"
            lines.append(f"    {field['field']:{width}}  {field['type']:15}  {shown}")
        lines.append("")
    if not document["subscriptions"]:
        lines.extend(["no subscriptions: every event is skipped", ""])
    for rule in document["filters"]:
        lines.append(f"filter {rule['name']}")
        lines.append(f"  {'if':16} {rule['if'] or 'every event'}")
        for key, value in rule.items():
            if key not in ("name", "if"):
                lines.append(f"  {key:16} {'the event' if value is True else ', '.join(value)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def markdown_tables() -> str:
    """Each action's fields as a Markdown table, with its summary and default trigger."""
    parts = []
    for action in ACTIONS.values():
        rows = [
            f"**`{action.name}`**: {action.summary}. Default trigger: `{action.trigger}`.",
            "",
            "| Intercom field | type | default source |",
            "|---|---|---|",
        ]
        rows.extend(
            f"| `{field.name}` | {field.type} | {field.source} |" for field in action.fields
        )
        parts.append("\n".join(rows))
    return "\n\n".join(parts) + "\n"
