"""Data attributes: the standard ones per model, and the rules for custom ones.

The company list is the one in the 2.14 description's `GET /data_attributes` example. The
description has no contact example; the contact list is the 2.14 Contact model's attributes
with the labels Intercom gives them in the workspace.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

Model = Literal["contact", "company"]
MODELS: tuple[Model, ...] = ("contact", "company")

# (full_name, label, description, data_type, api_writable)
_Row = tuple[str, str, str, str, bool]

_COMPANY: tuple[_Row, ...] = (
    ("name", "Company name", "The name of a company", "string", True),
    ("company_id", "Company ID", "A number identifying a company", "string", False),
    (
        "last_request_at",
        "Company last seen",
        "The last day anyone from a company visited your site or app",
        "date",
        False,
    ),
    (
        "remote_created_at",
        "Company created at",
        "The day a company was added to Intercom",
        "date",
        True,
    ),
    ("user_count", "People", "The number of people in a company", "integer", False),
    (
        "session_count",
        "Company web sessions",
        "All visits from anyone in a company to your product's site or app",
        "integer",
        False,
    ),
    (
        "plan.name",
        "Plan",
        "A specific plan or level within your product that companies have signed up to",
        "string",
        False,
    ),
    (
        "monthly_spend",
        "Monthly Spend",
        "The monthly revenue you receive from a company",
        "float",
        True,
    ),
    (
        "size",
        "Company size",
        "The number of people employed in this company, expressed as a single number",
        "integer",
        True,
    ),
    (
        "industry",
        "Company industry",
        "The category or domain this company belongs to e.g. 'ecommerce' or 'SaaS'",
        "string",
        True,
    ),
    (
        "website",
        "Company website",
        "The web address for the company's primary marketing site",
        "string",
        True,
    ),
    ("id", "ID", "The Intercom defined id representing the company", "string", False),
    ("created_at", "Created at", "The time the company was added to Intercom", "date", False),
    ("updated_at", "Updated at", "The last time the company was updated", "date", False),
    ("plan.id", "Plan ID", "The Intercom defined id representing the plan", "string", False),
    ("app_id", "App ID", "The Intercom defined id representing the app", "string", False),
)

_CONTACT: tuple[_Row, ...] = (
    ("id", "ID", "The Intercom defined id representing the contact", "string", False),
    ("external_id", "User ID", "A unique identifier for the contact", "string", True),
    ("role", "Role", "A user (signed up and logged in) or a lead", "string", True),
    ("name", "Name", "A person's full name", "string", True),
    ("email", "Email", "The email address assigned to a user or lead", "string", True),
    ("email_domain", "Email domain", "The domain of the contact's email", "string", False),
    ("phone", "Phone", "A person's phone number", "string", True),
    ("avatar", "Avatar image url", "An avatar image URL", "string", True),
    (
        "owner_id",
        "Owner",
        "The teammate that owns a lead or user in Intercom",
        "integer",
        True,
    ),
    ("created_at", "First Seen", "The first day a person visited your site or app", "date", False),
    ("updated_at", "Updated at", "The last time the contact was updated", "date", False),
    (
        "signed_up_at",
        "Signed up",
        "The day a person first signed up for your product",
        "date",
        True,
    ),
    ("last_seen_at", "Last seen", "The last day a person visited your site or app", "date", True),
    (
        "last_contacted_at",
        "Last contacted",
        "The last time a teammate contacted the person",
        "date",
        False,
    ),
    ("last_replied_at", "Last heard from", "The last time the person replied", "date", False),
    (
        "last_email_opened_at",
        "Last opened email",
        "The last time the person opened an email",
        "date",
        False,
    ),
    (
        "last_email_clicked_at",
        "Last clicked on link in email",
        "The last time the person clicked a link in an email",
        "date",
        False,
    ),
    (
        "unsubscribed_from_emails",
        "Unsubscribed from Emails",
        "Has a person unsubscribed from emails from your team?",
        "boolean",
        True,
    ),
    (
        "marked_email_as_spam",
        "Marked email as spam",
        "Has a person marked an email from your team as spam?",
        "boolean",
        False,
    ),
    (
        "has_hard_bounced",
        "Has hard bounced",
        "Has an email sent from your team to a person bounced?",
        "boolean",
        False,
    ),
    ("language_override", "Language override", "The person's chosen language", "string", False),
    ("browser", "Browser", "The browser the person last used", "string", False),
    (
        "browser_language",
        "Browser Language",
        "The language of the person's browser",
        "string",
        False,
    ),
    ("os", "OS", "The operating system the person last used", "string", False),
    (
        "location.country",
        "Country",
        "The country a person is in (or their IP address location)",
        "string",
        False,
    ),
    (
        "location.region",
        "Region",
        "A subdivision of a country, such as a state, province or territory",
        "string",
        False,
    ),
    (
        "location.city",
        "City",
        "The city a person is in (or their IP address location)",
        "string",
        False,
    ),
)


def _documents(model: Model, rows: tuple[_Row, ...]) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "type": "data_attribute",
            "name": full_name.rpartition(".")[2],
            "full_name": full_name,
            "label": label,
            "description": description,
            "data_type": data_type,
            "api_writable": api_writable,
            "ui_writable": False,
            "messenger_writable": True,
            "custom": False,
            "archived": False,
            "model": model,
        }
        for full_name, label, description, data_type, api_writable in rows
    )


#: The standard (non-custom) data attributes as `GET /data_attributes` lists them.
STANDARD: dict[Model, tuple[dict[str, Any], ...]] = {
    "contact": _documents("contact", _CONTACT),
    "company": _documents("company", _COMPANY),
}

#: What Intercom calls each model's data in its "already have" message.
DATA_WORD: dict[Model, str] = {"contact": "people", "company": "company"}


def standard_names(model: Model) -> frozenset[str]:
    return frozenset(str(document["full_name"]).lower() for document in STANDARD[model])


def valid_name(name: str) -> bool:
    """Alphanumerics, currency symbols and hyphens, as Intercom's message says; spaces and
    underscores too, since Intercom's own examples use them ("The One Ring", "paid_subscriber")."""
    return bool(name.strip()) and all(
        char.isalnum() or char in " _-" or unicodedata.category(char) == "Sc" for char in name
    )


def value_fits(data_type: str, value: object) -> bool:
    """Whether a custom attribute of `data_type` can hold `value`; null always clears it.

    Dates are Unix seconds. An options attribute takes any string: Intercom's check against
    the option list was documented once and withdrawn (Intercom-OpenAPI PR #457, #466).
    """
    if value is None:
        return True
    if isinstance(value, bool):
        return data_type == "boolean"
    if isinstance(value, int):
        return data_type in ("integer", "float", "date", "datetime")
    if isinstance(value, float):
        return data_type == "float"
    if isinstance(value, str):
        return data_type in ("string", "options")
    return False
