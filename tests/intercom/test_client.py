"""The Intercom client against recorded Intercom answers, over a recorded-answers transport."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from intercom_destination.delivery.connection import intercom_connection
from intercom_destination.intercom import (
    Admin,
    Answer,
    App,
    Company,
    Conflict,
    ConnectionFailed,
    Contact,
    ContactMerged,
    DataAttribute,
    EventNameLimit,
    Forbidden,
    IntercomClient,
    IntercomError,
    NotFound,
    RateLimited,
    RateLimitState,
    RateLimitWindow,
    ServerError,
    Timeout,
    Unauthorized,
    UnexpectedResponse,
    UnknownCustomAttribute,
    Unsendable,
    ValidationFailed,
)
from intercom_destination.intercom.transport import (
    ConnectionBroken,
    Request,
    SendFailure,
    TimedOut,
)
from intercom_destination.settings import Secret, Settings, SettingsError
from tests.answers import Answers, Respond, params_of, path_of, reply

pytestmark = pytest.mark.anyio

TOKEN = "dG9rOjEyMzQ1Njc4OTBhYmNkZWY="
CONTACT_ID = "6762f0dd1bb69f9f2193bb83"


def make_client(respond: Respond, **settings: Any) -> tuple[IntercomClient, list[Request]]:
    answers = Answers(respond)
    client = IntercomClient(
        intercom_connection(Settings(access_token=Secret(TOKEN), **settings)), transport=answers
    )
    return client, answers.requests


def answer(status: int = 200, body: Any = None, **headers: str) -> Respond:
    return lambda request: reply(status, json=body, headers=headers)


def error_list(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error = {"code": code, "message": message} | ({"field": field} if field else {})
    return {"type": "error.list", "request_id": "req-7f3a", "errors": [error]}


def contact_json(**fields: Any) -> dict[str, Any]:
    # A trimmed real response: fields the client does not model must be ignored.
    return {
        "type": "contact",
        "id": CONTACT_ID,
        "workspace_id": "this_is_an_id307",
        "external_id": "u-1",
        "role": "user",
        "email": "ada@example.com",
        "phone": None,
        "location": {"type": "location", "country": None},
        "custom_attributes": {"plan": "pro"},
        **fields,
    }


COMPANY = {"type": "company", "id": "6762f07a", "company_id": "acme", "name": "Acme", "plan": {}}


# Headers, regions, and secrets.


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us", "https://api.intercom.io/me"),
        ("eu", "https://api.eu.intercom.io/me"),
        ("au", "https://api.au.intercom.io/me"),
    ],
)
async def test_every_request_names_region_version_token_and_agent(region: str, url: str) -> None:
    client, requests = make_client(answer(200, {"type": "admin"}), region=region)
    async with client:
        await client.me()
    (request,) = requests
    assert request.url == url
    assert request.headers["Intercom-Version"] == "2.14"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("intercom-destination/")


async def test_api_url_overrides_the_region_and_the_version_is_configurable() -> None:
    client, requests = make_client(
        answer(200, contact_json()),
        region="eu",
        api_url="http://127.0.0.1:8765/intercom/",
        api_version="2.16",
    )
    async with client:
        await client.get_contact(CONTACT_ID)
    assert requests[0].url == f"http://127.0.0.1:8765/intercom/contacts/{CONTACT_ID}"
    assert requests[0].headers["Intercom-Version"] == "2.16"


async def test_the_token_is_in_no_repr_of_the_client() -> None:
    client, _ = make_client(answer())
    async with client:
        for text in (repr(client), str(client), repr(client.rate_limit)):
            assert TOKEN not in text
        assert (
            repr(client) == "IntercomClient(base_url='https://api.intercom.io', api_version='2.14')"
        )


def test_a_client_keeps_as_many_connections_as_lanes_run_at_once() -> None:
    settings = Settings(access_token=Secret(TOKEN), concurrency=7)
    assert intercom_connection(settings).connections == 7


def test_a_client_needs_a_token() -> None:
    with pytest.raises(SettingsError, match="access_token"):
        intercom_connection(Settings())


async def test_a_closed_client_sends_nothing() -> None:
    client, requests = make_client(answer(200, {"type": "admin"}))
    async with client:
        pass
    with pytest.raises(RuntimeError):
        await client.me()
    assert requests == []


# Errors: every non-2xx answer becomes a typed error.

ERRORS: list[tuple[str, int, Any, dict[str, str], type[IntercomError], dict[str, Any]]] = [
    (
        "409 live contact",
        409,
        error_list(
            "conflict", f"A contact matching those details already exists with id={CONTACT_ID}"
        ),
        {},
        Conflict,
        {"existing_id": CONTACT_ID, "archived": False, "code": "conflict"},
    ),
    (
        "409 archived contact",
        409,
        error_list(
            "conflict",
            "An archived contact matching those details already exists with id=6762f0dd1bb6aa",
        ),
        {},
        Conflict,
        {"existing_id": "6762f0dd1bb6aa", "archived": True},
    ),
    (
        "409 without an id",
        409,
        error_list("conflict", "A contact matching those details already exists"),
        {},
        Conflict,
        {"existing_id": None, "archived": False},
    ),
    (
        "404 user not found",
        404,
        error_list("not_found", "User Not Found"),
        {},
        NotFound,
        {"resource": "contact", "code": "not_found", "message": "User Not Found"},
    ),
    (
        "404 company not found",
        404,
        error_list("company_not_found", "Company Not Found"),
        {},
        NotFound,
        {"resource": "company"},
    ),
    (
        "404 other resource",
        404,
        error_list("not_found", "Resource Not Found"),
        {},
        NotFound,
        {"resource": "other"},
    ),
    (
        "410 merged contact",
        410,
        error_list(
            "contact_merged",
            "This contact has been merged. See the 'Link' header for the canonical contact.",
        ),
        {"Link": '</contacts/6762f0dd1bb69f9f2193ffff>; rel="canonical"'},
        ContactMerged,
        {"canonical_id": "6762f0dd1bb69f9f2193ffff", "code": "contact_merged"},
    ),
    (
        "400 undefined custom attribute",
        400,
        error_list("parameter_invalid", "Custom attribute 'plan tier' does not exist"),
        {},
        UnknownCustomAttribute,
        {"attribute": "plan tier", "code": "parameter_invalid"},
    ),
    (
        "422 event-name limit, error list",
        422,
        {
            "type": "error.list",
            "errors": [{"code": "422", "message": "Cannot have more than 120 active event names"}],
        },
        {},
        EventNameLimit,
        {"code": "422", "request_id": None},
    ),
    (
        "422 event-name limit, older body",
        422,
        {"error_message": "Cannot have more than 120 active event names"},
        {},
        EventNameLimit,
        {"code": None, "message": "Cannot have more than 120 active event names"},
    ),
    (
        "400 unknown parameter",
        400,
        error_list("bad_request", "bad 'test' parameter"),
        {},
        ValidationFailed,
        {"code": "bad_request", "field": None},
    ),
    (
        "400 invalid field",
        400,
        error_list("parameter_invalid", "Email is invalid", field="email"),
        {},
        ValidationFailed,
        {"field": "email"},
    ),
    (
        "422 data invalid",
        422,
        error_list(
            "data_invalid", "The Data Attribute you are trying to archive has a dependant object"
        ),
        {},
        ValidationFailed,
        {"code": "data_invalid"},
    ),
    (
        "401",
        401,
        error_list("unauthorized", "Access Token Invalid"),
        {},
        Unauthorized,
        {"status": 401, "request_id": "req-7f3a"},
    ),
    (
        "403",
        403,
        error_list("api_plan_restricted", "Active subscription needed."),
        {},
        Forbidden,
        {"code": "api_plan_restricted"},
    ),
    (
        "429",
        429,
        error_list("rate_limit_exceeded", "Exceeded rate limit of 167 in 10_seconds"),
        {
            "X-RateLimit-Limit": "167",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "1764370010",
        },
        RateLimited,
        {"reset_at": 1764370010},
    ),
    (
        "500",
        500,
        error_list("server_error", "Server Error"),
        {},
        ServerError,
        {"status": 500},
    ),
    (
        "503",
        503,
        error_list("service_unavailable", "Sorry, the API service is temporarily unavailable"),
        {},
        ServerError,
        {"status": 503, "code": "service_unavailable"},
    ),
]
TRANSIENT = (RateLimited, ServerError, Timeout, ConnectionFailed)


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "attributes"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
async def test_error_answers_become_typed_errors(
    status: int,
    body: Any,
    headers: dict[str, str],
    kind: type[IntercomError],
    attributes: dict[str, Any],
) -> None:
    client, _ = make_client(answer(status, body, **headers))
    async with client:
        with pytest.raises(IntercomError) as caught:
            await client.create_contact({"external_id": "u-1"})
    error = caught.value
    assert type(error) is kind
    assert error.status == status
    assert error.transient is isinstance(error, TRANSIENT)
    for name, value in attributes.items():
        assert getattr(error, name) == value, name
    assert error.message in str(error)
    for text in (str(error), repr(error)):
        assert TOKEN not in text


@pytest.mark.parametrize(
    ("status", "kind"), [(502, ServerError), (400, ValidationFailed), (404, NotFound)]
)
async def test_a_non_json_error_body_becomes_the_message(
    status: int, kind: type[IntercomError]
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    client, _ = make_client(lambda request: reply(status, text=page))
    async with client:
        with pytest.raises(kind) as caught:
            await client.get_contact(CONTACT_ID)
    assert caught.value.code is None
    assert caught.value.message == page


async def test_an_error_body_that_echoes_the_token_is_redacted() -> None:
    echo = error_list("unauthorized", f"Bad header: Authorization: Bearer {TOKEN}")
    client, _ = make_client(answer(401, echo))
    async with client:
        with pytest.raises(Unauthorized) as caught:
            await client.me()
    assert caught.value.message == "Bad header: Authorization: Bearer ********"


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (TimedOut("SocketTimeoutError"), Timeout),
        (TimedOut("ConnectionTimeoutError"), Timeout),
        (ConnectionBroken("ClientConnectorError: it broke"), ConnectionFailed),
        (ConnectionBroken("ServerDisconnectedError: it broke"), ConnectionFailed),
    ],
)
async def test_transport_failures_become_transient_errors(
    failure: SendFailure, kind: type[IntercomError]
) -> None:
    def fail(request: Request) -> Answer:
        raise failure

    client, _ = make_client(fail)
    async with client:
        with pytest.raises(kind) as caught:
            await client.get_contact(CONTACT_ID)
    error = caught.value
    assert error.transient
    assert error.status is None
    assert f"GET /contacts/{CONTACT_ID}" in str(error)
    # Nothing links back to the transport's exception, which may hold the request.
    assert error.__cause__ is None
    assert error.__context__ is None
    assert TOKEN not in repr(error)


async def test_connection_refused_is_a_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(access_token=Secret(TOKEN), api_url=f"http://127.0.0.1:{port}")
    async with IntercomClient(intercom_connection(settings)) as client:
        with pytest.raises(ConnectionFailed) as caught:
            await client.me()
    assert caught.value.transient
    assert TOKEN not in str(caught.value)


async def test_a_header_http_cannot_carry_is_a_configuration_error_without_the_header() -> None:
    # Settings made in code skip what loading them checks; the client must still not put the
    # token in an error (h11 quotes the whole header it refuses), nor call it transient.
    token = f"{TOKEN}\n"
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        async with IntercomClient(
            intercom_connection(Settings(access_token=Secret(token), api_url=url))
        ) as client:
            with pytest.raises(Unsendable) as caught:
                await client.me()
    error = caught.value
    assert not error.transient
    assert str(error) == (
        "GET /me: a header holds a character HTTP cannot carry (check access_token and api_version)"
    )
    assert error.__cause__ is None
    assert error.__context__ is None


async def test_an_api_url_that_is_not_http_is_a_configuration_error() -> None:
    settings = Settings(access_token=Secret(TOKEN), api_url="ftp://127.0.0.1:8089")
    async with IntercomClient(intercom_connection(settings)) as client:
        with pytest.raises(Unsendable) as caught:
            await client.me()
    assert not caught.value.transient
    assert str(caught.value) == (
        "GET /me: NonHttpUrlClientError: ftp://127.0.0.1:8089/me (check INTERCOM_API_URL)"
    )


async def test_a_transport_failure_that_quotes_the_token_is_redacted() -> None:
    def fail(request: Request) -> Answer:
        raise ConnectionBroken(f"ServerDisconnectedError: bad request line: Bearer {TOKEN}")

    client, _ = make_client(fail)
    async with client:
        with pytest.raises(ConnectionFailed) as caught:
            await client.me()
    assert str(caught.value) == (
        "GET /me: ServerDisconnectedError: bad request line: Bearer ********"
    )


async def test_a_408_is_a_timeout() -> None:
    client, _ = make_client(answer(408, error_list("request_timeout", "Request Timeout")))
    async with client:
        with pytest.raises(Timeout) as caught:
            await client.me()
    assert caught.value.transient
    assert caught.value.status == 408


async def test_a_success_with_an_unreadable_body_is_unexpected() -> None:
    client, _ = make_client(lambda request: reply(200, text="<html>login</html>"))
    async with client:
        with pytest.raises(UnexpectedResponse) as caught:
            await client.get_contact(CONTACT_ID)
    assert not caught.value.transient
    assert caught.value.status == 200


# Rate-limit state.


def window_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


async def test_every_response_updates_the_rate_limit_window() -> None:
    answers = iter(
        [
            reply(200, json=contact_json(), headers=window_headers(167, 120, 1000)),
            # Same window, counted earlier but arriving later: keeps the lower count.
            reply(200, json=contact_json(), headers=window_headers(167, 130, 1000)),
            # An earlier window arriving late changes nothing.
            reply(200, json=contact_json(), headers=window_headers(167, 5, 990)),
            reply(200, json=contact_json()),
            reply(200, json=contact_json(), headers=window_headers(167, 119, 1000)),
            reply(
                429,
                json=error_list("rate_limit_exceeded", "Exceeded rate limit of 167 in 10_seconds"),
                headers=window_headers(167, 0, 1010),
            ),
        ]
    )
    client, _ = make_client(lambda request: next(answers))
    seen: list[RateLimitWindow | None] = []
    async with client:
        assert client.rate_limit.window is None
        for _ in range(5):
            await client.get_contact(CONTACT_ID)
            seen.append(client.rate_limit.window)
        with pytest.raises(RateLimited):
            await client.get_contact(CONTACT_ID)
        seen.append(client.rate_limit.window)
    first = RateLimitWindow(limit=167, remaining=120, reset_at=1000)
    assert seen == [
        first,
        first,
        first,
        first,
        RateLimitWindow(limit=167, remaining=119, reset_at=1000),
        RateLimitWindow(limit=167, remaining=0, reset_at=1010),
    ]


async def test_clients_can_share_one_rate_limit_state() -> None:
    shared = RateLimitState()
    transport = Answers(lambda request: reply(200, json={}, headers=window_headers(167, 42, 2000)))
    settings = Settings(access_token=Secret(TOKEN))
    async with IntercomClient(
        intercom_connection(settings), transport=transport, rate_limit=shared
    ) as client:
        await client.me()
    assert shared.window == RateLimitWindow(limit=167, remaining=42, reset_at=2000)


# Search and paging.


async def test_search_pages_through_with_the_cursor_in_the_body() -> None:
    pages = {
        None: (["c1", "c2"], "cursor-2"),
        "cursor-2": (["c3", "c4"], "cursor-3"),
        "cursor-3": (["c5"], None),
    }

    def search(request: Request) -> Answer:
        cursor = json.loads(request.body)["pagination"].get("starting_after")
        ids, following = pages[cursor]
        nxt = {"per_page": 2, "starting_after": following} if following else None
        return reply(
            200,
            json={
                "type": "list",
                "data": [contact_json(id=i) for i in ids],
                "total_count": 5,
                "pages": {"type": "pages", "page": 1, "per_page": 2, "next": nxt},
            },
        )

    client, requests = make_client(search)
    query = {"field": "email", "operator": "=", "value": "ada@example.com"}
    async with client:
        found = [contact.id async for contact in client.search_all_contacts(query, per_page=2)]
    assert found == ["c1", "c2", "c3", "c4", "c5"]
    assert [json.loads(r.body) for r in requests] == [
        {"query": query, "pagination": {"per_page": 2}},
        {"query": query, "pagination": {"per_page": 2, "starting_after": "cursor-2"}},
        {"query": query, "pagination": {"per_page": 2, "starting_after": "cursor-3"}},
    ]
    assert all(r.method == "POST" and path_of(r) == "/contacts/search" for r in requests)
    assert all(not params_of(r) and "?" not in r.url for r in requests)


async def test_one_search_page_reports_its_cursor() -> None:
    body = {
        "type": "list",
        "data": [contact_json()],
        "total_count": 9,
        "pages": {"type": "pages", "next": {"per_page": 1, "starting_after": "WzE3MzQ1"}},
    }
    client, _ = make_client(answer(200, body))
    async with client:
        page = await client.search_contacts({"field": "role", "operator": "=", "value": "user"})
    assert [c.id for c in page.contacts] == [CONTACT_ID]
    assert (page.total_count, page.next_cursor) == (9, "WzE3MzQ1")


async def test_a_search_that_repeats_its_cursor_stops() -> None:
    body = {
        "type": "list",
        "data": [contact_json()],
        "pages": {"type": "pages", "next": {"starting_after": "same"}},
    }
    client, requests = make_client(answer(200, body))
    async with client:
        with pytest.raises(UnexpectedResponse, match="cursor"):
            await client.contacts_by_email("ada@example.com")
    assert len(requests) == 2


async def test_contacts_by_email_searches_for_the_exact_email() -> None:
    body = {"type": "list", "data": [contact_json(), contact_json(id="other")], "total_count": 2}
    client, requests = make_client(answer(200, body))
    async with client:
        found = await client.contacts_by_email("ada@example.com")
    assert [c.id for c in found] == [CONTACT_ID, "other"]
    assert json.loads(requests[0].body) == {
        "query": {"field": "email", "operator": "=", "value": "ada@example.com"},
        "pagination": {"per_page": 150},
    }


# Operations: request sent and result decoded.


async def test_create_contact_decodes_the_fields_the_engine_uses() -> None:
    client, requests = make_client(answer(200, contact_json()))
    async with client:
        contact = await client.create_contact({"role": "user", "external_id": "u-1"})
    assert contact == Contact(
        id=CONTACT_ID,
        external_id="u-1",
        email="ada@example.com",
        role="user",
        archived=False,
        custom_attributes={"plan": "pro"},
    )
    assert (requests[0].method, path_of(requests[0])) == ("POST", "/contacts")
    assert json.loads(requests[0].body) == {"role": "user", "external_id": "u-1"}


OPERATIONS: list[tuple[str, Callable[[IntercomClient], Any], str, str, Any]] = [
    (
        "update_contact",
        lambda c: c.update_contact(CONTACT_ID, {"name": "Ada"}),
        "PUT",
        f"/contacts/{CONTACT_ID}",
        {"name": "Ada"},
    ),
    ("get_contact", lambda c: c.get_contact(CONTACT_ID), "GET", f"/contacts/{CONTACT_ID}", None),
    (
        "delete_contact",
        lambda c: c.delete_contact(CONTACT_ID),
        "DELETE",
        f"/contacts/{CONTACT_ID}",
        None,
    ),
    (
        "archive_contact",
        lambda c: c.archive_contact(CONTACT_ID),
        "POST",
        f"/contacts/{CONTACT_ID}/archive",
        None,
    ),
    (
        "unarchive_contact",
        lambda c: c.unarchive_contact(CONTACT_ID),
        "POST",
        f"/contacts/{CONTACT_ID}/unarchive",
        None,
    ),
    (
        "upsert_company",
        lambda c: c.upsert_company({"company_id": "acme", "name": "Acme"}),
        "POST",
        "/companies",
        {"company_id": "acme", "name": "Acme"},
    ),
    (
        "attach_company",
        lambda c: c.attach_company(CONTACT_ID, "6762f07a"),
        "POST",
        f"/contacts/{CONTACT_ID}/companies",
        {"id": "6762f07a"},
    ),
    (
        "detach_company",
        lambda c: c.detach_company(CONTACT_ID, "6762f07a"),
        "DELETE",
        f"/contacts/{CONTACT_ID}/companies/6762f07a",
        None,
    ),
    (
        "create_event",
        lambda c: c.create_event({"event_name": "signed-up", "created_at": 1, "user_id": "u-1"}),
        "POST",
        "/events",
        {"event_name": "signed-up", "created_at": 1, "user_id": "u-1"},
    ),
    (
        "create_data_attribute",
        lambda c: c.create_data_attribute("plan tier", "contact", "string"),
        "POST",
        "/data_attributes",
        {"name": "plan tier", "model": "contact", "data_type": "string"},
    ),
    (
        "create_data_attribute with a description",
        lambda c: c.create_data_attribute("seats", "company", "integer", "Seats bought"),
        "POST",
        "/data_attributes",
        {
            "name": "seats",
            "model": "company",
            "data_type": "integer",
            "description": "Seats bought",
        },
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "body"),
    [case[1:] for case in OPERATIONS],
    ids=[case[0] for case in OPERATIONS],
)
async def test_each_operation_sends_its_request(
    call: Callable[[IntercomClient], Any], method: str, path: str, body: Any
) -> None:
    def respond(request: Request) -> Answer:
        path = path_of(request)
        if path == "/events":
            return reply(202)
        if path == "/data_attributes":
            return reply(200, json={"type": "data_attribute", "id": 37, "name": "x"})
        return reply(200, json=COMPANY if "companies" in path else contact_json())

    client, requests = make_client(respond)
    async with client:
        await call(client)
    (request,) = requests
    assert (request.method, path_of(request)) == (method, path)
    assert (json.loads(request.body) if request.body else None) == body


async def test_company_results_decode() -> None:
    client, _ = make_client(answer(200, COMPANY))
    async with client:
        assert await client.upsert_company({"company_id": "acme"}) == Company(
            id="6762f07a", company_id="acme", name="Acme"
        )
        assert await client.attach_company(CONTACT_ID, "6762f07a") == Company(
            id="6762f07a", company_id="acme", name="Acme"
        )


async def test_ids_are_escaped_as_one_path_segment() -> None:
    client, requests = make_client(answer(200, contact_json()))
    async with client:
        await client.find_contact_by_external_id("team/a b@c.io?x#y")
        await client.find_contact_by_external_id("..")
        await client.update_contact("a/..", {})
    assert [path_of(r) for r in requests] == [
        "/contacts/find_by_external_id/team%2Fa%20b%40c.io%3Fx%23y",
        "/contacts/find_by_external_id/%2E%2E",
        "/contacts/a%2F..",
    ]


async def test_an_empty_id_is_refused_before_sending() -> None:
    client, requests = make_client(answer(200, contact_json()))
    async with client:
        with pytest.raises(ValueError, match="empty"):
            await client.get_contact("")
    assert requests == []


async def test_find_by_external_id_returns_none_when_unknown() -> None:
    client, _ = make_client(answer(404, error_list("not_found", "User Not Found")))
    async with client:
        assert await client.find_contact_by_external_id("u-404") is None


async def test_find_by_external_id_raises_for_a_merged_contact() -> None:
    merged = error_list("contact_merged", "This contact has been merged.")
    client, _ = make_client(answer(410, merged, Link='</contacts/abc123>; rel="canonical"'))
    async with client:
        with pytest.raises(ContactMerged) as caught:
            await client.find_contact_by_external_id("u-1")
    assert caught.value.canonical_id == "abc123"


@pytest.mark.parametrize(
    "body",
    [
        COMPANY,
        {"type": "list", "data": [{**COMPANY, "company_id": "acme-2"}, COMPANY], "total_count": 2},
    ],
    ids=["company", "list"],
)
async def test_get_company_by_company_id(body: Any) -> None:
    client, requests = make_client(answer(200, body))
    async with client:
        company = await client.get_company_by_company_id("acme")
    assert company == Company(id="6762f07a", company_id="acme", name="Acme")
    assert path_of(requests[0]) == "/companies"
    assert params_of(requests[0])["company_id"] == "acme"


async def test_get_company_by_company_id_returns_none_when_unknown() -> None:
    client, _ = make_client(answer(404, error_list("company_not_found", "Company Not Found")))
    async with client:
        assert await client.get_company_by_company_id("nope") is None


async def test_list_data_attributes() -> None:
    body = {
        "type": "list",
        "data": [
            {
                "type": "data_attribute",
                "name": "plan",
                "full_name": "custom_attributes.plan",
                "data_type": "string",
                "api_writable": True,
                "custom": True,
                "archived": False,
                "model": "contact",
            },
            {"type": "data_attribute", "name": "name", "data_type": "string", "model": "contact"},
        ],
    }
    client, requests = make_client(answer(200, body))
    async with client:
        found = await client.list_data_attributes("contact", include_archived=True)
    assert found == [
        DataAttribute(
            name="plan",
            data_type="string",
            model="contact",
            custom=True,
            archived=False,
            api_writable=True,
        ),
        DataAttribute(name="name", data_type="string", model="contact"),
    ]
    assert path_of(requests[0]) == "/data_attributes"
    assert params_of(requests[0]) == {"model": "contact", "include_archived": "true"}


async def test_me_describes_the_workspace() -> None:
    body = {
        "type": "admin",
        "id": "991267459",
        "email": "admin1@email.com",
        "name": "Ciaran1 Lee",
        "app": {
            "type": "app",
            "id_code": "abc123",
            "name": "MyApp 1",
            "region": "US",
            "timezone": "America/Los_Angeles",
        },
    }
    client, requests = make_client(answer(200, body))
    async with client:
        admin = await client.me()
    assert admin == Admin(
        email="admin1@email.com",
        name="Ciaran1 Lee",
        app=App(id_code="abc123", name="MyApp 1", region="US", timezone="America/Los_Angeles"),
    )
    assert (requests[0].method, path_of(requests[0])) == ("GET", "/me")
