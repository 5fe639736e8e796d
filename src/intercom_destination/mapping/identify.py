"""identify_contact: an identify as the contact's upsert, then its companies' upserts and
attachments (or detachments)."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.company import (
    DEFAULT_COMPANY_FIELDS,
    company_body,
    company_id_from_name,
)
from intercom_destination.mapping.fields import (
    Call,
    Field,
    Fields,
    to_boolean,
    to_object,
    to_string,
    to_unix_seconds,
    trait,
)
from intercom_destination.mapping.integrations import intercom_options, option
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
from intercom_destination.mapping.values import custom_values
from intercom_destination.spec import Event, Identify
from intercom_destination.spec.timestamps import unix_seconds

# Traits that name the person in Segment rather than describe them.
IDENTIFIERS = frozenset({"id", "anonymousId", "anonymous_id"})
_USER_ID_TRAITS = ("userId", "user_id")
_NAME_TRAITS = ("name", "firstName", "first_name", "lastName", "last_name")
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
    event: Event, options: MappingOptions, fields: Fields, warnings: list[str]
) -> Plan | Skip:
    traits = event.traits if isinstance(event, Identify) else _context_traits(event)
    call = Call(event, traits, options, warnings, fields.reserved, intercom_options(event))
    email = fields.values["email"](call)
    user_id = fields.values["external_id"](call)
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
    for name in _BODY_FIELDS:
        value = fields.values[name](call)
        if value is not None:
            body[name] = value
    custom = fields.values["custom_attributes"](call)
    if custom:
        body["custom_attributes"] = custom

    operations: list[Operation] = [UpsertContact(contact=contact, body=body)]
    companies = fields.values["companies"](call)
    if companies:
        operations.extend(_company_operations(companies, call, contact))
    return Plan(operations=tuple(operations), warnings=tuple(warnings))


_BODY_FIELDS = (
    "name",
    "phone",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
)


def _context_traits(event: Event) -> dict[str, Any]:
    """The traits of an event other than an identify: `context.traits`, as clients send them."""
    traits = event.context.get("traits")
    return traits if isinstance(traits, dict) else {}


def _external_id(call: Call) -> str | None:
    # Segment's table maps `traits.userId`; the event's own userId wins when both are set.
    traits = call.subject
    return call.event.user_id or to_string(
        traits.get("userId") or traits.get("user_id"), "userId", call
    )


def _full_name(call: Call) -> str | None:
    traits = call.subject
    name = to_string(traits.get("name"), "name", call)
    if name is not None:
        return name
    parts = [
        traits.get(first) or traits.get(second)
        for first, second in (("firstName", "first_name"), ("lastName", "last_name"))
    ]
    words = [str(part).strip() for part in parts if isinstance(part, str) and part.strip()]
    return " ".join(words) or None


def _signed_up_at(call: Call) -> int | None:
    for key in SIGNED_UP_TRAITS:
        value = call.subject.get(key)
        if value is not None:
            return to_unix_seconds(value, key, call)
    return None


def _last_seen_at(call: Call) -> int | None:
    if call.event.context.get("active") is False:
        return None
    return unix_seconds(call.event.timestamp)


def _unsubscribed(call: Call) -> bool | None:
    unsubscribed = option(
        call.intercom, "unsubscribed", "unsubscribed_from_emails", "unsubscribedFromEmails"
    )
    return unsubscribed if isinstance(unsubscribed, bool) else None


def _custom_attributes(call: Call) -> dict[str, Any]:
    traits = call.subject
    reserved = call.reserved
    options = call.options
    items = [(key, value) for key, value in traits.items() if key not in reserved]
    if options.collect_context:
        items.extend(_context_attributes(call.event.context, traits))
    language = option(call.intercom, "language_override")
    if language is not None:
        if options.language_override_attribute:
            items.append((options.language_override_attribute, language))
        else:
            call.warnings.append(
                "language_override dropped: Intercom's REST API has no writable field for it "
                "(set language_override_attribute to keep it as a custom attribute)"
            )
    return _custom_values(items, call)


def _to_custom_attributes(value: Any, label: str, call: Call) -> dict[str, Any] | None:
    attributes = to_object(value, label, call)
    return None if attributes is None else _custom_values(attributes.items(), call)


def _custom_values(items: Any, call: Call) -> dict[str, Any]:
    options = call.options
    return custom_values(
        items, options, call.warnings, what="custom attribute", nulls=options.send_nulls
    )


def _context_attributes(context: dict[str, Any], traits: dict[str, Any]) -> list[tuple[str, Any]]:
    collected = []
    for section, field, attribute in CONTEXT_ATTRIBUTES:
        source = context.get(section)
        if isinstance(source, dict) and source.get(field) is not None and attribute not in traits:
            collected.append((attribute, source[field]))
    return collected


def _companies(call: Call) -> list[Any]:
    traits = call.subject
    companies: list[Any] = []
    if traits.get("company") is not None:
        companies.append(traits["company"])
    if isinstance(traits.get("companies"), list):
        companies.extend(traits["companies"])
    return companies


def _to_companies(value: Any, label: str, call: Call) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _company_operations(companies: list[Any], call: Call, contact: ContactRef) -> list[Operation]:
    warnings = call.warnings
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
        company_call = Call(
            call.event, company, call.options, warnings, DEFAULT_COMPANY_FIELDS.reserved
        )
        body = company_body(company_id, company_call, DEFAULT_COMPANY_FIELDS)
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


FIELDS = (
    Field(
        "external_id",
        "string",
        "userId, else traits.userId (or traits.user_id)",
        _external_id,
        to_string,
        frozenset(_USER_ID_TRAITS),
    ),
    Field("email", "string", "traits.email", trait("email"), to_string, frozenset({"email"})),
    Field(
        "name",
        "string",
        "traits.name, else traits.firstName + traits.lastName (or first_name, last_name)",
        _full_name,
        to_string,
        frozenset(_NAME_TRAITS),
    ),
    Field("phone", "string", "traits.phone", trait("phone"), to_string, frozenset({"phone"})),
    Field("avatar", "string", "traits.avatar", trait("avatar"), to_string, frozenset({"avatar"})),
    Field(
        "signed_up_at",
        "Unix seconds",
        "traits.signedUpAt (or signed_up_at, createdAt, created_at; ISO-8601 or Unix s/ms)",
        _signed_up_at,
        to_unix_seconds,
        frozenset(SIGNED_UP_TRAITS),
    ),
    Field(
        "last_seen_at",
        "Unix seconds",
        "the event's timestamp, unless context.active is false",
        _last_seen_at,
        to_unix_seconds,
    ),
    Field(
        "unsubscribed_from_emails",
        "boolean",
        "integrations.Intercom.unsubscribed (or unsubscribedFromEmails; also context.Intercom)",
        _unsubscribed,
        to_boolean,
    ),
    Field(
        "custom_attributes",
        "object",
        "the other traits; with collect_context, context.device/os/app; "
        "integrations.Intercom.language_override with language_override_attribute",
        _custom_attributes,
        _to_custom_attributes,
    ),
    Field(
        "companies",
        "companies",
        "traits.company (an object or a name) and traits.companies; each upserted and attached "
        "(remove: true detaches)",
        _companies,
        _to_companies,
        frozenset({"company", "companies"}),
    ),
)
#: Traits a standard field takes or that name the person: never custom attributes.
RESERVED_TRAITS = Fields(FIELDS, {}, IDENTIFIERS).reserved
