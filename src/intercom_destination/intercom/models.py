"""The parts of Intercom's objects the delivery engine uses.

Decoded leniently: fields Intercom adds are ignored, and fields it leaves out take a default,
so a new API version or a sparse response (archive, delete) still decodes.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

#: The data types `POST /data_attributes` accepts without a list of options.
DataType = Literal["string", "integer", "float", "boolean", "datetime", "date"]
Model = Literal["contact", "company"]
#: Custom data attributes a workspace may have, both models and archived ones included;
#: attributes cannot be deleted.
MAX_CUSTOM_ATTRIBUTES = 250


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    external_id: str | None = None
    email: str | None = None
    #: "user" or "lead".
    role: str | None = None
    archived: bool = False
    custom_attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class Company(msgspec.Struct, frozen=True, kw_only=True):
    #: Intercom's id, the one attach and detach take.
    id: str
    #: Ours (the Segment groupId).
    company_id: str | None = None
    name: str | None = None


class DataAttribute(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    data_type: str | None = None
    model: str | None = None
    custom: bool = False
    archived: bool = False
    #: Unknown means not writable: the engine must not write what it cannot confirm.
    api_writable: bool = False


class App(msgspec.Struct, frozen=True, kw_only=True):
    """The workspace a token belongs to."""

    id_code: str | None = None
    name: str | None = None
    #: As Intercom spells it, e.g. "US".
    region: str | None = None
    timezone: str | None = None


class Admin(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /me`: whose token this is, and for which workspace."""

    email: str | None = None
    name: str | None = None
    app: App | None = None


class ContactPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of `POST /contacts/search`; `next_cursor` is None on the last page."""

    contacts: tuple[Contact, ...]
    total_count: int | None = None
    next_cursor: str | None = None
