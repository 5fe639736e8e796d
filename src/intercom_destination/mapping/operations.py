"""The typed Intercom operations a plan is made of.

Each operation carries the exact JSON body Intercom will receive and the identity it
targets. Ids that only Intercom knows (a contact's or company's Intercom id) are resolved
when the plan is executed; the path templates name them in braces.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

Role = Literal["user", "lead"]
#: What a contact is known by (see `ContactRef.identity`).
ContactKey = Literal["external_id", "email", "anonymous_id"]


class ContactRef(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Who an operation is about, by the identifiers the event carried.

    A user is keyed by `external_id` (the Segment userId) first and by email only without
    one. A lead is keyed by the Segment anonymousId, which the destination remembers next to
    the lead's Intercom id (Intercom does not take an external_id on a lead).
    """

    role: Role
    external_id: str | None = None
    email: str | None = None
    anonymous_id: str | None = None

    @property
    def identity(self) -> tuple[ContactKey, str]:
        """What the contact is known by: its userId, else its email, else its anonymousId."""
        if self.external_id is not None:
            return "external_id", self.external_id
        if self.email is not None:
            return "email", self.email
        if self.anonymous_id is not None:
            return "anonymous_id", self.anonymous_id
        raise ValueError("a contact reference names no identifier")


class UpsertContact(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag="upsert_contact"
):
    """Create the contact (`POST /contacts`) or update it (`PUT /contacts/{contact_id}`)."""

    method: ClassVar[str] = "POST"
    path: ClassVar[str] = "/contacts"
    update_path: ClassVar[str] = "/contacts/{contact_id}"
    contact: ContactRef
    body: dict[str, Any]
    #: The bodies of later events' upserts of the contact that go with this one's call, in
    #: order (`mapping.coalesce`).
    folded: tuple[dict[str, Any], ...] = ()


class CreateEvent(msgspec.Struct, frozen=True, kw_only=True, tag="create_event"):
    """`POST /events`; the body names the contact by user_id or email (or by id, for leads)."""

    method: ClassVar[str] = "POST"
    path: ClassVar[str] = "/events"
    contact: ContactRef
    body: dict[str, Any]


class TimedBody(msgspec.Struct, frozen=True, kw_only=True):
    """An upsert's body, and the time (Unix seconds) of the event it comes from."""

    at: float
    body: dict[str, Any]


class UpsertCompany(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag="upsert_company"
):
    """`POST /companies`: Intercom creates or updates the company by its company_id."""

    method: ClassVar[str] = "POST"
    path: ClassVar[str] = "/companies"
    company_id: str
    body: dict[str, Any]
    #: Later events' upserts of the company that go with this one's call, in order, each
    #: with its event's time, which orders a company's writes (`mapping.coalesce`).
    folded: tuple[TimedBody, ...] = ()


class AttachCompany(msgspec.Struct, frozen=True, kw_only=True, tag="attach_company"):
    """`POST /contacts/{contact_id}/companies` with `{"id": <the company's Intercom id>}`."""

    method: ClassVar[str] = "POST"
    path: ClassVar[str] = "/contacts/{contact_id}/companies"
    contact: ContactRef
    company_id: str


class DetachCompany(msgspec.Struct, frozen=True, kw_only=True, tag="detach_company"):
    """`DELETE /contacts/{contact_id}/companies/{id}`: the user left the company."""

    method: ClassVar[str] = "DELETE"
    path: ClassVar[str] = "/contacts/{contact_id}/companies/{id}"
    contact: ContactRef
    company_id: str


Operation = UpsertContact | CreateEvent | UpsertCompany | AttachCompany | DetachCompany


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What an event becomes: operations to run in order, and what was changed on the way."""

    operations: tuple[Operation, ...]
    warnings: tuple[str, ...] = ()


class Skip(msgspec.Struct, frozen=True, kw_only=True):
    """An event that sends nothing to Intercom, and why."""

    reason: str
    warnings: tuple[str, ...] = ()


def describe(operation: Operation) -> dict[str, Any]:
    """An operation as a JSON-ready document: what it is, its request, and its body."""
    fields = msgspec.to_builtins(operation)
    document = {"op": fields.pop("type"), "method": operation.method, "path": operation.path}
    document.update(fields)
    if isinstance(operation, AttachCompany):
        document["body"] = {"id": "{id of company " + operation.company_id + "}"}
    return document
