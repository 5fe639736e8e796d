"""Helpers for writing planner expectations out in full."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from intercom_destination.mapping import Plan, Skip, describe, plan
from intercom_destination.settings import Settings, settings_from
from intercom_destination.spec import Event, InvalidEvent, decode_event

RECEIVED = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
#: unix seconds of the default event timestamp below
T = 1795867200
TIMESTAMP = "2026-11-28T12:00:00Z"


def event(obj: dict[str, Any]) -> Event:
    decoded = decode_event(
        {"messageId": "m-1", "timestamp": TIMESTAMP, **obj},
        received_at=RECEIVED,
        make_message_id=lambda: "generated",
    )
    assert not isinstance(decoded, InvalidEvent), decoded
    return decoded


def settings(**values: Any) -> Settings:
    return settings_from(values)


def outcome(obj: dict[str, Any], **values: Any) -> Plan | Skip:
    return plan(event(obj), settings(**values).mapping_options)


def operations(obj: dict[str, Any], **values: Any) -> list[dict[str, Any]]:
    result = outcome(obj, **values)
    assert isinstance(result, Plan), result
    return [describe(op) for op in result.operations]


def warnings(obj: dict[str, Any], **values: Any) -> list[str]:
    return list(outcome(obj, **values).warnings)


def user(external_id: str, email: str | None = None) -> dict[str, Any]:
    ref = {"role": "user", "external_id": external_id}
    return ref | ({"email": email} if email else {})


def upsert_contact(contact: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {
        "op": "upsert_contact",
        "method": "POST",
        "path": "/contacts",
        "contact": contact,
        "body": body,
    }


def create_event(contact: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {
        "op": "create_event",
        "method": "POST",
        "path": "/events",
        "contact": contact,
        "body": body,
    }


def upsert_company(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "op": "upsert_company",
        "method": "POST",
        "path": "/companies",
        "company_id": body["company_id"],
        "body": body,
    }


def attach(contact: dict[str, Any], company_id: str) -> dict[str, Any]:
    return {
        "op": "attach_company",
        "method": "POST",
        "path": "/contacts/{contact_id}/companies",
        "contact": contact,
        "company_id": company_id,
        "body": {"id": "{id of company " + company_id + "}"},
    }


def detach(contact: dict[str, Any], company_id: str) -> dict[str, Any]:
    return {
        "op": "detach_company",
        "method": "DELETE",
        "path": "/contacts/{contact_id}/companies/{id}",
        "contact": contact,
        "company_id": company_id,
    }
