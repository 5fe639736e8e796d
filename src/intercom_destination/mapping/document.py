"""An event read as the JSON document Segment's mappings and triggers name (`traits.email`).

Paths use Segment's own names (`userId`, `properties.revenue`, `context.device.type`), read
from the decoded event: the timestamp is the one corrected for clock skew, in ISO-8601.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from intercom_destination.spec import Event
from intercom_destination.spec.timestamps import isoformat


class _Missing:
    """No value at a path: unlike `null`, which a client can send."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_ROOTS: dict[str, Callable[[Any], Any]] = {
    "type": lambda event: event.type,
    "messageId": lambda event: event.message_id,
    "userId": lambda event: event.user_id,
    "anonymousId": lambda event: event.anonymous_id,
    "timestamp": lambda event: isoformat(event.timestamp),
    "context": lambda event: event.context,
    "integrations": lambda event: event.integrations,
    "event": lambda event: getattr(event, "event", MISSING),
    "name": lambda event: getattr(event, "name", MISSING),
    "category": lambda event: getattr(event, "category", MISSING),
    "properties": lambda event: getattr(event, "properties", MISSING),
    "traits": lambda event: getattr(event, "traits", MISSING),
    "groupId": lambda event: getattr(event, "group_id", MISSING),
    "previousId": lambda event: getattr(event, "previous_id", MISSING),
}
#: The names a path may start with.
ROOTS = tuple(_ROOTS)


class PathError(ValueError):
    """A path that names nothing an event holds."""


def compile_path(text: str) -> Callable[[Event], Any]:
    """`properties.revenue` (or `$.properties.revenue`) as a function of an event giving the
    value there, or `MISSING`. A number indexes an array (`properties.products.0.id`)."""
    steps = parse_path(text)
    root = _ROOTS[steps[0]]
    rest = steps[1:]
    if not rest:
        return lambda event: _present(root(event))
    if len(rest) == 1:
        [key] = rest

        def one(event: Event) -> Any:
            value = root(event)
            return value.get(key, MISSING) if isinstance(value, dict) else MISSING

        return one
    return lambda event: _walk(root(event), rest)


def parse_path(text: str) -> tuple[str, ...]:
    """The steps of a path; a PathError saying what is wrong with it."""
    body = text.strip()
    if body.startswith("$."):
        body = body[2:]
    steps = tuple(body.split("."))
    if not body or any(not step for step in steps):
        raise PathError(f"{text!r} is not a path (write it as properties.name or $.traits.email)")
    if steps[0] not in _ROOTS:
        raise PathError(
            f"{text!r} starts with {steps[0]!r}; a path starts with one of {', '.join(ROOTS)}"
        )
    return steps


def _present(value: Any) -> Any:
    return MISSING if value is None else value


def _walk(value: Any, steps: tuple[str, ...]) -> Any:
    for step in steps:
        if isinstance(value, dict):
            value = value.get(step, MISSING)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return MISSING
    return value
