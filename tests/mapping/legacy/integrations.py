"""Segment's `integrations` object: is Intercom enabled for this event, and with what options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from intercom_destination.spec import Event

DESTINATION = "Intercom"


def is_enabled(integrations: Mapping[str, Any], destination: str = DESTINATION) -> bool:
    """Segment's rule: the destination's exact, case-sensitive key (`Intercom`) decides, else
    `All`, else on."""
    if destination in integrations:
        return integrations[destination] is not False
    return integrations.get("All") is not False


def intercom_options(event: Event) -> dict[str, Any]:
    """Options for Intercom set on the event, under any spelling clients use.

    `integrations.Intercom` (an object) first, then lowercase `integrations.intercom` (classic
    iOS), then `context.Intercom` (the Node example and the classic server integration).
    """
    options: dict[str, Any] = {}
    sources = (
        event.context.get(DESTINATION),
        event.integrations.get("intercom"),
        event.integrations.get(DESTINATION),
    )
    for source in sources:
        if isinstance(source, dict):
            options.update(source)
    return options


def option(options: Mapping[str, Any], snake: str, *aliases: str) -> Any:
    """The first of `snake`, its camelCase form and `aliases` present in the options."""
    head, *rest = snake.split("_")
    camel = head + "".join(part.capitalize() for part in rest)
    for key in (snake, camel, *aliases):
        if key in options:
            return options[key]
    return None
