"""Which contact a track, page, screen or group event is about."""

from __future__ import annotations

from typing import Any

from intercom_destination.mapping.operations import ContactRef
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec import Event

#: Stands for the contact's Intercom id in a body until the executor knows it.
CONTACT_ID = "{contact_id}"


def event_contact(event: Event, email: str | None, options: MappingOptions) -> ContactRef | str:
    """The contact by userId, else by email, else by the `anonymous` policy.

    Returns the reason to skip when the policy says so.
    """
    if event.user_id is not None:
        return ContactRef(role="user", external_id=event.user_id, email=email)
    if email is not None:
        return ContactRef(role="user", email=email)
    match options.anonymous:
        case "skip":
            return (
                f"{event.type} without userId or email: Intercom cannot tell whose it is, "
                'and anonymous events are skipped (anonymous = "wait" or "lead" keeps them)'
            )
        case "lead":
            return ContactRef(role="lead", anonymous_id=event.anonymous_id)
        case _:
            # A user not known yet: delivered once an identify links the anonymousId.
            return ContactRef(role="user", anonymous_id=event.anonymous_id)


def context_email(event: Event) -> str | None:
    traits = event.context.get("traits")
    return _email(traits.get("email")) if isinstance(traits, dict) else None


def identity_fields(contact: ContactRef) -> dict[str, Any]:
    """How a data event names its contact: user_id, else email, else the Intercom id (a
    lead's, or a visitor's user's: `CONTACT_ID` until the executor knows which)."""
    kind, key = contact.identity
    if kind == "external_id":
        return {"user_id": key}
    if kind == "email":
        return {"email": key}
    return {"id": CONTACT_ID}


def _email(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def property_email(properties: dict[str, Any]) -> str | None:
    return _email(properties.get("email"))
