"""The workspace's rules, without HTTP: bodies here are ones the 2.14 schema accepts."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from intercom_destination.sandbox.clock import Clock
from intercom_destination.sandbox.errors import ApiError
from intercom_destination.sandbox.records import Limits, WorkspaceData
from intercom_destination.sandbox.state import Workspace

NOW = 1_700_000_000.0


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.freeze(NOW)
    return clock


@pytest.fixture
def workspace(clock: Clock) -> Workspace:
    return Workspace(clock, Limits())


def error_of(call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call(*args)
    return raised.value


def only_error(error: ApiError) -> tuple[int, str, str]:
    (item,) = error.errors
    return error.status, item.code, item.message


def define(workspace: Workspace, name: str, data_type: str, model: str = "contact") -> None:
    workspace.create_data_attribute({"name": name, "model": model, "data_type": data_type})


# -- contacts -------------------------------------------------------------------------------


def test_a_contact_gets_an_intercom_style_id_and_is_a_user_by_default(
    workspace: Workspace,
) -> None:
    contact = workspace.create_contact({"external_id": "u1", "email": "ada@example.com"})
    assert re.fullmatch(r"[0-9a-f]{24}", contact.id)
    assert contact.role == "user"
    assert contact.created_at == int(NOW)
    other = workspace.create_contact({"external_id": "u2"})
    assert other.id != contact.id


def test_a_second_user_with_the_same_external_id_is_a_409_naming_the_first(
    workspace: Workspace,
) -> None:
    first = workspace.create_contact({"external_id": "u1"})
    error = error_of(workspace.create_contact, {"external_id": "u1", "email": "x@example.com"})
    assert only_error(error) == (
        409,
        "conflict",
        f"A contact matching those details already exists with id={first.id}",
    )


def test_the_409_for_an_archived_contact_is_the_archived_variant(workspace: Workspace) -> None:
    first = workspace.create_contact({"external_id": "u1"})
    workspace.set_archived(first.id, True)
    error = error_of(workspace.create_contact, {"external_id": "u1"})
    assert only_error(error) == (
        409,
        "conflict",
        f"An archived contact matching those details already exists with id={first.id}",
    )


def test_an_email_only_user_conflicts_with_a_user_of_that_email_ignoring_case(
    workspace: Workspace,
) -> None:
    first = workspace.create_contact({"external_id": "u1", "email": "Ada@Example.com"})
    error = error_of(workspace.create_contact, {"email": "ada@example.com"})
    assert error.status == 409
    assert f"id={first.id}" in error.errors[0].message
    # Users told apart by their external ids may share an email.
    workspace.create_contact({"external_id": "u2", "email": "ada@example.com"})


def test_leads_do_not_conflict(workspace: Workspace) -> None:
    workspace.create_contact({"role": "lead", "email": "ada@example.com"})
    workspace.create_contact({"role": "lead", "email": "ada@example.com"})
    workspace.create_contact({"email": "ada@example.com"})


def test_a_user_needs_an_external_id_or_an_email_and_a_role_must_be_user_or_lead(
    workspace: Workspace,
) -> None:
    assert error_of(workspace.create_contact, {"role": "user"}).status == 400
    assert error_of(workspace.create_contact, {"role": "admin", "email": "a@b.c"}).status == 400
    assert workspace.create_contact({"role": "lead"}).role == "lead"


def test_an_update_changes_only_what_it_names(workspace: Workspace, clock: Clock) -> None:
    define(workspace, "plan", "string")
    define(workspace, "seats", "integer")
    contact = workspace.create_contact(
        {"external_id": "u1", "name": "Ada", "custom_attributes": {"plan": "pro"}}
    )
    clock.advance(5)
    workspace.update_contact(
        contact.id, {"email": "ada@example.com", "custom_attributes": {"seats": 3}}
    )
    updated = workspace.contact(contact.id)
    assert (updated.name, updated.email, updated.external_id) == ("Ada", "ada@example.com", "u1")
    assert updated.custom_attributes == {"plan": "pro", "seats": 3}
    assert updated.updated_at == int(NOW) + 5
    workspace.update_contact(contact.id, {"name": None, "custom_attributes": {"plan": None}})
    assert workspace.contact(contact.id).name is None
    assert workspace.contact(contact.id).custom_attributes == {"plan": None, "seats": 3}


def test_an_update_to_another_users_external_id_is_a_409(workspace: Workspace) -> None:
    first = workspace.create_contact({"external_id": "u1"})
    second = workspace.create_contact({"external_id": "u2"})
    error = error_of(workspace.update_contact, second.id, {"external_id": "u1"})
    assert (error.status, f"id={first.id}" in error.errors[0].message) == (409, True)
    workspace.update_contact(second.id, {"external_id": "u3"})
    assert workspace.find_by_external_id("u3").id == second.id
    assert error_of(workspace.find_by_external_id, "u2").status == 404


def test_find_by_external_id_finds_users_only_and_not_archived_ones(workspace: Workspace) -> None:
    workspace.create_contact({"role": "lead", "external_id": "lead-1"})
    user = workspace.create_contact({"external_id": "u1"})
    assert only_error(error_of(workspace.find_by_external_id, "lead-1")) == (
        404,
        "not_found",
        "User Not Found",
    )
    assert workspace.find_by_external_id("u1").id == user.id
    workspace.set_archived(user.id, True)
    assert error_of(workspace.find_by_external_id, "u1").status == 404
    assert error_of(workspace.contact, user.id).status == 404
    workspace.set_archived(user.id, False)
    assert workspace.find_by_external_id("u1").id == user.id


def test_deleting_a_contact_frees_its_external_id(workspace: Workspace) -> None:
    first = workspace.create_contact({"external_id": "u1"})
    workspace.delete_contact(first.id)
    assert error_of(workspace.contact, first.id).status == 404
    assert error_of(workspace.delete_contact, first.id).status == 404
    assert workspace.create_contact({"external_id": "u1"}).id != first.id


# -- search ---------------------------------------------------------------------------------


def by_external_id(value: str) -> dict[str, Any]:
    return {"field": "external_id", "operator": "=", "value": value}


def test_a_new_contact_is_searchable_only_after_the_search_lag(
    clock: Clock,
) -> None:
    workspace = Workspace(clock, Limits(search_lag=30))
    contact = workspace.create_contact({"external_id": "u1"})
    assert workspace.search_contacts(by_external_id("u1"), None, None).contacts == []
    clock.advance(29.5)
    assert workspace.search_contacts(by_external_id("u1"), None, None).total_count == 0
    # Other lookups do not lag.
    assert workspace.find_by_external_id("u1").id == contact.id
    clock.advance(0.5)
    assert [c.id for c in workspace.search_contacts(by_external_id("u1"), None, None).contacts] == [
        contact.id
    ]


def test_without_lag_a_new_contact_is_searchable_at_once(workspace: Workspace) -> None:
    contact = workspace.create_contact({"external_id": "u1"})
    page = workspace.search_contacts(by_external_id("u1"), None, None)
    assert [c.id for c in page.contacts] == [contact.id]


def test_search_pages_through_every_match_with_cursors(workspace: Workspace) -> None:
    made = [workspace.create_contact({"external_id": f"u{i}", "name": "same"}).id for i in range(5)]
    workspace.create_contact({"external_id": "other", "name": "different"})
    query = {"field": "name", "operator": "=", "value": "same"}
    seen, cursor, pages = [], None, []
    while True:
        page = workspace.search_contacts(query, 2, cursor)
        assert (page.total_count, page.total_pages, page.per_page) == (5, 3, 2)
        pages.append(page.page)
        seen += [c.id for c in page.contacts]
        cursor = page.next
        if cursor is None:
            break
    assert seen == made
    assert pages == [1, 2, 3]


def test_search_combines_filters_with_and_and_or(workspace: Workspace) -> None:
    ada = workspace.create_contact({"external_id": "u1", "email": "ada@example.com"})
    bob = workspace.create_contact({"external_id": "u2", "email": "bob@example.com"})
    workspace.create_contact({"role": "lead", "email": "ada@example.com"})
    either = {"operator": "OR", "value": [by_external_id("u1"), by_external_id("u2")]}
    assert [c.id for c in workspace.search_contacts(either, None, None).contacts] == [
        ada.id,
        bob.id,
    ]
    both = {
        "operator": "AND",
        "value": [
            {"field": "email", "operator": "=", "value": "ada@example.com"},
            {"field": "role", "operator": "=", "value": "user"},
        ],
    }
    assert [c.id for c in workspace.search_contacts(both, None, None).contacts] == [ada.id]


def test_search_knows_an_emails_domain(workspace: Workspace) -> None:
    ada = workspace.create_contact({"external_id": "u1", "email": "ada@example.com"})
    workspace.create_contact({"external_id": "u2", "email": "bob@example.org"})
    query = {"field": "email_domain", "operator": "=", "value": "example.com"}
    assert [c.id for c in workspace.search_contacts(query, None, None).contacts] == [ada.id]


def test_search_leaves_out_archived_contacts(workspace: Workspace) -> None:
    contact = workspace.create_contact({"external_id": "u1"})
    workspace.set_archived(contact.id, True)
    assert workspace.search_contacts(by_external_id("u1"), None, None).total_count == 0


@pytest.mark.parametrize(
    ("query", "per_page", "cursor"),
    [
        (by_external_id("u1"), 151, None),
        (by_external_id("u1"), 0, None),
        (by_external_id("u1"), None, "not-a-cursor"),
        ({"field": "favourite_colour", "operator": "=", "value": "red"}, None, None),
        ({"field": "created_at", "operator": "!=", "value": 1}, None, None),
        ({"field": "external_id", "operator": "=", "value": 5}, None, None),
    ],
)
def test_search_rejects_what_intercom_rejects(
    workspace: Workspace, query: dict[str, Any], per_page: int | None, cursor: str | None
) -> None:
    error = error_of(workspace.search_contacts, query, per_page, cursor)
    assert (error.status, error.errors[0].code) == (400, "parameter_invalid")


# -- companies ------------------------------------------------------------------------------


def test_companies_are_created_then_updated_by_company_id(workspace: Workspace) -> None:
    created = workspace.upsert_company({"company_id": "c1", "name": "Acme", "plan": "pro"})
    updated = workspace.upsert_company({"company_id": "c1", "size": 12})
    assert updated.id == created.id
    assert (updated.name, updated.size, updated.plan) == ("Acme", 12, "pro")
    assert workspace.company_by_company_id("c1").id == created.id
    assert only_error(error_of(workspace.company_by_company_id, "c2")) == (
        404,
        "company_not_found",
        "Company Not Found",
    )


def test_monthly_spend_is_truncated_and_capped(workspace: Workspace) -> None:
    assert (
        workspace.upsert_company({"company_id": "c1", "monthly_spend": 155.98}).monthly_spend == 155
    )
    error = error_of(workspace.upsert_company, {"company_id": "c1", "monthly_spend": 2**31})
    assert error.status == 400


def test_a_company_needs_a_company_id(workspace: Workspace) -> None:
    assert only_error(error_of(workspace.upsert_company, {"name": "Acme"}))[:2] == (
        400,
        "parameter_not_found",
    )


def test_attaching_and_detaching_count_the_companys_users(workspace: Workspace) -> None:
    company = workspace.upsert_company({"company_id": "c1"})
    ada = workspace.create_contact({"external_id": "u1"})
    bob = workspace.create_contact({"external_id": "u2"})
    workspace.attach(ada.id, company.id)
    workspace.attach(ada.id, company.id)
    workspace.attach(bob.id, company.id)
    assert company.user_count == 2
    assert [c.id for c in workspace.contact_companies(ada.id)] == [company.id]
    workspace.detach(ada.id, company.id)
    workspace.detach(ada.id, company.id)
    assert company.user_count == 1
    assert workspace.contact_companies(ada.id) == []
    workspace.delete_contact(bob.id)
    assert company.user_count == 0


def test_attaching_needs_a_known_contact_and_company(workspace: Workspace) -> None:
    company = workspace.upsert_company({"company_id": "c1"})
    contact = workspace.create_contact({"external_id": "u1"})
    assert error_of(workspace.attach, contact.id, "c1").errors[0].code == "company_not_found"
    assert error_of(workspace.attach, "0" * 24, company.id).errors[0].code == "not_found"


# -- events ---------------------------------------------------------------------------------


def event(name: str = "order-placed", **fields: Any) -> dict[str, Any]:
    return {"event_name": name, "created_at": 1_700_000_000, "user_id": "u1", **fields}


def test_an_event_for_an_unknown_contact_is_a_404(workspace: Workspace) -> None:
    assert only_error(error_of(workspace.create_event, event())) == (
        404,
        "not_found",
        "User Not Found",
    )
    lead = workspace.create_contact({"role": "lead", "email": "lead@example.com"})
    # An email names users only; a lead's events need its id.
    by_email = {"event_name": "viewed", "created_at": 1, "email": "lead@example.com"}
    assert error_of(workspace.create_event, by_email).status == 404
    body = {"event_name": "viewed", "created_at": 1, "id": lead.id}
    assert workspace.create_event(body) is True


def test_events_find_users_by_external_id_or_email(workspace: Workspace) -> None:
    ada = workspace.create_contact({"external_id": "u1", "email": "ada@example.com"})
    workspace.create_event(event())
    body = {"event_name": "viewed", "created_at": 2, "email": "ADA@example.com"}
    workspace.create_event(body)
    assert [e.contact_id for e in workspace.snapshot().events] == [ada.id, ada.id]


def test_only_the_first_ten_metadata_keys_are_kept_in_the_order_sent(workspace: Workspace) -> None:
    workspace.create_contact({"external_id": "u1"})
    metadata = {f"key_{i:02}": i for i in reversed(range(12))}
    workspace.create_event(event(metadata=metadata))
    (stored,) = workspace.snapshot().events
    assert list(stored.metadata) == [f"key_{i:02}" for i in reversed(range(2, 12))]


def test_a_duplicate_event_is_accepted_and_ignored(workspace: Workspace) -> None:
    workspace.create_contact({"external_id": "u1"})
    assert workspace.create_event(event()) is True
    assert workspace.create_event(event(metadata={"a": 1})) is False
    assert workspace.create_event(event(created_at=1_700_000_001)) is True
    assert len(workspace.snapshot().events) == 2


def test_event_names_ignore_case_and_turn_dots_and_dollars_into_hyphens(
    workspace: Workspace,
) -> None:
    workspace.create_contact({"external_id": "u1"})
    workspace.create_event(event("Order.Placed$"))
    assert workspace.create_event(event("order-placed-")) is False
    assert [e.event_name for e in workspace.snapshot().events] == ["Order-Placed-"]


def test_the_121st_event_name_is_refused_and_known_names_still_work(workspace: Workspace) -> None:
    workspace.create_contact({"external_id": "u1"})
    for i in range(120):
        workspace.create_event(event(f"event-{i}"))
    assert only_error(error_of(workspace.create_event, event("event-120"))) == (
        422,
        "422",
        "Cannot have more than 120 active event names",
    )
    assert workspace.create_event(event("EVENT-7", created_at=5)) is True


# -- data attributes ------------------------------------------------------------------------


def test_writing_an_undefined_custom_attribute_is_refused(workspace: Workspace) -> None:
    error = error_of(workspace.create_contact, {"external_id": "u1", "custom_attributes": {"x": 1}})
    assert only_error(error) == (400, "parameter_invalid", "Custom attribute 'x' does not exist")
    company_error = error_of(
        workspace.upsert_company, {"company_id": "c1", "custom_attributes": {"y": "a"}}
    )
    assert company_error.errors[0].message == "Custom attribute 'y' does not exist"
    # A contact attribute is not a company attribute.
    define(workspace, "tier", "string", model="contact")
    body = {"company_id": "c1", "custom_attributes": {"tier": "a"}}
    assert error_of(workspace.upsert_company, body).errors[0].message == (
        "Custom attribute 'tier' does not exist"
    )


@pytest.mark.parametrize(
    ("data_type", "good", "bad"),
    [
        ("string", "pro", 5),
        ("integer", 5, 5.5),
        ("integer", -1, True),
        ("float", 5, "5"),
        ("float", 2.5, False),
        ("boolean", True, 1),
        ("date", 1_700_000_000, "2023-11-14"),
        ("datetime", 1_700_000_000, 1.5),
    ],
)
def test_a_custom_attribute_takes_only_values_of_its_type(
    workspace: Workspace, data_type: str, good: object, bad: object
) -> None:
    define(workspace, "value", data_type)
    contact = workspace.create_contact({"external_id": "u1", "custom_attributes": {"value": good}})
    workspace.update_contact(contact.id, {"custom_attributes": {"value": None}})
    error = error_of(workspace.update_contact, contact.id, {"custom_attributes": {"value": bad}})
    assert (error.status, error.errors[0].code) == (400, "parameter_invalid")
    assert "'value'" in error.errors[0].message
    assert workspace.contact(contact.id).custom_attributes == {"value": None}


def test_an_options_attribute_needs_two_options_and_takes_strings(workspace: Workspace) -> None:
    body = {"name": "size", "model": "contact", "data_type": "options", "options": [{"value": "S"}]}
    assert error_of(workspace.create_data_attribute, body).status == 400
    body["options"] = [{"value": "S"}, {"value": "M"}]
    assert workspace.create_data_attribute(body).options == ["S", "M"]
    workspace.create_contact({"external_id": "u1", "custom_attributes": {"size": "XL"}})


@pytest.mark.parametrize("name", ["!nv@l!d n@me", "dotted.name", " "])
def test_attribute_names_are_alphanumerics_currency_symbols_hyphens_spaces_underscores(
    workspace: Workspace, name: str
) -> None:
    body = {"name": name, "model": "contact", "data_type": "string"}
    assert only_error(error_of(workspace.create_data_attribute, body)) == (
        400,
        "parameter_invalid",
        "Your name for this attribute must only contain alphanumeric characters, currency "
        "symbols, and hyphens",
    )


def test_good_attribute_names(workspace: Workspace) -> None:
    for name in ("The One Ring", "paid_subscriber", "price-€", "Größe"):
        define(workspace, name, "string")
    assert len(workspace.custom_attributes("contact")) == 4


def test_an_attribute_name_is_unique_across_models_and_standard_attributes(
    workspace: Workspace,
) -> None:
    define(workspace, "The One Ring", "string", model="company")
    body = {"name": "the one ring", "model": "contact", "data_type": "integer"}
    assert only_error(error_of(workspace.create_data_attribute, body))[2] == (
        "You already have 'the one ring' in your company data. To save this as new people "
        "data, use a different name."
    )
    standard = {"name": "email", "model": "contact", "data_type": "string"}
    assert error_of(workspace.create_data_attribute, standard).status == 400


def test_the_251st_custom_attribute_is_refused(workspace: Workspace) -> None:
    for i in range(125):
        define(workspace, f"person_{i}", "string", model="contact")
        define(workspace, f"company_{i}", "string", model="company")
    body = {"name": "one_more", "model": "company", "data_type": "string"}
    assert only_error(error_of(workspace.create_data_attribute, body))[:2] == (
        422,
        "unprocessable_entity",
    )


# -- state ----------------------------------------------------------------------------------


def test_a_snapshot_loads_back_with_its_rules(workspace: Workspace, clock: Clock) -> None:
    define(workspace, "plan", "string")
    contact = workspace.create_contact({"external_id": "u1", "custom_attributes": {"plan": "pro"}})
    company = workspace.upsert_company({"company_id": "c1", "plan": "gold"})
    workspace.attach(contact.id, company.id)
    workspace.create_event(event())
    saved = msgspec.json.encode(workspace.snapshot())

    restored = Workspace(clock, Limits(), msgspec.json.decode(saved, type=WorkspaceData))
    assert msgspec.json.encode(restored.snapshot()) == saved
    assert error_of(restored.create_contact, {"external_id": "u1"}).status == 409
    assert restored.create_event(event()) is False
    assert restored.company_by_company_id("c1").user_count == 1
    second = restored.create_contact({"external_id": "u2"})
    page = restored.search_contacts({"field": "role", "operator": "=", "value": "user"}, None, None)
    assert [c.id for c in page.contacts] == [contact.id, second.id]
