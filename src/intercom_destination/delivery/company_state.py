"""A company's attributes as the newest events say, whatever order their lanes deliver them.

Many users' lanes write one company, each in its own order, so an older group call can reach
the destination after a newer one. Intercom keeps the fields an upsert names and leaves the
others, so delivering every event in timestamp order would leave, for each field, the value
of the newest event that set it. The state keeps that: each field (and each custom attribute)
with the time of the event that set it. An event sets the fields it is not older than; a
field only an older event named keeps the older event's value. At equal times the event
merged later wins, as it would in Intercom.

Pure: the store keeps the state's bytes, and `delivery.companies` does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec


class Field(msgspec.Struct, frozen=True, array_like=True):
    #: The time (Unix seconds) of the event that set the value.
    at: float
    value: Any


class CompanyState(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    fields: dict[str, Field] = {}
    custom_attributes: dict[str, Field] = {}


_decoder = msgspec.json.Decoder(CompanyState)


def decode(state: bytes) -> CompanyState:
    return _decoder.decode(state)


def encode(state: CompanyState) -> bytes:
    return msgspec.json.encode(state)


def merge(state: CompanyState, at: float, body: dict[str, Any]) -> CompanyState:
    """`state` with what an upsert `body` from an event at `at` says merged in."""
    return _each(state, body, lambda fields, values: _merged(fields, at, values))


def withdraw(state: CompanyState, at: float, body: dict[str, Any]) -> CompanyState:
    """`state` without the values that `body`, from an event at `at`, merged in (Intercom
    refused them), so that they are not sent with every later event of the company."""
    return _each(state, body, lambda fields, values: _without(fields, at, values))


def values_differ(first: CompanyState, second: CompanyState) -> bool:
    """Whether the two states would send different bodies (not only newer times)."""
    return _values(first.fields) != _values(second.fields) or _values(
        first.custom_attributes
    ) != _values(second.custom_attributes)


def changes(
    company_id: str, state: CompanyState, held: CompanyState | None, covering: dict[str, Any]
) -> dict[str, Any]:
    """The `POST /companies` body that brings a company Intercom holds as `held` to `state`:
    the fields (custom attributes key by key) whose values differ, and those the body
    `covering` names, each with its value in `state`; the whole state without `held`."""
    if held is None:
        return body(company_id, state)
    sent: dict[str, Any] = {"company_id": company_id}
    sent.update(_differing(state.fields, held.fields, covering))
    custom = _differing(
        state.custom_attributes, held.custom_attributes, covering.get("custom_attributes", {})
    )
    if custom:
        sent["custom_attributes"] = custom
    return sent


def body(company_id: str, state: CompanyState) -> dict[str, Any]:
    """The `POST /companies` body that leaves Intercom's company as `state` says."""
    sent: dict[str, Any] = {"company_id": company_id, **_values(state.fields)}
    if state.custom_attributes:
        sent["custom_attributes"] = _values(state.custom_attributes)
    return sent


def _each(
    state: CompanyState,
    body: dict[str, Any],
    change: Callable[[dict[str, Field], dict[str, Any]], dict[str, Field]],
) -> CompanyState:
    """`state` with `change` applied to its fields and to its custom attributes, each given
    the body's values of that kind."""
    standard = {k: v for k, v in body.items() if k not in ("company_id", "custom_attributes")}
    return CompanyState(
        fields=change(state.fields, standard),
        custom_attributes=change(state.custom_attributes, body.get("custom_attributes", {})),
    )


def _merged(fields: dict[str, Field], at: float, values: dict[str, Any]) -> dict[str, Field]:
    merged = dict(fields)
    for name, value in values.items():
        known = merged.get(name)
        if known is None or at >= known.at:
            merged[name] = Field(at, value)
    return merged


def _without(fields: dict[str, Field], at: float, values: dict[str, Any]) -> dict[str, Field]:
    return {
        name: field
        for name, field in fields.items()
        if name not in values or field != Field(at, values[name])
    }


def _differing(
    fields: dict[str, Field], held: dict[str, Field], covering: dict[str, Any]
) -> dict[str, Any]:
    sent = {}
    for name, field in fields.items():
        was = held.get(name)
        # Types count: 1, 1.0 and true are different values to send.
        same = was is not None and type(was.value) is type(field.value) and was.value == field.value
        if name in covering or not same:
            sent[name] = field.value
    return sent


def _values(fields: dict[str, Field]) -> dict[str, Any]:
    return {name: field.value for name, field in fields.items()}
