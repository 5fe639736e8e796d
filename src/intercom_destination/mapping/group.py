"""group_company: a group as the company's upsert, then the user's attachment to it."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.company import COMPANY_FIELDS, COMPANY_IDENTIFIERS, company_body
from intercom_destination.mapping.contacts import context_email, event_contact
from intercom_destination.mapping.fields import Call, Field, Fields, to_string
from intercom_destination.mapping.operations import AttachCompany, Plan, Skip, UpsertCompany
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.mapping.track import missing
from intercom_destination.spec import Event


def plan_group(
    event: Event, options: MappingOptions, fields: Fields, warnings: list[str]
) -> Plan | Skip:
    contact = event_contact(event, context_email(event), options)
    if isinstance(contact, str):
        return Skip(reason=contact, warnings=tuple(warnings))
    traits: dict[str, Any] = getattr(event, "traits", None) or {}
    call = Call(event, traits, options, warnings, fields.reserved)
    company_id = fields.values["company_id"](call)
    if company_id is None:
        return missing("company_id", call)
    body = company_body(company_id, call, fields)
    return Plan(
        operations=(
            UpsertCompany(company_id=company_id, body=body),
            AttachCompany(contact=contact, company_id=company_id),
        ),
        warnings=tuple(warnings),
    )


def _group_id(call: Call) -> str | None:
    return getattr(call.event, "group_id", None)


FIELDS = (
    Field("company_id", "string", "groupId", _group_id, to_string),
    *COMPANY_FIELDS,
)
#: Traits that identify the company or a standard field takes: never custom attributes.
RESERVED_TRAITS = Fields(FIELDS, {}, COMPANY_IDENTIFIERS).reserved
