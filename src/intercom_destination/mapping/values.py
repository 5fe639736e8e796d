"""The one policy for custom values, shared by contact and company attributes and event metadata.

Intercom stores strings (at most 255 characters), numbers and booleans. Objects and arrays
follow the `nested` setting: dropped (the seed's rule), flattened to `parent_child` keys, or
sent as JSON strings. In event metadata, objects already in one of Intercom's two rich shapes
(a monetary amount or a rich link) are kept. `null` is omitted, because Intercom takes it as
"clear this attribute", unless `send_nulls` asks for exactly that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from intercom_destination.settings import Settings

# Characters Intercom does not allow in metadata keys; replaced in every key we send so a
# flattened or odd key never makes a request fail.
_FORBIDDEN_IN_KEYS = re.compile(r"[.$~`!@#%^&*'{}|\\\"\x00]")


def custom_values(
    items: Iterable[tuple[str, Any]],
    settings: Settings,
    warnings: list[str],
    *,
    what: str,
    rich_objects: bool = False,
) -> dict[str, Any]:
    """Custom values Intercom accepts, with a warning for each one changed or left out.

    `what` names the values in warnings ("custom attribute", "metadata key").
    """
    kept: dict[str, Any] = {}
    for raw_key, value in items:
        key = clean_key(raw_key)
        if key != raw_key:
            forbidden = "".join(sorted(set(_FORBIDDEN_IN_KEYS.findall(raw_key))))
            warnings.append(
                f"{what} {raw_key!r} renamed to {key!r}: Intercom forbids {forbidden!r}"
            )
        if not key.strip():
            warnings.append(f"{what} {raw_key!r} dropped: a name cannot be blank")
            continue
        if isinstance(value, dict | list):
            if rich_objects and is_rich_object(value):
                kept[key] = value
            else:
                _nested(key, value, settings, warnings, what, kept)
            continue
        _scalar(key, value, settings, warnings, what, kept)
    return kept


def clean_key(key: str) -> str:
    return _FORBIDDEN_IN_KEYS.sub("_", key)


def is_rich_object(value: object) -> bool:
    """Intercom's monetary amount `{amount, currency}` or rich link `{url, value}`."""
    if not isinstance(value, dict) or len(value) != 2:
        return False
    if value.keys() == {"amount", "currency"}:
        amount = value["amount"]
        return (
            isinstance(amount, int)
            and not isinstance(amount, bool)
            and amount >= 0
            and isinstance(value["currency"], str)
        )
    if value.keys() == {"url", "value"}:
        return isinstance(value["url"], str) and isinstance(value["value"], str)
    return False


def _scalar(
    key: str, value: Any, settings: Settings, warnings: list[str], what: str, kept: dict[str, Any]
) -> None:
    if value is None:
        if settings.send_nulls:
            kept[key] = None
        return
    if isinstance(value, float) and not math.isfinite(value):
        warnings.append(f"{what} {key!r} dropped: {value} is not a number Intercom can store")
        return
    if isinstance(value, str):
        limit = settings.max_string_length
        if len(value) > limit:
            warnings.append(f"{what} {key!r} truncated to {limit} characters")
            value = value[:limit]
    elif not isinstance(value, bool | int | float):
        warnings.append(f"{what} {key!r} dropped: unsupported value")
        return
    kept[key] = value


def _nested(
    key: str,
    value: dict[str, Any] | list[Any],
    settings: Settings,
    warnings: list[str],
    what: str,
    kept: dict[str, Any],
) -> None:
    match settings.nested:
        case "drop":
            shape = "an object" if isinstance(value, dict) else "an array"
            warnings.append(
                f"{what} {key!r} dropped: Intercom cannot store {shape} "
                '(set nested = "flatten" or "stringify" to keep it)'
            )
        case "stringify":
            _scalar(key, msgspec.json.encode(value).decode(), settings, warnings, what, kept)
        case "flatten":
            for child_key, child in _flatten(key, value):
                _scalar(clean_key(child_key), child, settings, warnings, what, kept)


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _flatten(f"{prefix}_{key}", child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _flatten(f"{prefix}_{index}", child)
    else:
        yield prefix, value
