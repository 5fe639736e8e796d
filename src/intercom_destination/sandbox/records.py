"""What a sandbox workspace stores, as saved to a state file and shown by `/_sandbox/state`."""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from intercom_destination.sandbox.attributes import Model


class Limits(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The workspace's limits, which a test may change while the sandbox runs."""

    #: Seconds before a new contact shows up in search.
    search_lag: float = 0.0
    #: Active event names.
    event_names: int = 120
    #: Custom data attributes, both models together.
    custom_attributes: int = 250


class Contact(msgspec.Struct, kw_only=True):
    id: str
    #: Creation order; search results are sorted by it and cursors point into it.
    seq: int
    #: Exact creation time (Unix seconds); search lag counts from it.
    created: float
    created_at: int
    updated_at: int
    role: str = "user"
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    avatar: str | None = None
    signed_up_at: int | None = None
    last_seen_at: int | None = None
    owner_id: int | None = None
    unsubscribed_from_emails: bool | None = None
    custom_attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    archived: bool = False
    #: Intercom ids of the attached companies, in attach order.
    company_ids: list[str] = msgspec.field(default_factory=list)


class Company(msgspec.Struct, kw_only=True):
    id: str
    company_id: str
    created_at: int
    updated_at: int
    name: str | None = None
    plan: str | None = None
    size: int | None = None
    website: str | None = None
    industry: str | None = None
    remote_created_at: int | None = None
    monthly_spend: int = 0
    custom_attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    user_count: int = 0


class Event(msgspec.Struct, kw_only=True):
    contact_id: str
    event_name: str
    created_at: int
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class DataAttribute(msgspec.Struct, kw_only=True):
    id: int
    model: Model
    name: str
    data_type: str
    created_at: int
    description: str | None = None
    options: list[str] | None = None
    messenger_writable: bool = False


def new_app_id() -> str:
    """An app id like Intercom's `id_code`: a new one for every new workspace, so that a
    destination can tell that its cache of another one no longer applies."""
    return secrets.token_hex(4)


class WorkspaceData(msgspec.Struct, kw_only=True):
    """Everything the workspace holds, as saved to a state file and shown to tests."""

    #: What `GET /me` answers as the app's `id_code`.
    app_id: str = msgspec.field(default_factory=new_app_id)
    contacts: list[Contact] = msgspec.field(default_factory=list)
    companies: list[Company] = msgspec.field(default_factory=list)
    events: list[Event] = msgspec.field(default_factory=list)
    data_attributes: list[DataAttribute] = msgspec.field(default_factory=list)
    #: Plan name to its Intercom id.
    plans: dict[str, str] = msgspec.field(default_factory=dict)
