"""Custom values against the data type of the attribute that holds them. Pure."""

from __future__ import annotations

import re
from typing import Any

from intercom_destination.intercom.models import DataType
from intercom_destination.spec.timestamps import parse_timestamp, unix_seconds

# A value that looks like a point in time: auto-created as a date attribute.
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_NO_VALUE = object()


def implied_type(value: Any) -> DataType:
    """The data type an attribute created for this value gets."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str) and _ISO_DATETIME.match(value) and parse_timestamp(value):
        return "date"
    return "string"


def convert(value: Any, data_type: str) -> tuple[bool, Any]:
    """(True, the value as `data_type` wants it) when that loses nothing, else (False, None)."""
    converted = _convert(value, data_type)
    return (False, None) if converted is _NO_VALUE else (True, converted)


def _convert(value: Any, data_type: str) -> Any:
    if value is None:
        return None
    match data_type:
        case "string":
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int | float):
                return str(value)
        case "integer":
            return _integer(value)
        case "float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    return _NO_VALUE
        case "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        case "date" | "datetime":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str | float):
                moment = parse_timestamp(value)
                if moment is not None:
                    return unix_seconds(moment)
        case _:
            # Options and any type Intercom adds later: send the value as it is.
            return value
    return _NO_VALUE


def _integer(value: Any) -> Any:
    if isinstance(value, bool):
        return _NO_VALUE
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return _NO_VALUE
