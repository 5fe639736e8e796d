"""What the client's `record` hears of each request, for delivery's traces."""

from __future__ import annotations

import pytest

from intercom_destination.delivery.connection import intercom_connection
from intercom_destination.intercom import (
    ConnectionFailed,
    Exchange,
    IntercomClient,
    ServerError,
)
from intercom_destination.intercom.transport import Answer, ConnectionBroken, Request
from intercom_destination.settings import Secret, Settings
from tests.answers import Answers, Respond, reply
from tests.intercom.test_client import TOKEN, contact_json, error_list

pytestmark = pytest.mark.anyio


def recording_client(respond: Respond) -> tuple[IntercomClient, list[Exchange]]:
    heard: list[Exchange] = []
    client = IntercomClient(
        intercom_connection(Settings(access_token=Secret(TOKEN))),
        transport=Answers(respond),
        record=heard.append,
    )
    return client, heard


async def test_a_success_is_recorded_with_its_body_and_request_id() -> None:
    client, heard = recording_client(
        lambda request: reply(200, json=contact_json(), headers={"X-Request-Id": "r-1"})
    )
    async with client:
        await client.create_contact({"external_id": "u-1", "name": f"token {TOKEN}"})
    [exchange] = heard
    assert (exchange.method, exchange.path, exchange.status) == ("POST", "/contacts", 200)
    assert exchange.request_id == "r-1"
    assert exchange.body == '{"external_id":"u-1","name":"token ********"}'
    assert exchange.error is None
    assert exchange.duration >= 0


async def test_an_error_is_recorded_with_intercoms_answer_and_its_request_id() -> None:
    answer = error_list("server_error", f"oops, Bearer {TOKEN}")
    client, heard = recording_client(lambda request: reply(500, json=answer))
    async with client:
        with pytest.raises(ServerError):
            await client.me()
    [exchange] = heard
    assert (exchange.status, exchange.request_id, exchange.body) == (500, "req-7f3a", None)
    assert exchange.error is not None
    assert "oops, Bearer ********" in exchange.error
    assert TOKEN not in exchange.error


async def test_a_request_that_got_no_answer_is_recorded_with_why() -> None:
    def fail(request: Request) -> Answer:
        raise ConnectionBroken("ClientConnectorError: connection refused")

    client, heard = recording_client(fail)
    async with client:
        with pytest.raises(ConnectionFailed):
            await client.me()
    [exchange] = heard
    assert (exchange.status, exchange.request_id) == (None, None)
    assert exchange.error == "GET /me: ClientConnectorError: connection refused"


async def test_bodies_and_answers_are_cut_to_a_bounded_size() -> None:
    client, heard = recording_client(lambda request: reply(500, text="x" * 10_000))
    async with client:
        with pytest.raises(ServerError):
            await client.create_event({"event_name": "e", "metadata": {"note": "y" * 10_000}})
    [exchange] = heard
    assert exchange.body is not None
    assert exchange.error is not None
    assert (len(exchange.body), len(exchange.error)) == (4096, 4096)
