"""The client against a live sandbox over real HTTP: every operation the engine uses, and every
typed error the sandbox can answer, as the delivery engine meets them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, suppress
from typing import Any

import httpx
import msgspec
import pytest

from intercom_destination.delivery.connection import intercom_connection
from intercom_destination.intercom import (
    Company,
    Conflict,
    EventNameLimit,
    IntercomClient,
    NotFound,
    RateLimited,
    RateLimitWindow,
    ServerError,
    Timeout,
    Unauthorized,
    UnknownCustomAttribute,
    ValidationFailed,
)
from intercom_destination.intercom.transport import Timeouts
from intercom_destination.settings import Secret, Settings

pytestmark = pytest.mark.anyio

TOKEN = "dG9rOmNvbnRyYWN0LXRlc3Q="
#: A frozen instant 3 seconds into a rate-limit window, which ends at WINDOW_END.
NOW = 1_700_000_003
WINDOW_END = 1_700_000_010
StartSandbox = Callable[..., AbstractContextManager[str]]


def connect(url: str, token: str = TOKEN, timeouts: Timeouts | None = None) -> IntercomClient:
    connection = intercom_connection(Settings(access_token=Secret(token), api_url=url))
    if timeouts is not None:
        connection = msgspec.structs.replace(connection, timeouts=timeouts)
    return IntercomClient(connection)


@pytest.fixture
async def client(sandbox: str) -> AsyncIterator[IntercomClient]:
    async with connect(sandbox) as client:
        yield client


@pytest.fixture
def control(sandbox: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox}/_sandbox", timeout=10) as control:
        yield control


def post(control: httpx.Client, endpoint: str, **document: Any) -> None:
    control.post(endpoint, json=document).raise_for_status()


def state(control: httpx.Client) -> dict[str, Any]:
    return dict(control.get("/state").json())


def counts(control: httpx.Client) -> dict[str, dict[str, int]]:
    return dict(control.get("/calls").json()["counts"])


async def define(client: IntercomClient) -> None:
    await client.create_data_attribute("plan", "contact", "string")
    await client.create_data_attribute("seats", "company", "integer")


# -- contacts -------------------------------------------------------------------------------


async def test_a_contact_is_created_updated_read_and_found(client: IntercomClient) -> None:
    await define(client)
    made = await client.create_contact(
        {"external_id": "u1", "email": "ada@example.com", "custom_attributes": {"plan": "free"}}
    )
    assert len(made.id) == 24
    assert (made.external_id, made.email, made.role, made.archived) == (
        "u1",
        "ada@example.com",
        "user",
        False,
    )
    assert made.custom_attributes == {"plan": "free"}
    updated = await client.update_contact(made.id, {"custom_attributes": {"plan": "pro"}})
    assert (updated.id, updated.email, updated.custom_attributes) == (
        made.id,
        "ada@example.com",
        {"plan": "pro"},
    )
    assert await client.get_contact(made.id) == updated
    assert await client.find_contact_by_external_id("u1") == updated
    assert await client.find_contact_by_external_id("u2") is None


@pytest.mark.parametrize("external_id", ["a/b", "a?b#c", "..", "50% off", "Zoë"])
async def test_ids_with_reserved_characters_address_one_contact(
    client: IntercomClient, external_id: str
) -> None:
    made = await client.create_contact({"external_id": external_id})
    found = await client.find_contact_by_external_id(external_id)
    assert found is not None
    assert found.id == made.id
    company = await client.upsert_company({"company_id": external_id})
    assert await client.get_company_by_company_id(external_id) == company


async def test_archive_unarchive_and_delete_send_no_body_and_take_effect(
    client: IntercomClient, control: httpx.Client
) -> None:
    made = await client.create_contact({"external_id": "u1"})
    await client.archive_contact(made.id)
    with pytest.raises(NotFound) as archived:
        await client.get_contact(made.id)
    assert archived.value.resource == "contact"
    assert await client.find_contact_by_external_id("u1") is None
    await client.unarchive_contact(made.id)
    assert (await client.get_contact(made.id)).id == made.id
    await client.delete_contact(made.id)
    with pytest.raises(NotFound):
        await client.get_contact(made.id)
    assert await client.find_contact_by_external_id("u1") is None
    # The sandbox answers any body on these three with a 400, as Intercom does.
    assert {endpoint: count for endpoint, count in counts(control).items() if "{" in endpoint} == {
        "POST /contacts/{contact_id}/archive": {"200": 1},
        "POST /contacts/{contact_id}/unarchive": {"200": 1},
        "DELETE /contacts/{contact_id}": {"200": 1},
        "GET /contacts/{contact_id}": {"200": 1, "404": 2},
        "GET /contacts/find_by_external_id/{external_id}": {"404": 2},
    }


async def test_search_pages_with_the_cursor_in_the_body(
    client: IntercomClient, control: httpx.Client
) -> None:
    made = [
        (await client.create_contact({"external_id": f"u{n}", "email": f"{n}@example.com"})).id
        for n in range(5)
    ]
    await client.create_contact({"external_id": "other", "email": "other@example.org"})
    query = {"field": "email", "operator": "$", "value": "@example.com"}
    first = await client.search_contacts(query, per_page=2)
    assert [c.id for c in first.contacts] == made[:2]
    assert first.total_count == 5
    assert first.next_cursor is not None
    second = await client.search_contacts(query, per_page=2, starting_after=first.next_cursor)
    assert [c.id for c in second.contacts] == made[2:4]
    assert [c.id async for c in client.search_all_contacts(query, per_page=2)] == made
    # A cursor in the query string would be a 400: search takes no query parameters.
    assert counts(control)["POST /contacts/search"] == {"200": 5}


async def test_contacts_by_email_finds_every_user_with_it(client: IntercomClient) -> None:
    first = await client.create_contact({"external_id": "u1", "email": "team@example.com"})
    second = await client.create_contact({"external_id": "u2", "email": "team@example.com"})
    await client.create_contact({"external_id": "u3", "email": "someone@example.com"})
    found = await client.contacts_by_email("team@example.com")
    assert [c.id for c in found] == [first.id, second.id]
    assert await client.contacts_by_email("nobody@example.com") == []


async def test_with_search_lag_a_new_contact_is_found_by_external_id_not_by_search(
    client: IntercomClient, control: httpx.Client
) -> None:
    post(control, "/config", search_lag=60)
    post(control, "/clock", now=NOW)
    made = await client.create_contact({"external_id": "u1", "email": "ada@example.com"})
    by_external_id = {"field": "external_id", "operator": "=", "value": "u1"}
    page = await client.search_contacts(by_external_id)
    assert (page.contacts, page.total_count) == ((), 0)
    assert await client.contacts_by_email("ada@example.com") == []
    assert await client.find_contact_by_external_id("u1") == made
    post(control, "/clock", advance=60)
    assert [c.id for c in (await client.search_contacts(by_external_id)).contacts] == [made.id]


# -- companies ------------------------------------------------------------------------------


async def contact_companies(sandbox: str, contact_id: str) -> list[Company]:
    """`GET /contacts/{id}/companies`: no delivery reads it, so the client has no call for it."""
    async with httpx.AsyncClient(
        base_url=sandbox, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        response = await http.get(f"/contacts/{contact_id}/companies")
    response.raise_for_status()
    return msgspec.convert(response.json()["data"], list[Company])


async def test_a_company_is_upserted_found_attached_and_detached(
    client: IntercomClient, sandbox: str
) -> None:
    await define(client)
    contact = await client.create_contact({"external_id": "u1"})
    company = await client.upsert_company(
        {"company_id": "g1", "name": "Acme", "custom_attributes": {"seats": 5}}
    )
    assert (company.company_id, company.name) == ("g1", "Acme")
    renamed = await client.upsert_company({"company_id": "g1", "name": "Acme Inc"})
    assert (renamed.id, renamed.name) == (company.id, "Acme Inc")
    assert await client.get_company_by_company_id("g1") == renamed
    assert await client.get_company_by_company_id("g2") is None
    assert await contact_companies(sandbox, contact.id) == []
    assert await client.attach_company(contact.id, company.id) == renamed
    assert await contact_companies(sandbox, contact.id) == [renamed]
    assert await client.detach_company(contact.id, company.id) == renamed
    assert await contact_companies(sandbox, contact.id) == []


async def test_attaching_an_unknown_company_is_a_company_not_found(
    client: IntercomClient,
) -> None:
    contact = await client.create_contact({"external_id": "u1"})
    with pytest.raises(NotFound) as caught:
        await client.attach_company(contact.id, "000000000000000000000000")
    assert (caught.value.resource, caught.value.code, caught.value.status) == (
        "company",
        "company_not_found",
        404,
    )


# -- events ---------------------------------------------------------------------------------


async def test_an_event_keeps_the_first_ten_metadata_keys(
    client: IntercomClient, control: httpx.Client
) -> None:
    contact = await client.create_contact({"external_id": "u1"})
    metadata = {f"key{n:02}": n for n in range(11)}
    event = {"event_name": "Order Completed", "created_at": NOW, "user_id": "u1"}
    await client.create_event(event | {"metadata": metadata})
    assert state(control)["events"] == [
        {
            "contact_id": contact.id,
            "event_name": "Order Completed",
            "created_at": NOW,
            "metadata": {f"key{n:02}": n for n in range(10)},
        }
    ]


@pytest.mark.parametrize("whose", [{"user_id": "u2"}, {"id": "000000000000000000000000"}])
async def test_an_event_for_an_unknown_contact_is_a_contact_not_found(
    client: IntercomClient, whose: dict[str, str]
) -> None:
    with pytest.raises(NotFound) as caught:
        await client.create_event({"event_name": "Signed In", "created_at": NOW, **whose})
    assert (caught.value.resource, caught.value.status) == ("contact", 404)


@pytest.mark.slow
async def test_the_121st_event_name_is_refused(
    client: IntercomClient, control: httpx.Client
) -> None:
    await client.create_contact({"external_id": "u1"})
    for n in range(120):
        await client.create_event({"event_name": f"event {n}", "created_at": NOW, "user_id": "u1"})
    with pytest.raises(EventNameLimit) as caught:
        await client.create_event({"event_name": "one more", "created_at": NOW, "user_id": "u1"})
    assert (caught.value.status, caught.value.transient) == (422, False)
    # A name the workspace already has is still accepted.
    await client.create_event({"event_name": "event 7", "created_at": NOW + 1, "user_id": "u1"})
    assert len(state(control)["events"]) == 121


# -- data attributes and the workspace --------------------------------------------------------


async def test_data_attributes_are_created_and_listed_per_model(client: IntercomClient) -> None:
    plan = await client.create_data_attribute("plan", "contact", "string", "The billing plan")
    assert (plan.name, plan.model, plan.data_type, plan.custom, plan.api_writable) == (
        "plan",
        "contact",
        "string",
        True,
        True,
    )
    seats = await client.create_data_attribute("seats", "company", "integer")
    contact_attributes = await client.list_data_attributes("contact")
    company_attributes = await client.list_data_attributes("company", include_archived=True)
    assert [a for a in contact_attributes if a.custom] == [plan]
    assert [a for a in company_attributes if a.custom] == [seats]
    assert {"email", "external_id"} <= {a.name for a in contact_attributes if not a.custom}
    assert {a.model for a in contact_attributes} == {"contact"}
    assert {a.model for a in company_attributes} == {"company"}


async def test_a_taken_attribute_name_is_refused(client: IntercomClient) -> None:
    await client.create_data_attribute("plan", "contact", "string")
    with pytest.raises(ValidationFailed) as caught:
        await client.create_data_attribute("Plan", "company", "string")
    assert (caught.value.code, caught.value.field) == ("parameter_invalid", "name")


async def test_me_names_the_admin_and_the_workspace(
    client: IntercomClient, control: httpx.Client
) -> None:
    admin = await client.me()
    assert admin.name == "Sandbox Admin"
    assert admin.app is not None
    assert (admin.app.id_code, admin.app.name, admin.app.region) == (
        control.get("/state").json()["app_id"],
        "intercom-destination sandbox",
        "US",
    )


# -- typed errors ---------------------------------------------------------------------------


async def test_a_duplicate_user_is_a_conflict_naming_the_live_then_the_archived_contact(
    client: IntercomClient,
) -> None:
    made = await client.create_contact({"external_id": "u1"})
    with pytest.raises(Conflict) as live:
        await client.create_contact({"external_id": "u1", "email": "ada@example.com"})
    assert (live.value.existing_id, live.value.archived, live.value.status) == (made.id, False, 409)
    await client.archive_contact(made.id)
    with pytest.raises(Conflict) as archived:
        await client.create_contact({"external_id": "u1"})
    assert (archived.value.existing_id, archived.value.archived) == (made.id, True)


async def test_a_lost_create_race_names_the_contact_the_race_created(
    client: IntercomClient, control: httpx.Client
) -> None:
    post(control, "/faults", conflicts=1)
    with pytest.raises(Conflict) as caught:
        await client.create_contact({"external_id": "u1"})
    assert caught.value.existing_id is not None
    found = await client.get_contact(caught.value.existing_id)
    assert found.external_id == "u1"


async def test_a_one_letter_token_leaves_intercoms_messages_readable(sandbox: str) -> None:
    # The sandbox takes any token; masking every "t" of "contact" would lose the 409's id.
    async with connect(sandbox, token="t") as client:
        made = await client.create_contact({"external_id": "u1"})
        await client.archive_contact(made.id)
        with pytest.raises(Conflict) as caught:
            await client.create_contact({"external_id": "u1"})
    assert (caught.value.existing_id, caught.value.archived) == (made.id, True)
    assert caught.value.message.startswith("An archived contact matching")


async def test_an_undefined_custom_attribute_is_named(client: IntercomClient) -> None:
    contact = await client.create_contact({"external_id": "u1"})
    with pytest.raises(UnknownCustomAttribute) as on_contact:
        await client.update_contact(contact.id, {"custom_attributes": {"favourite colour": "red"}})
    assert (on_contact.value.attribute, on_contact.value.status) == ("favourite colour", 400)
    with pytest.raises(UnknownCustomAttribute) as on_company:
        await client.upsert_company({"company_id": "g1", "custom_attributes": {"seats": 5}})
    assert on_company.value.attribute == "seats"


async def test_a_value_of_the_wrong_type_fails_validation(client: IntercomClient) -> None:
    await define(client)
    with pytest.raises(ValidationFailed) as caught:
        await client.create_contact({"external_id": "u1", "custom_attributes": {"plan": 5}})
    assert not isinstance(caught.value, UnknownCustomAttribute)
    assert (caught.value.status, caught.value.code) == (400, "parameter_invalid")
    assert "plan" in caught.value.message


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"external_id": "u1", "nickname": "Ada"}, "bad_request", "nickname"),
        ({"external_id": 5}, "parameter_invalid", "external_id"),
        ({"role": "admin", "external_id": "u1"}, "parameter_invalid", "role"),
    ],
)
async def test_a_body_outside_the_schema_fails_validation_with_intercoms_code(
    client: IntercomClient, body: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await client.create_contact(body)
    assert (caught.value.status, caught.value.code, caught.value.field) == (400, code, field)
    assert not caught.value.transient


async def test_an_event_without_its_timestamp_is_a_missing_parameter(
    client: IntercomClient,
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await client.create_event({"event_name": "Signed In", "user_id": "u1"})
    assert (caught.value.code, caught.value.field) == ("parameter_not_found", "created_at")


@pytest.mark.slow
async def test_a_wrong_token_is_unauthorized_and_reports_no_window(
    start_sandbox: StartSandbox,
) -> None:
    with start_sandbox("--token", TOKEN) as url:
        async with connect(url, token="dG9rOndyb25n") as wrong, connect(url) as right:
            with pytest.raises(Unauthorized) as caught:
                await wrong.me()
            assert (await right.me()).app is not None
    assert (caught.value.status, caught.value.code, caught.value.transient) == (
        401,
        "unauthorized",
        False,
    )
    assert "dG9rOndyb25n" not in repr(caught.value) + str(caught.value)
    # Intercom sends no rate-limit headers with a 401.
    assert wrong.rate_limit.window is None
    assert right.rate_limit.window is not None


async def test_every_answer_records_the_window(
    client: IntercomClient, control: httpx.Client
) -> None:
    post(control, "/clock", now=NOW)
    limit = control.get("/config").json()["rate_limit"]
    made = await client.create_contact({"external_id": "u1"})
    calls: list[Callable[[], Any]] = [
        lambda: client.get_contact(made.id),
        lambda: client.get_contact("000000000000000000000000"),
        lambda: client.create_contact({"external_id": "u1"}),
        lambda: client.create_event({"event_name": "e", "created_at": NOW, "user_id": "u1"}),
        lambda: client.create_contact({"external_id": "u2", "nickname": "x"}),
    ]
    windows = [client.rate_limit.window]
    for call in calls:
        with suppress(NotFound, Conflict, ValidationFailed):
            await call()
        windows.append(client.rate_limit.window)
    assert windows == [
        RateLimitWindow(limit=limit, remaining=limit - used, reset_at=WINDOW_END)
        for used in range(1, 7)
    ]


async def test_past_the_windows_limit_is_rate_limited_until_its_reset(
    client: IntercomClient, control: httpx.Client
) -> None:
    post(control, "/config", rate_limit=2)
    post(control, "/clock", now=NOW)
    await client.me()
    await client.me()
    with pytest.raises(RateLimited) as caught:
        await client.me()
    assert (caught.value.reset_at, caught.value.status, caught.value.transient) == (
        WINDOW_END,
        429,
        True,
    )
    assert client.rate_limit.window == RateLimitWindow(limit=2, remaining=0, reset_at=WINDOW_END)
    post(control, "/clock", now=WINDOW_END)
    await client.me()
    assert client.rate_limit.window == RateLimitWindow(
        limit=2, remaining=1, reset_at=WINDOW_END + 10
    )


@pytest.mark.parametrize("status", [500, 503])
async def test_an_injected_server_error_is_transient(
    client: IntercomClient, control: httpx.Client, status: int
) -> None:
    post(control, "/faults", error_rate=1.0, error_statuses=[status], max_errors=1)
    with pytest.raises(ServerError) as caught:
        await client.me()
    assert (caught.value.status, caught.value.transient) == (status, True)
    assert caught.value.request_id is not None
    assert (await client.me()).app is not None


@pytest.mark.slow
async def test_an_answer_slower_than_the_clients_timeout_is_a_timeout(
    start_sandbox: StartSandbox,
) -> None:
    # A sandbox of its own: the abandoned request must not land in another test's calls.
    with start_sandbox() as url:
        httpx.post(f"{url}/_sandbox/faults", json={"latency_ms": 1000}).raise_for_status()
        async with connect(url, timeouts=Timeouts(total=0.1, connect=0.1)) as client:
            with pytest.raises(Timeout) as caught:
                await client.me()
    assert (caught.value.status, caught.value.transient) == (None, True)
    assert "GET /me" in str(caught.value)


@pytest.mark.parametrize(("configured", "sent"), [(None, "2.14"), ("2.11", "2.11")])
async def test_the_sandbox_sees_the_pinned_intercom_version(
    sandbox: str, control: httpx.Client, configured: str | None, sent: str
) -> None:
    versions = {} if configured is None else {"api_version": configured}
    settings = Settings(access_token=Secret(TOKEN), api_url=sandbox, **versions)
    async with IntercomClient(intercom_connection(settings)) as client:
        await client.me()
        contact = await client.create_contact({"external_id": "u1"})
        await client.archive_contact(contact.id)
    calls = control.get("/calls").json()["calls"]
    assert [call["intercom_version"] for call in calls] == [sent, sent, sent]
