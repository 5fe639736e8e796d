"""Intercom's operations over real HTTP, against a sandbox subprocess."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ERROR_LIST_KEYS = {"type", "request_id", "errors"}


def errors(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body.keys() == ERROR_LIST_KEYS
    assert body["type"] == "error.list"
    return list(body["errors"])


def create(intercom: httpx.Client, **body: Any) -> dict[str, Any]:
    response = intercom.post("/contacts", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def define(intercom: httpx.Client, name: str, data_type: str, model: str = "contact") -> None:
    body = {"name": name, "model": model, "data_type": data_type}
    intercom.post("/data_attributes", json=body).raise_for_status()


def test_me_describes_an_admin_and_its_app(intercom: httpx.Client) -> None:
    body = intercom.get("/me").json()
    assert body["type"] == "admin"
    assert body["app"]["type"] == "app"


def test_a_contact_round_trip(intercom: httpx.Client) -> None:
    define(intercom, "plan", "string")
    contact = create(intercom, external_id="u1", email="ada@example.com", name="Ada")
    assert (contact["type"], contact["role"], contact["name"]) == ("contact", "user", "Ada")
    updated = intercom.put(
        f"/contacts/{contact['id']}", json={"custom_attributes": {"plan": "pro"}}
    )
    assert updated.json()["custom_attributes"] == {"plan": "pro"}
    assert updated.json()["email"] == "ada@example.com"
    found = intercom.get("/contacts/find_by_external_id/u1").json()
    assert found["id"] == contact["id"]
    assert intercom.get(f"/contacts/{contact['id']}").json()["name"] == "Ada"
    deleted = intercom.delete(f"/contacts/{contact['id']}").json()
    assert deleted == {"type": "contact", "id": contact["id"], "external_id": "u1", "deleted": True}
    missing = intercom.get(f"/contacts/{contact['id']}")
    assert missing.status_code == 404
    assert errors(missing)[0] == {"code": "not_found", "message": "User Not Found"}


def test_a_duplicate_user_is_a_409_naming_the_live_then_the_archived_contact(
    intercom: httpx.Client,
) -> None:
    contact = create(intercom, external_id="u1")
    live = intercom.post("/contacts", json={"external_id": "u1"})
    assert live.status_code == 409
    assert errors(live) == [
        {
            "code": "conflict",
            "message": f"A contact matching those details already exists with id={contact['id']}",
        }
    ]
    archived = intercom.post(f"/contacts/{contact['id']}/archive").json()
    assert archived == {
        "type": "contact",
        "id": contact["id"],
        "external_id": "u1",
        "archived": True,
    }
    again = intercom.post("/contacts", json={"external_id": "u1"})
    assert errors(again)[0]["message"] == (
        f"An archived contact matching those details already exists with id={contact['id']}"
    )
    intercom.post(f"/contacts/{contact['id']}/unarchive").raise_for_status()
    assert intercom.put(f"/contacts/{contact['id']}", json={"name": "Ada"}).status_code == 200


def search(intercom: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = intercom.post("/contacts/search", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


BY_U1 = {"query": {"field": "external_id", "operator": "=", "value": "u1"}}


def test_search_finds_a_new_contact_at_once_without_lag(intercom: httpx.Client) -> None:
    contact = create(intercom, external_id="u1")
    assert [c["id"] for c in search(intercom, BY_U1)["data"]] == [contact["id"]]


def test_search_lag_hides_new_contacts_until_it_passes(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    control.post("/config", json={"search_lag": 60}).raise_for_status()
    control.post("/clock", json={"now": 1_700_000_000}).raise_for_status()
    contact = create(intercom, external_id="u1")
    assert search(intercom, BY_U1)["total_count"] == 0
    assert intercom.get("/contacts/find_by_external_id/u1").status_code == 200
    control.post("/clock", json={"advance": 60}).raise_for_status()
    assert [c["id"] for c in search(intercom, BY_U1)["data"]] == [contact["id"]]


def test_search_pages_with_cursors_in_the_body(intercom: httpx.Client) -> None:
    made = [create(intercom, external_id=f"u{i}", email=f"{i}@example.com")["id"] for i in range(5)]
    query = {"field": "email", "operator": "$", "value": "@example.com"}
    seen, pagination = [], {"per_page": 2}
    while True:
        page = search(intercom, {"query": query, "pagination": pagination})
        assert page["type"] == "list"
        assert page["total_count"] == 5
        seen += [c["id"] for c in page["data"]]
        following = page["pages"].get("next")
        if following is None:
            break
        pagination = following
    assert seen == made
    assert page["pages"] == {
        "type": "pages",
        "page": 3,
        "per_page": 2,
        "total_pages": 3,
    }


def test_companies_upsert_attach_list_and_detach(intercom: httpx.Client) -> None:
    company = intercom.post("/companies", json={"company_id": "c1", "name": "Acme", "plan": "pro"})
    assert company.status_code == 200
    body = company.json()
    assert (body["type"], body["company_id"], body["plan"]["name"]) == ("company", "c1", "pro")
    contact = create(intercom, external_id="u1")
    attached = intercom.post(f"/contacts/{contact['id']}/companies", json={"id": body["id"]})
    assert attached.json()["user_count"] == 1
    listed = intercom.get(f"/contacts/{contact['id']}/companies").json()
    assert [c["company_id"] for c in listed["data"]] == ["c1"]
    assert intercom.get(f"/contacts/{contact['id']}").json()["companies"]["total_count"] == 1
    retrieved = intercom.get("/companies", params={"company_id": "c1"}).json()
    assert (retrieved["type"], retrieved["id"]) == ("company", body["id"])
    detached = intercom.delete(f"/contacts/{contact['id']}/companies/{body['id']}")
    assert detached.json()["user_count"] == 0
    unknown = intercom.post(f"/contacts/{contact['id']}/companies", json={"id": "c1"})
    assert (unknown.status_code, errors(unknown)[0]["code"]) == (404, "company_not_found")
    missing = intercom.get("/companies", params={"company_id": "c2"})
    assert (missing.status_code, errors(missing)[0]["code"]) == (404, "company_not_found")


def event(**fields: Any) -> dict[str, Any]:
    return {"event_name": "order-placed", "created_at": 1_700_000_000, "user_id": "u1", **fields}


def test_an_event_is_a_202_with_an_empty_body(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    contact = create(intercom, external_id="u1")
    response = intercom.post(
        "/events", json=event(metadata={"price": {"amount": 1999, "currency": "usd"}})
    )
    assert (response.status_code, response.content) == (202, b"")
    (stored,) = control.get("/state").json()["events"]
    assert stored == {
        "contact_id": contact["id"],
        "event_name": "order-placed",
        "created_at": 1_700_000_000,
        "metadata": {"price": {"amount": 1999, "currency": "usd"}},
    }


def test_an_event_for_an_unknown_user_is_a_404(intercom: httpx.Client) -> None:
    response = intercom.post("/events", json=event())
    assert response.status_code == 404
    assert errors(response)[0] == {"code": "not_found", "message": "User Not Found"}


def test_an_event_keeps_its_first_ten_metadata_keys(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    create(intercom, external_id="u1")
    metadata = {f"key_{i}": i for i in range(12)}
    assert intercom.post("/events", json=event(metadata=metadata)).status_code == 202
    (stored,) = control.get("/state").json()["events"]
    assert list(stored["metadata"]) == [f"key_{i}" for i in range(10)]


def test_nested_metadata_is_rejected(intercom: httpx.Client, control: httpx.Client) -> None:
    create(intercom, external_id="u1")
    response = intercom.post("/events", json=event(metadata={"cart": {"items": 3}}))
    assert response.status_code == 400
    assert {e["field"] for e in errors(response)} == {"metadata.cart"}
    rich = {"article": {"url": "https://example.org/a", "value": "A"}}
    assert intercom.post("/events", json=event(metadata=rich)).status_code == 202
    assert len(control.get("/state").json()["events"]) == 1


def test_a_duplicate_event_is_accepted_and_stored_once(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    create(intercom, external_id="u1")
    assert intercom.post("/events", json=event()).status_code == 202
    assert intercom.post("/events", json=event()).status_code == 202
    assert len(control.get("/state").json()["events"]) == 1


def test_the_121st_event_name_is_a_422(intercom: httpx.Client) -> None:
    create(intercom, external_id="u1")
    for i in range(120):
        assert intercom.post("/events", json=event(event_name=f"event-{i}")).status_code == 202
    response = intercom.post("/events", json=event(event_name="event-120"))
    assert response.status_code == 422
    assert errors(response) == [
        {"code": "422", "message": "Cannot have more than 120 active event names"}
    ]


def test_data_attributes_list_standard_then_custom_per_model(intercom: httpx.Client) -> None:
    created = intercom.post(
        "/data_attributes", json={"name": "plan", "model": "contact", "data_type": "string"}
    ).json()
    assert (created["full_name"], created["custom"], created["model"]) == (
        "custom_attributes.plan",
        True,
        "contact",
    )
    listed = intercom.get("/data_attributes", params={"model": "contact"}).json()
    assert listed["type"] == "list"
    standard = [a for a in listed["data"] if not a["custom"]]
    assert {"email", "external_id", "signed_up_at"} <= {a["name"] for a in standard}
    assert {a["model"] for a in listed["data"]} == {"contact"}
    assert [a["name"] for a in listed["data"] if a["custom"]] == ["plan"]
    companies = intercom.get("/data_attributes", params={"model": "company"}).json()["data"]
    assert "monthly_spend" in {a["name"] for a in companies}
    assert not any(a["custom"] for a in companies)


def test_writing_an_unknown_custom_attribute_is_a_400(intercom: httpx.Client) -> None:
    response = intercom.post("/contacts", json={"external_id": "u1", "custom_attributes": {"x": 1}})
    assert response.status_code == 400
    assert errors(response) == [
        {"code": "parameter_invalid", "message": "Custom attribute 'x' does not exist"}
    ]
    company = intercom.post(
        "/companies", json={"company_id": "c1", "custom_attributes": {"y": "a"}}
    )
    assert errors(company)[0]["message"] == "Custom attribute 'y' does not exist"


def test_a_value_of_the_wrong_type_is_a_400(intercom: httpx.Client) -> None:
    define(intercom, "seats", "integer")
    response = intercom.post(
        "/contacts", json={"external_id": "u1", "custom_attributes": {"seats": "many"}}
    )
    assert response.status_code == 400
    assert errors(response)[0]["code"] == "parameter_invalid"
    assert "'seats'" in errors(response)[0]["message"]


def test_the_custom_attribute_cap_is_configurable(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    control.post("/config", json={"custom_attributes": 2}).raise_for_status()
    define(intercom, "a", "string")
    define(intercom, "b", "string", model="company")
    response = intercom.post(
        "/data_attributes", json={"name": "c", "model": "contact", "data_type": "string"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        (
            "POST",
            "/contacts",
            {"email": 5},
            {
                "code": "parameter_invalid",
                "field": "email",
                "message": "expected string, got integer",
            },
        ),
        (
            "POST",
            "/contacts",
            {"email": "a@b.c", "favourite": "red"},
            {"code": "bad_request", "field": "favourite", "message": "bad 'favourite' parameter"},
        ),
        (
            "POST",
            "/contacts/6762f0dd1bb69f9f2193bb83/companies",
            {},
            {
                "code": "parameter_not_found",
                "field": "id",
                "message": "missing required field 'id'",
            },
        ),
        (
            "POST",
            "/events",
            {"event_name": "x", "user_id": "u1"},
            {
                "code": "parameter_not_found",
                "field": "created_at",
                "message": "missing required field 'created_at'",
            },
        ),
    ],
)
def test_a_request_that_does_not_validate_is_a_400_naming_the_problem(
    intercom: httpx.Client, method: str, path: str, body: Any, expected: dict[str, str]
) -> None:
    response = intercom.request(method, path, json=body)
    assert response.status_code == 400
    assert errors(response) == [expected]


def test_a_body_that_is_not_json_is_a_400(intercom: httpx.Client) -> None:
    response = intercom.post("/contacts", content=b"{not json")
    assert response.status_code == 400
    assert errors(response)[0]["code"] == "bad_request"


@pytest.mark.parametrize(("method", "path"), [("GET", "/tickets"), ("GET", "/events")])
def test_unknown_paths_and_methods_are_a_404(
    intercom: httpx.Client, method: str, path: str
) -> None:
    response = intercom.request(method, path)
    assert response.status_code == 404
    assert errors(response)[0]["code"] == "not_found"
    assert "x-ratelimit-remaining" in response.headers
