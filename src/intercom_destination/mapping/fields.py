"""An action's fields as data: the Intercom field, its type, its default source and the
conversion a value from any other source goes through.

Each action module (`identify`, `track`, `group`) declares its fields in a table; the
settings can point a field at another source (a mapping-kit directive), and the action's
code reads every value through the table, so a default and a user's source are treated alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import msgspec

from intercom_destination.mapping.directives import Source, compile_source, keys_read
from intercom_destination.mapping.document import MISSING
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec import Event
from intercom_destination.spec.timestamps import parse_timestamp, unix_seconds

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


class Call(msgspec.Struct, gc=False):
    """What a field's source reads: the event, the object the action maps (identify's and
    group's traits, a track's properties, one company of an identify), the options, and the
    warnings collected so far.

    A struct made for every event an action maps: msgspec builds it in C, and leaves it out
    of the garbage collector, since it holds no cycle."""

    event: Event
    subject: dict[str, Any]
    options: MappingOptions
    warnings: list[str]
    #: Keys of the subject that standard fields take, never repeated as custom values.
    reserved: AbstractSet[str] = frozenset()
    #: The event's options for Intercom (`integrations.Intercom`, …).
    intercom: Mapping[str, Any] = _NO_OPTIONS


#: A field's value for a call, converted, or None when the event gives none: a default
#: source, or a directive followed by the field's conversion.
Value = Callable[[Call], Any]
#: A conversion of a value from a directive: the value Intercom takes, or None (with a
#: warning naming `label` when a value was there but could not be used).
Convert = Callable[[Any, str, Call], Any]


@dataclass(frozen=True)
class Field:
    """One Intercom field of an action."""

    name: str
    #: What Intercom receives, for people: "string", "Unix seconds", …
    type: str
    #: Where the value comes from by default, for people.
    source: str
    default: Value
    convert: Convert
    #: Keys of the subject the default reads: reserved, so never custom values.
    reads: frozenset[str] = frozenset()


class FieldError(ValueError):
    """A field's source that cannot be used."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Fields:
    """An action's fields as one subscription maps them: the default source or the one the
    settings give, compiled."""

    __slots__ = ("overridden", "reads", "reserved", "values")

    def __init__(
        self,
        table: tuple[Field, ...],
        sources: Mapping[str, Any],
        always_reserved: frozenset[str] = frozenset(),
        subject: str = "traits",
    ) -> None:
        known = {field.name for field in table}
        for name in sources:
            if name not in known:
                raise FieldError(
                    name, f"not a field of this action (its fields: {', '.join(sorted(known))})"
                )
        self.values: dict[str, Value] = {}
        #: The sources the settings give, by field.
        self.overridden: dict[str, Any] = dict(sources)
        #: The keys of the subject each field's source reads.
        self.reads: dict[str, frozenset[str]] = {}
        reserved = set(always_reserved)
        for field in table:
            reserved |= field.reads
            if field.name in sources:
                try:
                    source = compile_source(sources[field.name])
                    self.reads[field.name] = keys_read(sources[field.name], subject)
                except ValueError as error:
                    raise FieldError(field.name, str(error)) from None
                self.values[field.name] = _converted(source, field)
            else:
                self.reads[field.name] = field.reads
                self.values[field.name] = field.default
            reserved |= self.reads[field.name]
        self.reserved = frozenset(reserved)


def _converted(source: Source, field: Field) -> Value:
    convert = field.convert
    name = field.name

    def value(call: Call) -> Any:
        found = source(call.event)
        return None if found is MISSING else convert(found, name, call)

    return value


# Conversions shared by the actions.


def to_string(value: Any, label: str, call: Call) -> str | None:
    """A string field; numbers (phone numbers often are) become strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    call.warnings.append(f"{label} {value!r} dropped: expected a string")
    return None


def to_unix_seconds(value: Any, label: str, call: Call) -> int | None:
    """ISO-8601 or Unix seconds or milliseconds as integer Unix seconds."""
    if value is None:
        return None
    moment = parse_timestamp(value)
    if moment is None:
        call.warnings.append(
            f"{label} {value!r} dropped: not a timestamp (ISO-8601 or Unix seconds)"
        )
        return None
    return unix_seconds(moment)


def to_boolean(value: Any, label: str, call: Call) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    call.warnings.append(f"{label} {value!r} dropped: expected true or false")
    return None


def to_object(value: Any, label: str, call: Call) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    call.warnings.append(f"{label} {value!r} dropped: expected an object")
    return None


def trait(key: str) -> Value:
    """The default source `traits.<key>` (of the subject), as a string."""

    def value(call: Call) -> Any:
        found = call.subject.get(key)
        # Most traits are absent or strings: those need no call.
        if found is None or found.__class__ is str:
            return found or None
        return to_string(found, key, call)

    return value
