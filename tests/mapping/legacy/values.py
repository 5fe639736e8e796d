"""The one policy for custom values, shared by contact and company attributes and event metadata.

Intercom stores strings (at most 255 characters), numbers and booleans. Objects and arrays
follow the `nested` setting: dropped (the default), flattened to `parent_child` keys, or
sent as JSON strings. In event metadata, objects already in one of Intercom's two rich shapes
(a monetary amount or a rich link) are kept. `null` is omitted, because Intercom takes it as
"clear this attribute"; only contact attributes can be cleared, when `send_nulls` asks for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from intercom_destination.mapping.options import MappingOptions

# Characters Intercom does not allow in metadata keys; replaced in every key we send so a
# flattened or odd key never makes a request fail.
_FORBIDDEN_IN_KEYS = re.compile(r"[.$~`!@#%^&*'{}|\\\"\x00]")


def custom_values(
    items: Iterable[tuple[str, Any]],
    options: MappingOptions,
    warnings: list[str],
    *,
    what: str,
    rich_objects: bool = False,
    nulls: bool = False,
) -> dict[str, Any]:
    """Custom values Intercom accepts, with a warning for each one changed or left out.

    `what` names the values in warnings ("custom attribute", "metadata key");
    `rich_objects` keeps monetary amounts and rich links (metadata only); `nulls` sends
    `null` values instead of omitting them.
    """
    values = _Values(options, warnings, what, nulls)
    for raw_key, value in items:
        key = clean_key(raw_key)
        if key != raw_key:
            forbidden = "".join(sorted(set(_FORBIDDEN_IN_KEYS.findall(raw_key))))
            warnings.append(
                f"{what} {raw_key!r} renamed to {key!r}: Intercom forbids {forbidden!r}"
            )
        if not key.strip():
            warnings.append(f"{what} {raw_key!r} dropped: a name cannot be blank")
        elif rich_objects and is_rich_object(value):
            values.kept[key] = value
        elif isinstance(value, dict | list):
            values.add_nested(key, value)
        else:
            values.add(key, value)
    return values.kept


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


@dataclass
class _Values:
    options: MappingOptions
    warnings: list[str]
    what: str
    nulls: bool
    kept: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, value: Any) -> None:
        if value is None:
            if self.nulls:
                self.kept[key] = None
            return
        if isinstance(value, float) and not math.isfinite(value):
            self.warnings.append(
                f"{self.what} {key!r} dropped: {value} is not a number Intercom can store"
            )
            return
        if isinstance(value, str):
            limit = self.options.max_string_length
            if len(value) > limit:
                self.warnings.append(f"{self.what} {key!r} truncated to {limit} characters")
                value = value[:limit]
        elif not isinstance(value, bool | int | float):
            self.warnings.append(f"{self.what} {key!r} dropped: unsupported value")
            return
        self.kept[key] = value

    def add_nested(self, key: str, value: dict[str, Any] | list[Any]) -> None:
        match self.options.nested:
            case "drop":
                shape = "an object" if isinstance(value, dict) else "an array"
                self.warnings.append(
                    f"{self.what} {key!r} dropped: Intercom cannot store {shape} "
                    '(set nested = "flatten" or "stringify" to keep it)'
                )
            case "stringify":
                self.add(key, msgspec.json.encode(value).decode())
            case "flatten":
                for child_key, child in _flatten(key, value):
                    self.add(clean_key(child_key), child)


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _flatten(f"{prefix}_{key}", child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _flatten(f"{prefix}_{index}", child)
    else:
        yield prefix, value
