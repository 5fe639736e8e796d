"""group → upsert the company, then attach the user to it."""

from __future__ import annotations

from intercom_destination.mapping.operations import AttachCompany, Plan, Skip, UpsertCompany
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec import Group
from tests.mapping.legacy.company import company_body
from tests.mapping.legacy.contacts import context_email, event_contact


def plan_group(event: Group, options: MappingOptions, warnings: list[str]) -> Plan | Skip:
    contact = event_contact(event, context_email(event), options)
    if isinstance(contact, str):
        return Skip(reason=contact, warnings=tuple(warnings))
    body = company_body(event.group_id, event.traits, options, warnings)
    return Plan(
        operations=(
            UpsertCompany(company_id=event.group_id, body=body),
            AttachCompany(contact=contact, company_id=event.group_id),
        ),
        warnings=tuple(warnings),
    )
