from __future__ import annotations

from typing import Any

import pytest

from intercom_destination.intercom.schema import Problem, find_operation, validate_request

# Request bodies from Intercom's 2.14 description: its request examples and the example
# values of its schemas (with the company `size` an integer, as the schema types it), plus
# every metadata value type the POST /events description lists.
VALID: list[tuple[str, str, Any]] = [
    ("POST", "/contacts", {"email": "joebloggs@intercom.io"}),
    (
        "POST",
        "/contacts",
        {
            "role": "user",
            "external_id": "625e90fc55ab113b6d92175f",
            "email": "jdoe@example.com",
            "phone": "+353871234567",
            "name": "John Doe",
            "avatar": "https://www.example.com/avatar_image.jpg",
            "signed_up_at": 1571672154,
            "last_seen_at": 1571672154,
            "owner_id": 123,
            "unsubscribed_from_emails": True,
            "custom_attributes": {"paid_subscriber": True, "monthly_spend": 155.5, "team_mates": 1},
        },
    ),
    (
        "PUT",
        "/contacts/6762f0dd1bb69f9f2193bb83",
        {"email": "joebloggs@intercom.io", "name": "joe bloggs"},
    ),
    (
        "PUT",
        "/contacts/6762f0dd1bb69f9f2193bb83",
        {"name": None, "custom_attributes": {"plan": None}},
    ),
    ("POST", "/contacts/6762f0dd1bb69f9f2193bb83/companies", {"id": "6762f09a1bb69f9f2193bb34"}),
    (
        "POST",
        "/companies",
        {"company_id": "company_remote_id", "name": "my company", "remote_created_at": 1374138000},
    ),
    (
        "POST",
        "/companies",
        {
            "name": "Intercom",
            "company_id": "625e90fc55ab113b6d92175f",
            "plan": "Enterprise",
            "size": 100,
            "website": "https://www.example.com",
            "industry": "Manufacturing",
            "custom_attributes": {"paid_subscriber": True, "monthly_spend": 155.5, "team_mates": 9},
            "remote_created_at": 1394531169,
            "monthly_spend": 1000,
        },
    ),
    (
        "POST",
        "/events",
        {
            "event_name": "invited-friend",
            "created_at": 1671028894,
            "user_id": "314159",
            "metadata": {"invite_code": "ADDAFRIEND"},
        },
    ),
    (
        "POST",
        "/events",
        {
            "event_name": "placed-order",
            "created_at": 1392036272,
            "id": "8a88a590-e1c3-41e2-a502-e0649dbf721c",
            "metadata": {
                "source": "desktop",
                "load": 3.67,
                "contact_date": 1392036272,
                "article": "https://example.org/ab1de.html",
                "guide": {"url": "https://example.org/ab1de.html", "value": "the dude abides"},
                "price": {"amount": 34999, "currency": "eur"},
                "gift": True,
                "note": "x" * 255,
            },
        },
    ),
    ("POST", "/events", {"event_name": "a", "created_at": 1, "email": "frodo.baggins@example.com"}),
    (
        "POST",
        "/data_attributes",
        {"name": "Mithril Shirt", "model": "company", "data_type": "string"},
    ),
    (
        "POST",
        "/data_attributes",
        {
            "name": "Plan",
            "model": "contact",
            "data_type": "options",
            "options": [{"value": "free"}, {"value": "pro"}],
            "description": "The plan",
            "messenger_writable": False,
        },
    ),
    (
        "POST",
        "/contacts/search",
        {
            "query": {
                "operator": "AND",
                "value": [{"field": "created_at", "operator": ">", "value": "1306054154"}],
            },
            "pagination": {"per_page": 5},
        },
    ),
    (
        "POST",
        "/contacts/search",
        {
            "query": {"field": "email", "operator": "=", "value": "jdoe@example.com"},
            "pagination": {"per_page": 1, "starting_after": None},
        },
    ),
    ("POST", "/contacts/6762f0dd1bb69f9f2193bb83/archive", None),
    ("GET", "/companies?company_id=company_remote_id", None),
    ("GET", "/data_attributes?model=contact&include_archived=true", None),
    ("GET", "/me", None),
]


@pytest.mark.parametrize(("method", "path", "body"), VALID)
def test_valid_requests_pass(method: str, path: str, body: Any) -> None:
    assert validate_request(method, path, body) == []


def problems(method: str, path: str, body: Any) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in validate_request(method, path, body)}


EVENT = {"event_name": "placed-order", "created_at": 1392036272, "user_id": "314159"}


def test_wrong_type() -> None:
    assert validate_request("POST", "/contacts/abc/companies", {"id": 5}) == [
        Problem("id", "expected string, got integer", "parameter_invalid")
    ]
    assert problems("POST", "/contacts", {"email": "a@b.c", "signed_up_at": "2024-01-01"}) == {
        ("signed_up_at", "parameter_invalid")
    }


def test_integer_fields_refuse_floats() -> None:
    assert problems("POST", "/events", {**EVENT, "created_at": 1392036272.0}) == {
        ("created_at", "parameter_invalid")
    }


def test_unknown_top_level_field_is_a_bad_request() -> None:
    # The description's own bad_request example for POST /companies.
    [problem] = validate_request("POST", "/companies", {"test": "invalid"})
    assert (problem.field, problem.code) == ("test", "bad_request")
    assert problem.message == "unknown field 'test'"
    assert problem.intercom_message == "bad 'test' parameter"


def test_unknown_nested_field_is_invalid() -> None:
    body = {**EVENT, "metadata": {"price": {"amount": 100, "currency": "eur", "cents": 1}}}
    assert problems("POST", "/events", body) == {("metadata.price", "parameter_invalid")}
    body = {"query": {"field": "email", "operator": "=", "value": "a", "limit": 1}}
    assert problems("POST", "/contacts/search", body) == {("query", "parameter_invalid")}


def test_missing_required_fields() -> None:
    event = {k: v for k, v in EVENT.items() if k != "event_name"}
    assert validate_request("POST", "/events", event) == [
        Problem("event_name", "missing required field 'event_name'", "parameter_not_found")
    ]
    assert problems("POST", "/contacts/abc/companies", {}) == {("id", "parameter_not_found")}
    assert problems("POST", "/contacts/abc/companies", None) == {("id", "parameter_not_found")}
    assert problems("POST", "/contacts/search", {}) == {("query", "parameter_not_found")}


def test_missing_one_of_several_identifiers() -> None:
    anonymous = {"event_name": "placed-order", "created_at": 1392036272}
    assert validate_request("POST", "/events", anonymous) == [
        Problem(
            "", "missing required field: one of 'id', 'user_id', 'email'", "parameter_not_found"
        )
    ]
    assert problems("POST", "/contacts", {"name": "Joe"}) == {("", "parameter_not_found")}


@pytest.mark.parametrize("value", [{"name": "pro"}, ["pro"]])
@pytest.mark.parametrize(
    ("method", "path", "identity"),
    [
        ("POST", "/contacts", {"email": "a@b.c"}),
        ("PUT", "/contacts/abc", {}),
        ("POST", "/companies", {"company_id": "c1"}),
    ],
)
def test_custom_attribute_values_are_scalars(
    method: str, path: str, identity: dict[str, Any], value: Any
) -> None:
    body = {**identity, "custom_attributes": {"plan": value, "seats": 3}}
    assert problems(method, path, body) == {("custom_attributes.plan", "parameter_invalid")}


def test_company_custom_attributes_take_no_null() -> None:
    body = {"company_id": "c1", "custom_attributes": {"plan": None}}
    assert problems("POST", "/companies", body) == {("custom_attributes.plan", "parameter_invalid")}


def test_metadata_rejects_nested_objects_and_arrays() -> None:
    body = {**EVENT, "metadata": {"order": {"sku": "A1", "qty": 2}, "tags": ["a"]}}
    assert problems("POST", "/events", body) == {
        ("metadata.order", "parameter_invalid"),
        ("metadata.tags", "parameter_invalid"),
    }
    messages = {p.field: p.message for p in validate_request("POST", "/events", body)}
    assert messages["metadata.order"] == (
        "expected string, number, boolean, {amount, currency} or {url, value}, got object"
    )


def test_money_amount_is_whole_non_negative_cents() -> None:
    float_amount = {
        **EVENT,
        "metadata": {"price": {"amount": 1998.9999999999998, "currency": "usd"}},
    }
    assert validate_request("POST", "/events", float_amount) == [
        Problem("metadata.price.amount", "expected integer, got number", "parameter_invalid")
    ]
    negative = {**EVENT, "metadata": {"price": {"amount": -1, "currency": "usd"}}}
    assert problems("POST", "/events", negative) == {("metadata.price.amount", "parameter_invalid")}
    no_currency = {**EVENT, "metadata": {"price": {"amount": 1999}}}
    assert problems("POST", "/events", no_currency) == {
        ("metadata.price.currency", "parameter_not_found")
    }


def test_metadata_strings_are_at_most_255_characters() -> None:
    body = {**EVENT, "metadata": {"note": "x" * 256}}
    assert validate_request("POST", "/events", body) == [
        Problem("metadata.note", "expected at most 255 characters, got 256", "parameter_invalid")
    ]


@pytest.mark.parametrize(
    "key",
    [
        "page.path",
        "$price",
        "a~b",
        "a`b",
        "cost!",
        "a@b",
        "#1",
        "50%",
        "a^b",
        "a&b",
        "a*b",
        "it's",
        "{x}",
        "a|b",
        "a\\b",
        'say "hi"',
        "a\x00b",
    ],
)
def test_metadata_keys_refuse_forbidden_characters(key: str) -> None:
    body = {**EVENT, "metadata": {key: "v", "plain_key-1 ok": "v"}}
    [problem] = validate_request("POST", "/events", body)
    assert (problem.field, problem.code) == (f"metadata.{key}", "parameter_invalid")
    assert problem.message.startswith(f"key {key!r} contains forbidden characters")


def test_enum_values() -> None:
    body = {"name": "Plan", "model": "person", "data_type": "string"}
    assert problems("POST", "/data_attributes", body) == {("model", "parameter_invalid")}
    body = {"name": "Ring", "model": "company", "data_type": "mithril"}
    assert problems("POST", "/data_attributes", body) == {("data_type", "parameter_invalid")}
    body = {"name": "Plan", "model": "contact", "data_type": "options"}
    assert problems("POST", "/data_attributes", body) == {("options", "parameter_not_found")}


def search(depth: int, filters: int = 1) -> dict[str, Any]:
    query: dict[str, Any] = {"field": "email", "operator": "=", "value": "a@b.c"}
    for _ in range(depth):
        query = {"operator": "OR", "value": [query] * filters}
    return {"query": query}


def test_search_nests_two_levels_of_at_most_15_filters() -> None:
    assert validate_request("POST", "/contacts/search", search(2, filters=15)) == []
    assert ("query.value.0.value.0.operator", "parameter_invalid") in problems(
        "POST", "/contacts/search", search(3)
    )
    assert validate_request("POST", "/contacts/search", search(1, filters=16)) == [
        Problem("query.value", "expected at most 15 items, got 16", "parameter_invalid")
    ]


def test_query_parameters() -> None:
    assert problems("GET", "/companies?company_id=c1&page=two&color=red", None) == {
        ("page", "parameter_invalid"),
        ("color", "bad_request"),
    }
    assert problems("GET", "/data_attributes?model=user", None) == {("model", "parameter_invalid")}


def test_bodiless_operations_take_no_body() -> None:
    assert problems("POST", "/contacts/abc/unarchive", {}) == {("", "bad_request")}


def test_body_must_be_an_object() -> None:
    assert problems("POST", "/events", [EVENT]) == {("", "parameter_invalid")}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/contacts/merge"), ("PATCH", "/contacts/abc"), ("GET", "/contacts/"), ("GET", "/")],
)
def test_a_path_no_operation_serves_is_not_found(method: str, path: str) -> None:
    assert find_operation(method, path) is None
    [problem] = validate_request(method, path, None)
    assert (problem.field, problem.code) == ("", "not_found")


@pytest.mark.parametrize(
    ("method", "path", "template", "operation_id"),
    [
        (
            "GET",
            "/contacts/find_by_external_id/314159",
            "/contacts/find_by_external_id/{external_id}",
            "ShowContactByExternalId",
        ),
        (
            "GET",
            "/contacts/find_by_external_id/companies",
            "/contacts/find_by_external_id/{external_id}",
            "ShowContactByExternalId",
        ),
        ("POST", "/contacts/search", "/contacts/search", "SearchContacts"),
        ("GET", "/contacts/6762f0dd", "/contacts/{contact_id}", "ShowContact"),
        ("put", "/contacts/6762f0dd", "/contacts/{contact_id}", "UpdateContact"),
        ("DELETE", "/contacts/6762f0dd", "/contacts/{contact_id}", "DeleteContact"),
        ("POST", "/contacts/6762f0dd/archive", "/contacts/{contact_id}/archive", "ArchiveContact"),
        (
            "POST",
            "/contacts/6762f0dd/unarchive",
            "/contacts/{contact_id}/unarchive",
            "UnarchiveContact",
        ),
        (
            "GET",
            "/contacts/6762f0dd/companies",
            "/contacts/{contact_id}/companies",
            "listCompaniesForAContact",
        ),
        (
            "POST",
            "/contacts/6762f0dd/companies",
            "/contacts/{contact_id}/companies",
            "attachContactToACompany",
        ),
        (
            "DELETE",
            "/contacts/6762f0dd/companies/6762f09a",
            "/contacts/{contact_id}/companies/{company_id}",
            "detachContactFromACompany",
        ),
        ("GET", "/companies?company_id=c1", "/companies", "retrieveCompany"),
        (
            "POST",
            "/contacts/{contact_id}/companies",
            "/contacts/{contact_id}/companies",
            "attachContactToACompany",
        ),
    ],
)
def test_find_operation(method: str, path: str, template: str, operation_id: str) -> None:
    operation = find_operation(method, path)
    assert operation is not None
    assert (operation.template, operation.operation_id) == (template, operation_id)
