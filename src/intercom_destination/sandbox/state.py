"""The workspace the sandbox emulates: contacts, companies, events and data attributes, and
Intercom's rules for them.

Bodies arrive already validated against the 2.14 request schema; what is checked here is what
depends on the workspace. Where Intercom does not document its behaviour, the sandbox chose:

- Contacts: `role` defaults to `user`; a user needs an `external_id` or an `email`. Creating a
  user answers 409 when a user with the same `external_id` exists, or, for a user created
  without `external_id`, when a user with the same email exists (so several users with
  different external ids may share an email, as in Intercom). An update that gives a user
  another user's `external_id` answers the same 409. Leads may carry an `external_id`, which
  is neither unique nor found by `find_by_external_id`.
- Emails identify contacts case-insensitively (409s, events by email); search compares
  exactly.
- An archived contact is invisible (404 to reads, updates and events, absent from search)
  but still takes part in 409s; unarchiving brings it back.
- `find_by_external_id` and events see a new contact at once; only search lags.
- `POST /companies` needs a `company_id`; `monthly_spend` is truncated to an integer and
  must be at most 2**31-1. Detaching a company that is not attached succeeds.
- Data attribute names are unique across both models and the model's standard attributes,
  ignoring case; writes name attributes exactly. The 250 custom attributes are counted across
  both models; the 251st answers 422. A value must suit its attribute's type (dates are Unix
  seconds; any string fits an options attribute); null clears any attribute.
- Event names are case-insensitive, `.` and `$` become `-`; a new name past the limit
  answers 422 with the body Intercom's Messenger gives. An event names its contact by `id`
  (user or lead), else `user_id`, else `email` (the earliest user with it).
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from intercom_destination.sandbox.attributes import (
    DATA_WORD,
    MODELS,
    Model,
    standard_names,
    valid_name,
    value_fits,
)
from intercom_destination.sandbox.clock import Clock
from intercom_destination.sandbox.errors import (
    ApiError,
    ErrorItem,
    company_not_found,
    invalid,
    user_not_found,
)
from intercom_destination.sandbox.records import (
    Company,
    Contact,
    DataAttribute,
    Event,
    Limits,
    WorkspaceData,
)
from intercom_destination.sandbox.search import compile_query

#: Intercom keeps the first 10 metadata keys of an event and ignores the rest.
METADATA_KEYS = 10
#: A contact can be attached to at most this many companies.
COMPANIES_PER_CONTACT = 1000
MAX_MONTHLY_SPEND = 2**31 - 1
MAX_PER_PAGE = 150
DEFAULT_PER_PAGE = 50

CONTACT_FIELDS = (
    "role",
    "external_id",
    "email",
    "phone",
    "name",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "owner_id",
    "unsubscribed_from_emails",
)
COMPANY_FIELDS = (
    "name",
    "plan",
    "size",
    "website",
    "industry",
    "remote_created_at",
    "monthly_spend",
)


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """One page of search results."""

    contacts: list[Contact]
    total_count: int
    page: int
    per_page: int
    total_pages: int
    #: The cursor for the next page, when there is one.
    next: str | None


def new_id(now: float) -> str:
    """24 hex digits like Intercom's ids: a timestamp, then random bits, so an id from before
    a reset never names a new object."""
    return f"{int(now) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def conflict(contact: Contact) -> ApiError:
    """The 409 naming an existing contact, in its archived variant when it is archived."""
    article = "An archived contact" if contact.archived else "A contact"
    message = f"{article} matching those details already exists with id={contact.id}"
    return ApiError.of(409, "conflict", message)


class Workspace:
    """One Intercom workspace in memory. Methods raise `ApiError` where Intercom answers an
    error."""

    def __init__(
        self,
        clock: Clock,
        limits: Limits,
        data: WorkspaceData | None = None,
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.load(data or WorkspaceData())

    # -- state ------------------------------------------------------------------------------

    def load(self, data: WorkspaceData) -> None:
        """Replace everything with `data` and rebuild the indexes."""
        self.app_id = data.app_id
        self._contacts = {contact.id: contact for contact in data.contacts}
        self._companies = {company.id: company for company in data.companies}
        self._events = list(data.events)
        self._attributes = list(data.data_attributes)
        self._plans = dict(data.plans)
        self._users_by_external_id = {
            c.external_id: c.id for c in data.contacts if c.role == "user" and c.external_id
        }
        self._companies_by_company_id = {c.company_id: c.id for c in data.companies}
        #: Active event names, case folded.
        self._event_names: set[str] = set()
        self._event_keys: set[tuple[str, str, int]] = set()
        for event in self._events:
            self._remember_event(event)
        self._next_seq = max((c.seq for c in data.contacts), default=0) + 1
        self._next_attribute_id = max((a.id for a in self._attributes), default=0) + 1

    def snapshot(self) -> WorkspaceData:
        return WorkspaceData(
            app_id=self.app_id,
            contacts=list(self._contacts.values()),
            companies=list(self._companies.values()),
            events=list(self._events),
            data_attributes=list(self._attributes),
            plans=dict(self._plans),
        )

    def _now(self) -> tuple[float, int]:
        now = self.clock.now()
        return now, int(now)

    # -- contacts ---------------------------------------------------------------------------

    def create_contact(self, body: Mapping[str, Any]) -> Contact:
        role = _role(body.get("role", "user"))
        if role == "user":
            if not body.get("external_id") and not body.get("email"):
                raise invalid("A user needs an email or an external_id")
            existing = self._conflicting_user(body.get("external_id"), body.get("email"))
            if existing is not None:
                raise conflict(existing)
        self._check_custom("contact", body.get("custom_attributes"))
        now, stamp = self._now()
        contact = Contact(
            id=new_id(now),
            seq=self._next_seq,
            created=now,
            created_at=stamp,
            updated_at=stamp,
        )
        self._next_seq += 1
        _assign(contact, body, CONTACT_FIELDS)
        contact.role = role
        self._contacts[contact.id] = contact
        self._index(contact)
        return contact

    def update_contact(self, contact_id: str, body: Mapping[str, Any]) -> Contact:
        contact = self.contact(contact_id)
        role = _role(body.get("role", contact.role))
        external_id = body.get("external_id", contact.external_id)
        if role == "user" and external_id:
            other = self._users_by_external_id.get(external_id)
            if other is not None and other != contact.id:
                raise conflict(self._contacts[other])
        self._check_custom("contact", body.get("custom_attributes"))
        self._unindex(contact)
        _assign(contact, body, CONTACT_FIELDS)
        contact.updated_at = self._now()[1]
        self._index(contact)
        return contact

    def contact(self, contact_id: str) -> Contact:
        """A visible (not archived) contact, or 404."""
        contact = self._contacts.get(contact_id)
        if contact is None or contact.archived:
            raise user_not_found()
        return contact

    def delete_contact(self, contact_id: str) -> Contact:
        contact = self._contacts.pop(contact_id, None)
        if contact is None:
            raise user_not_found()
        self._unindex(contact)
        for company_id in contact.company_ids:
            self._companies[company_id].user_count -= 1
        return contact

    def set_archived(self, contact_id: str, archived: bool) -> Contact:
        contact = self._contacts.get(contact_id)
        if contact is None:
            raise user_not_found()
        contact.archived = archived
        return contact

    def find_by_external_id(self, external_id: str) -> Contact:
        found = self._users_by_external_id.get(external_id)
        if found is None:
            raise user_not_found()
        return self.contact(found)

    def search_contacts(
        self, query: Mapping[str, Any], per_page: int | None, starting_after: str | None
    ) -> Page:
        size = DEFAULT_PER_PAGE if per_page is None else per_page
        if not 1 <= size <= MAX_PER_PAGE:
            raise invalid(f"per_page must be between 1 and {MAX_PER_PAGE}", "pagination.per_page")
        predicate = compile_query(query, self._custom_types("contact"))
        indexed_before = self.clock.now() - self.limits.search_lag
        # Contacts are kept in creation order, the order of results and of cursors.
        found = [
            contact
            for contact in self._contacts.values()
            if not contact.archived
            and contact.created <= indexed_before
            and predicate(_searchable(contact))
        ]
        start = 0
        if starting_after:
            after = _decode_cursor(starting_after)
            start = next((i for i, c in enumerate(found) if c.seq > after), len(found))
        page = found[start : start + size]
        more = start + size < len(found)
        return Page(
            contacts=page,
            total_count=len(found),
            page=start // size + 1,
            per_page=size,
            total_pages=math.ceil(len(found) / size),
            next=_encode_cursor(page[-1].seq) if more else None,
        )

    def _conflicting_user(self, external_id: str | None, email: str | None) -> Contact | None:
        if external_id:
            found = self._users_by_external_id.get(external_id)
            return None if found is None else self._contacts[found]
        if email:
            return next(self._users_with_email(email, archived=True), None)
        return None

    def _users_with_email(self, email: str, *, archived: bool) -> Iterator[Contact]:
        folded = email.casefold()
        return (
            contact
            for contact in self._contacts.values()
            if contact.role == "user"
            and contact.email is not None
            and contact.email.casefold() == folded
            and (archived or not contact.archived)
        )

    def _index(self, contact: Contact) -> None:
        if contact.role == "user" and contact.external_id:
            self._users_by_external_id[contact.external_id] = contact.id

    def _unindex(self, contact: Contact) -> None:
        external_id = contact.external_id
        if external_id and self._users_by_external_id.get(external_id) == contact.id:
            del self._users_by_external_id[external_id]

    # -- companies --------------------------------------------------------------------------

    def upsert_company(self, body: Mapping[str, Any]) -> Company:
        company_id = body.get("company_id")
        if not company_id:
            raise ApiError.of(400, "parameter_not_found", "company_id not specified")
        spend = body.get("monthly_spend")
        if spend is not None and abs(spend) > MAX_MONTHLY_SPEND:
            raise invalid(f"monthly_spend must be at most {MAX_MONTHLY_SPEND}", "monthly_spend")
        self._check_custom("company", body.get("custom_attributes"))
        now, stamp = self._now()
        found = self._companies_by_company_id.get(company_id)
        if found is None:
            company = Company(
                id=new_id(now),
                company_id=company_id,
                created_at=stamp,
                updated_at=stamp,
            )
            self._companies[company.id] = company
            self._companies_by_company_id[company_id] = company.id
        else:
            company = self._companies[found]
            company.updated_at = stamp
        _assign(company, body, COMPANY_FIELDS)
        if spend is not None:
            company.monthly_spend = math.trunc(spend)
        if company.plan is not None:
            self._plans.setdefault(company.plan, str(len(self._plans) + 1))
        return company

    def company_by_company_id(self, company_id: str) -> Company:
        found = self._companies_by_company_id.get(company_id)
        if found is None:
            raise company_not_found()
        return self._companies[found]

    def delete_company(self, company_id: str) -> Company:
        """As an admin deleting it in Intercom's UI: its users leave it."""
        company = self._company(company_id)
        del self._companies[company.id]
        del self._companies_by_company_id[company.company_id]
        for contact in self._contacts.values():
            if company.id in contact.company_ids:
                contact.company_ids.remove(company.id)
        return company

    def plan_id(self, plan: str) -> str:
        return self._plans[plan]

    def companies(self) -> Iterator[Company]:
        return iter(self._companies.values())

    def contact_companies(self, contact_id: str) -> list[Company]:
        return [self._companies[found] for found in self.contact(contact_id).company_ids]

    def attach(self, contact_id: str, company_id: str) -> Company:
        contact = self.contact(contact_id)
        company = self._company(company_id)
        if company.id not in contact.company_ids:
            if len(contact.company_ids) >= COMPANIES_PER_CONTACT:
                raise ApiError.of(
                    400,
                    "contact_company_limit_exceeded",
                    f"Contact has reached the maximum of {COMPANIES_PER_CONTACT} company "
                    "associations",
                )
            contact.company_ids.append(company.id)
            company.user_count += 1
        return company

    def detach(self, contact_id: str, company_id: str) -> Company:
        contact = self.contact(contact_id)
        company = self._company(company_id)
        if company.id in contact.company_ids:
            contact.company_ids.remove(company.id)
            company.user_count -= 1
        return company

    def _company(self, company_id: str) -> Company:
        company = self._companies.get(company_id)
        if company is None:
            raise company_not_found()
        return company

    # -- events -----------------------------------------------------------------------------

    def create_event(self, body: Mapping[str, Any]) -> bool:
        """Records an event; False when it duplicates one already recorded (still a 202)."""
        contact = self._event_contact(body)
        name = body["event_name"].replace(".", "-").replace("$", "-")
        key = name.lower()
        limit = self.limits.event_names
        if key not in self._event_names and len(self._event_names) >= limit:
            raise ApiError.of(422, "422", f"Cannot have more than {limit} active event names")
        created_at = body["created_at"]
        if (contact.id, key, created_at) in self._event_keys:
            return False
        metadata = dict(list((body.get("metadata") or {}).items())[:METADATA_KEYS])
        event = Event(
            contact_id=contact.id, event_name=name, created_at=created_at, metadata=metadata
        )
        self._events.append(event)
        self._remember_event(event)
        return True

    def _event_contact(self, body: Mapping[str, Any]) -> Contact:
        if "id" in body:
            return self.contact(body["id"])
        if "user_id" in body:
            return self.find_by_external_id(body["user_id"])
        found = next(self._users_with_email(body["email"], archived=False), None)
        if found is None:
            raise user_not_found()
        return found

    def _remember_event(self, event: Event) -> None:
        key = event.event_name.lower()
        self._event_names.add(key)
        self._event_keys.add((event.contact_id, key, event.created_at))

    # -- data attributes --------------------------------------------------------------------

    def custom_attributes(self, model: Model) -> list[DataAttribute]:
        return [attribute for attribute in self._attributes if attribute.model == model]

    def create_data_attribute(self, body: Mapping[str, Any]) -> DataAttribute:
        name: str = body["name"]
        model: Model = body["model"]
        if not valid_name(name):
            raise invalid(
                "Your name for this attribute must only contain alphanumeric characters, "
                "currency symbols, and hyphens",
                "name",
            )
        taken = self._taken_by(name, model)
        if taken is not None:
            raise invalid(
                f"You already have '{name}' in your {DATA_WORD[taken]} data. To save this as "
                f"new {DATA_WORD[model]} data, use a different name.",
                "name",
            )
        options = [option["value"] for option in body.get("options") or ()]
        if body["data_type"] == "options" and len(options) < 2:
            raise invalid("At least two options are required", "options")
        limit = self.limits.custom_attributes
        if len(self._attributes) >= limit:
            raise ApiError.of(
                422,
                "unprocessable_entity",
                f"You have reached the limit of {limit} custom data attributes",
            )
        attribute = DataAttribute(
            id=self._next_attribute_id,
            model=model,
            name=name,
            data_type=body["data_type"],
            created_at=self._now()[1],
            description=body.get("description"),
            options=options or None,
            messenger_writable=body.get("messenger_writable", False),
        )
        self._next_attribute_id += 1
        self._attributes.append(attribute)
        return attribute

    def _taken_by(self, name: str, model: Model) -> Model | None:
        folded = name.lower()
        if folded in standard_names(model):
            return model
        for other in (model, *(m for m in MODELS if m != model)):
            if any(a.name.lower() == folded for a in self.custom_attributes(other)):
                return other
        return None

    def _custom_types(self, model: Model) -> dict[str, str]:
        return {attribute.name: attribute.data_type for attribute in self.custom_attributes(model)}

    def _check_custom(self, model: Model, values: Mapping[str, Any] | None) -> None:
        """A write may only name custom attributes that exist, with values of their type."""
        if not values:
            return
        types = self._custom_types(model)
        errors = []
        for name, value in values.items():
            data_type = types.get(name)
            if data_type is None:
                message = f"Custom attribute '{name}' does not exist"
                errors.append(ErrorItem("parameter_invalid", message))
            elif not value_fits(data_type, value):
                message = f"Custom attribute '{name}' is of type {data_type}; got {value!r}"
                errors.append(ErrorItem("parameter_invalid", message))
        if errors:
            raise ApiError(400, *errors)


def _role(role: str) -> str:
    if role not in ("user", "lead"):
        raise invalid(f"role must be either user or lead, not {role!r}", "role")
    return role


def _assign(target: Contact | Company, body: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    for field in fields:
        if field in body:
            setattr(target, field, body[field])
    custom = body.get("custom_attributes")
    if custom:
        target.custom_attributes.update(custom)


def _searchable(contact: Contact) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": contact.id,
        "role": contact.role,
        "name": contact.name,
        "avatar": contact.avatar,
        "owner_id": contact.owner_id,
        "email": contact.email,
        "email_domain": contact.email.rpartition("@")[2] if contact.email else None,
        "phone": contact.phone,
        "external_id": contact.external_id,
        "created_at": contact.created_at,
        "signed_up_at": contact.signed_up_at,
        "updated_at": contact.updated_at,
        "last_seen_at": contact.last_seen_at,
        "unsubscribed_from_emails": bool(contact.unsubscribed_from_emails),
        "marked_email_as_spam": False,
        "has_hard_bounced": False,
    }
    row.update((f"custom_attributes.{k}", v) for k, v in contact.custom_attributes.items())
    return row


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, seq = text.partition(":")
        if prefix == "after":
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    message = "starting_after is not a cursor this search returned"
    raise invalid(message, "pagination.starting_after")
