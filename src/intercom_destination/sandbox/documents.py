"""The JSON documents the sandbox answers with, shaped like the 2.14 examples."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from intercom_destination.sandbox.attributes import STANDARD, Model
from intercom_destination.sandbox.records import Company, Contact, DataAttribute
from intercom_destination.sandbox.state import Page, Workspace

ADMIN_ID = "991267459"
#: When the sandbox's app was "created"; /me reports it.
_APP_CREATED_AT = 1_734_537_243

# Contact fields Intercom fills from the Messenger, email delivery and devices; the sandbox
# never learns them, so they are always null.
_UNTRACKED = (
    "last_replied_at",
    "last_contacted_at",
    "last_email_opened_at",
    "last_email_clicked_at",
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "android_app_name",
    "android_app_version",
    "android_device",
    "android_os_version",
    "android_sdk_version",
    "android_last_seen_at",
    "ios_app_name",
    "ios_app_version",
    "ios_device",
    "ios_os_version",
    "ios_sdk_version",
    "ios_last_seen_at",
)


def me(workspace: Workspace) -> dict[str, Any]:
    return {
        "type": "admin",
        "id": ADMIN_ID,
        "email": "sandbox@intercom-destination.invalid",
        "name": "Sandbox Admin",
        "email_verified": True,
        "app": {
            "type": "app",
            "id_code": workspace.app_id,
            "name": "intercom-destination sandbox",
            "created_at": _APP_CREATED_AT,
            "secure": False,
            "identity_verification": False,
            "timezone": "UTC",
            "region": "US",
        },
        "avatar": {"type": "avatar", "image_url": None},
        "has_inbox_seat": True,
    }


def contact(workspace: Workspace, found: Contact) -> dict[str, Any]:
    url = f"/contacts/{found.id}"
    document: dict[str, Any] = {
        "type": "contact",
        "id": found.id,
        "workspace_id": workspace.app_id,
        "external_id": found.external_id,
        "role": found.role,
        "email": found.email,
        "email_domain": found.email.rpartition("@")[2] if found.email else None,
        "phone": found.phone,
        "name": found.name,
        "avatar": found.avatar,
        "owner_id": found.owner_id,
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": bool(found.unsubscribed_from_emails),
        "created_at": found.created_at,
        "updated_at": found.updated_at,
        "signed_up_at": found.signed_up_at,
        "last_seen_at": found.last_seen_at,
    }
    document.update(dict.fromkeys(_UNTRACKED))
    document |= {
        "location": {
            "type": "location",
            "country": None,
            "region": None,
            "city": None,
            "country_code": None,
            "continent_code": None,
        },
        "custom_attributes": dict(found.custom_attributes),
        "tags": _addressable([], f"{url}/tags"),
        "notes": _addressable([], f"{url}/notes"),
        "companies": _addressable(
            [
                {"type": "company", "id": company_id, "url": f"/companies/{company_id}"}
                for company_id in found.company_ids
            ],
            f"{url}/companies",
        ),
        "opted_out_subscription_types": _addressable([], f"{url}/subscriptions"),
        "opted_in_subscription_types": _addressable([], f"{url}/subscriptions"),
        "enabled_push_messaging": None,
    }
    return document


def contact_reference(found: Contact, **flags: bool) -> dict[str, Any]:
    """What archive, unarchive and delete answer: `{type, id, external_id, <flag>}`."""
    return {"type": "contact", "id": found.id, "external_id": found.external_id, **flags}


def contact_page(workspace: Workspace, page: Page) -> dict[str, Any]:
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page.page,
        "per_page": page.per_page,
        "total_pages": page.total_pages,
    }
    if page.next is not None:
        pages["next"] = {"per_page": page.per_page, "starting_after": page.next}
    return {
        "type": "list",
        "data": [contact(workspace, found) for found in page.contacts],
        "total_count": page.total_count,
        "pages": pages,
    }


def company(workspace: Workspace, found: Company) -> dict[str, Any]:
    plan = (
        {"type": "plan", "id": workspace.plan_id(found.plan), "name": found.plan}
        if found.plan is not None
        else {}
    )
    return {
        "type": "company",
        "company_id": found.company_id,
        "id": found.id,
        "app_id": workspace.app_id,
        "name": found.name,
        "remote_created_at": found.remote_created_at,
        "created_at": found.created_at,
        "updated_at": found.updated_at,
        "monthly_spend": found.monthly_spend,
        "session_count": 0,
        "user_count": found.user_count,
        "size": found.size,
        "website": found.website,
        "industry": found.industry,
        "tags": {"type": "tag.list", "tags": []},
        "segments": {"type": "segment.list", "segments": []},
        "plan": plan,
        "custom_attributes": dict(found.custom_attributes),
    }


def company_list(workspace: Workspace, companies: list[Company]) -> dict[str, Any]:
    """Companies in one page holding them all. Intercom's example of a contact's companies
    names the array `data`, as here; the 2.14 schema says `companies`."""
    pages = {"type": "pages", "next": None, "page": 1, "per_page": max(50, len(companies))}
    return {
        "type": "list",
        "data": [company(workspace, found) for found in companies],
        "pages": pages | {"total_pages": 1},
        "total_count": len(companies),
    }


def data_attribute(attribute: DataAttribute) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": attribute.id,
        "type": "data_attribute",
        "name": attribute.name,
        "full_name": f"custom_attributes.{attribute.name}",
        "label": attribute.name,
        "description": attribute.description,
        "data_type": attribute.data_type,
        "api_writable": True,
        "ui_writable": False,
        "messenger_writable": attribute.messenger_writable,
        "custom": True,
        "archived": False,
        "admin_id": ADMIN_ID,
        "created_at": attribute.created_at,
        "updated_at": attribute.created_at,
        "model": attribute.model,
    }
    if attribute.options is not None:
        document["options"] = list(attribute.options)
    return document


def data_attribute_list(workspace: Workspace, models: Iterable[Model]) -> dict[str, Any]:
    """The standard then the custom attributes of each model, unpaginated."""
    data: list[dict[str, Any]] = []
    for model in models:
        data.extend(STANDARD[model])
        data.extend(data_attribute(a) for a in workspace.custom_attributes(model))
    return {"type": "list", "data": data}


def _addressable(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"type": "list", "data": data, "url": url, "total_count": len(data), "has_more": False}
