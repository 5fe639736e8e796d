"""identify → upsert the contact, then upsert and attach (or detach) its companies."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.operations import (
    AttachCompany,
    ContactRef,
    DetachCompany,
    Operation,
    Plan,
    Skip,
    UpsertCompany,
    UpsertContact,
)
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec import Identify
from intercom_destination.spec.timestamps import parse_timestamp, unix_seconds
from tests.mapping.legacy.company import company_body, company_id_from_name
from tests.mapping.legacy.integrations import option
from tests.mapping.legacy.values import custom_values

# Traits that map to standard contact fields or identify the person: never custom attributes.
RESERVED_TRAITS = frozenset(
    {
        "id",
        "userId",
        "user_id",
        "anonymousId",
        "anonymous_id",
        "email",
        "name",
        "firstName",
        "first_name",
        "lastName",
        "last_name",
        "phone",
        "avatar",
        "createdAt",
        "created_at",
        "signedUpAt",
        "signed_up_at",
        "company",
        "companies",
    }
)
SIGNED_UP_TRAITS = ("signedUpAt", "signed_up_at", "createdAt", "created_at")
# The classic "collect context" attributes: (context object, field) → attribute name.
CONTEXT_ATTRIBUTES = (
    ("device", "type", "device_type"),
    ("device", "manufacturer", "device_manufacturer"),
    ("device", "model", "device_model"),
    ("os", "name", "os_name"),
    ("os", "version", "os_version"),
    ("app", "name", "app_name"),
    ("app", "version", "app_version"),
)


def plan_identify(
    event: Identify, options: MappingOptions, intercom: dict[str, Any], warnings: list[str]
) -> Plan | Skip:
    traits = event.traits
    email = _string(traits.get("email"), "email", warnings)
    # Segment's table maps `traits.userId`; the event's own userId wins when both are set.
    user_id = event.user_id or _string(
        traits.get("userId") or traits.get("user_id"), "userId", warnings
    )
    if user_id is not None:
        contact = ContactRef(role="user", external_id=user_id, email=email)
    elif options.unidentified == "lead":
        contact = ContactRef(role="lead", anonymous_id=event.anonymous_id, email=email)
    else:
        return Skip(
            reason="identify without userId: Intercom users need one, and creating leads "
            'for "Unidentified" visitors is off (set unidentified = "lead" to create them)',
            warnings=tuple(warnings),
        )

    body: dict[str, Any] = {"role": contact.role}
    if contact.external_id is not None:
        body["external_id"] = contact.external_id
    if email is not None:
        body["email"] = email
    name = _full_name(traits, warnings)
    if name is not None:
        body["name"] = name
    for field in ("phone", "avatar"):
        value = _string(traits.get(field), field, warnings)
        if value is not None:
            body[field] = value
    signed_up_at = _signed_up_at(traits, warnings)
    if signed_up_at is not None:
        body["signed_up_at"] = signed_up_at
    if event.context.get("active") is not False:
        body["last_seen_at"] = unix_seconds(event.timestamp)
    unsubscribed = option(
        intercom, "unsubscribed", "unsubscribed_from_emails", "unsubscribedFromEmails"
    )
    if isinstance(unsubscribed, bool):
        body["unsubscribed_from_emails"] = unsubscribed

    custom_items = [(key, value) for key, value in traits.items() if key not in RESERVED_TRAITS]
    if options.collect_context:
        custom_items.extend(_context_attributes(event.context, traits))
    language = option(intercom, "language_override")
    if language is not None:
        if options.language_override_attribute:
            custom_items.append((options.language_override_attribute, language))
        else:
            warnings.append(
                "language_override dropped: Intercom's REST API has no writable field for it "
                "(set language_override_attribute to keep it as a custom attribute)"
            )
    custom = custom_values(
        custom_items, options, warnings, what="custom attribute", nulls=options.send_nulls
    )
    if custom:
        body["custom_attributes"] = custom

    operations: list[Operation] = [UpsertContact(contact=contact, body=body)]
    operations.extend(_company_operations(traits, contact, options, warnings))
    return Plan(operations=tuple(operations), warnings=tuple(warnings))


def _full_name(traits: dict[str, Any], warnings: list[str]) -> str | None:
    name = _string(traits.get("name"), "name", warnings)
    if name is not None:
        return name
    parts = [
        traits.get(first) or traits.get(second)
        for first, second in (("firstName", "first_name"), ("lastName", "last_name"))
    ]
    words = [str(part).strip() for part in parts if isinstance(part, str) and part.strip()]
    return " ".join(words) or None


def _signed_up_at(traits: dict[str, Any], warnings: list[str]) -> int | None:
    for key in SIGNED_UP_TRAITS:
        value = traits.get(key)
        if value is None:
            continue
        moment = parse_timestamp(value)
        if moment is None:
            warnings.append(f"{key} {value!r} dropped: not a timestamp (ISO-8601 or Unix seconds)")
            return None
        return unix_seconds(moment)
    return None


def _context_attributes(context: dict[str, Any], traits: dict[str, Any]) -> list[tuple[str, Any]]:
    collected = []
    for section, field, attribute in CONTEXT_ATTRIBUTES:
        source = context.get(section)
        if isinstance(source, dict) and source.get(field) is not None and attribute not in traits:
            collected.append((attribute, source[field]))
    return collected


def _company_operations(
    traits: dict[str, Any], contact: ContactRef, options: MappingOptions, warnings: list[str]
) -> list[Operation]:
    companies: list[Any] = []
    if traits.get("company") is not None:
        companies.append(traits["company"])
    if isinstance(traits.get("companies"), list):
        companies.extend(traits["companies"])
    operations: list[Operation] = []
    for company in companies:
        if isinstance(company, str | int) and not isinstance(company, bool):
            company = {"name": str(company)}
        if not isinstance(company, dict):
            warnings.append(f"company {company!r} dropped: expected an object or a name")
            continue
        company_id = _company_id(company)
        if company_id is None:
            warnings.append("company dropped: it has neither an id nor a name")
            continue
        if company.get("remove") is True:
            operations.append(DetachCompany(contact=contact, company_id=company_id))
            continue
        body = company_body(company_id, company, options, warnings)
        operations.append(UpsertCompany(company_id=company_id, body=body))
        operations.append(AttachCompany(contact=contact, company_id=company_id))
    return operations


def _company_id(company: dict[str, Any]) -> str | None:
    for key in ("id", "company_id", "companyId"):
        value = company.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    name = company.get("name")
    if isinstance(name, str) and name.strip():
        return company_id_from_name(name)
    return None


def _string(value: Any, field: str, warnings: list[str]) -> str | None:
    """A standard string field; numbers (phone numbers often are) become strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    warnings.append(f"{field} {value!r} dropped: expected a string")
    return None
