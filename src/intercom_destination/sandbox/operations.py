"""The Intercom operations the sandbox serves: each turns a validated request into an answer.

Templates name their parameters as the 2.14 description does, so `"PUT /contacts/{contact_id}"`
is both the route and the endpoint's name in the call counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from intercom_destination.sandbox import documents
from intercom_destination.sandbox.attributes import MODELS, Model
from intercom_destination.sandbox.runtime import Sandbox
from intercom_destination.sandbox.state import conflict


@dataclass(frozen=True)
class Incoming:
    """A request that passed auth, the rate limit and schema validation."""

    params: Mapping[str, str]
    query: Mapping[str, str]
    #: The decoded JSON body; `{}` when an operation that takes one got none.
    body: Any


#: The status and the JSON document to answer with (None: an empty body).
Reply = tuple[int, Any]
Handler = Callable[[Sandbox, Incoming], Reply]


def me(sandbox: Sandbox, request: Incoming) -> Reply:
    return 200, documents.me(sandbox.workspace)


def create_contact(sandbox: Sandbox, request: Incoming) -> Reply:
    workspace = sandbox.workspace
    contact = workspace.create_contact(request.body)
    if sandbox.faults.take_conflict():
        # A concurrent request created the same contact first: it exists, and this one loses.
        workspace.set_archived(contact.id, sandbox.faults.faults.conflicts_archived)
        raise conflict(contact)
    return 200, documents.contact(sandbox.workspace, contact)


def get_contact(sandbox: Sandbox, request: Incoming) -> Reply:
    workspace = sandbox.workspace
    return 200, documents.contact(workspace, workspace.contact(request.params["contact_id"]))


def update_contact(sandbox: Sandbox, request: Incoming) -> Reply:
    contact = sandbox.workspace.update_contact(request.params["contact_id"], request.body)
    return 200, documents.contact(sandbox.workspace, contact)


def delete_contact(sandbox: Sandbox, request: Incoming) -> Reply:
    contact = sandbox.workspace.delete_contact(request.params["contact_id"])
    return 200, documents.contact_reference(contact, deleted=True)


def find_by_external_id(sandbox: Sandbox, request: Incoming) -> Reply:
    contact = sandbox.workspace.find_by_external_id(request.params["external_id"])
    return 200, documents.contact(sandbox.workspace, contact)


def search_contacts(sandbox: Sandbox, request: Incoming) -> Reply:
    pagination = request.body.get("pagination") or {}
    page = sandbox.workspace.search_contacts(
        request.body["query"], pagination.get("per_page"), pagination.get("starting_after")
    )
    return 200, documents.contact_page(sandbox.workspace, page)


def archive_contact(sandbox: Sandbox, request: Incoming) -> Reply:
    contact = sandbox.workspace.set_archived(request.params["contact_id"], True)
    return 200, documents.contact_reference(contact, archived=True)


def unarchive_contact(sandbox: Sandbox, request: Incoming) -> Reply:
    contact = sandbox.workspace.set_archived(request.params["contact_id"], False)
    return 200, documents.contact_reference(contact, archived=False)


def contact_companies(sandbox: Sandbox, request: Incoming) -> Reply:
    workspace = sandbox.workspace
    companies = workspace.contact_companies(request.params["contact_id"])
    return 200, documents.company_list(workspace, companies)


def attach_company(sandbox: Sandbox, request: Incoming) -> Reply:
    workspace = sandbox.workspace
    company = workspace.attach(request.params["contact_id"], request.body["id"])
    return 200, documents.company(workspace, company)


def detach_company(sandbox: Sandbox, request: Incoming) -> Reply:
    workspace = sandbox.workspace
    company = workspace.detach(request.params["contact_id"], request.params["company_id"])
    return 200, documents.company(workspace, company)


def upsert_company(sandbox: Sandbox, request: Incoming) -> Reply:
    workspace = sandbox.workspace
    return 200, documents.company(workspace, workspace.upsert_company(request.body))


def retrieve_companies(sandbox: Sandbox, request: Incoming) -> Reply:
    """By `company_id`: the company itself (Intercom's SDKs type this answer as a company or a
    list; the description's example is a list). Otherwise every company, filtered by name."""
    workspace = sandbox.workspace
    company_id = request.query.get("company_id")
    if company_id is not None:
        return 200, documents.company(workspace, workspace.company_by_company_id(company_id))
    name = request.query.get("name")
    companies = [c for c in workspace.companies() if name is None or c.name == name]
    return 200, documents.company_list(workspace, companies)


def create_event(sandbox: Sandbox, request: Incoming) -> Reply:
    sandbox.workspace.create_event(request.body)
    return 202, None


def list_data_attributes(sandbox: Sandbox, request: Incoming) -> Reply:
    model = request.query.get("model")
    # Conversation attributes exist in Intercom but not in the sandbox: none are listed.
    models: tuple[Model, ...] = MODELS if model is None else tuple(m for m in MODELS if m == model)
    return 200, documents.data_attribute_list(sandbox.workspace, models)


def create_data_attribute(sandbox: Sandbox, request: Incoming) -> Reply:
    return 200, documents.data_attribute(sandbox.workspace.create_data_attribute(request.body))


#: (method, path template, handler), a literal segment before a parameter at the same place.
OPERATIONS: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/me", me),
    ("POST", "/contacts", create_contact),
    ("POST", "/contacts/search", search_contacts),
    ("GET", "/contacts/find_by_external_id/{external_id}", find_by_external_id),
    ("GET", "/contacts/{contact_id}", get_contact),
    ("PUT", "/contacts/{contact_id}", update_contact),
    ("DELETE", "/contacts/{contact_id}", delete_contact),
    ("POST", "/contacts/{contact_id}/archive", archive_contact),
    ("POST", "/contacts/{contact_id}/unarchive", unarchive_contact),
    ("GET", "/contacts/{contact_id}/companies", contact_companies),
    ("POST", "/contacts/{contact_id}/companies", attach_company),
    ("DELETE", "/contacts/{contact_id}/companies/{company_id}", detach_company),
    ("POST", "/companies", upsert_company),
    ("GET", "/companies", retrieve_companies),
    ("POST", "/events", create_event),
    ("GET", "/data_attributes", list_data_attributes),
    ("POST", "/data_attributes", create_data_attribute),
)
