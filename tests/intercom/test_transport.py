"""`AiohttpTransport` against a local server that records what reached it byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import pytest

from intercom_destination.delivery.connection import intercom_connection
from intercom_destination.intercom import IntercomClient
from intercom_destination.intercom.transport import (
    AiohttpTransport,
    ConnectionBroken,
    Request,
    SendFailure,
    TimedOut,
    Timeouts,
)
from intercom_destination.settings import Secret, Settings

pytestmark = pytest.mark.anyio

TOKEN = "dG9rOnRyYW5zcG9ydA=="
BODY = b'{"type": "contact", "id": "c-1"}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-RateLimit-Remaining: 7\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
QUICK = Timeouts(total=0.2, connect=0.2)


class Server:
    """Answers every request with `ANSWER` and keeps each request's head; or, when
    `behaviour` says so, closes the connection or never answers."""

    def __init__(self, behaviour: str = "answer") -> None:
        self.behaviour = behaviour
        self.heads: list[bytes] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.heads.append(head)
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if self.behaviour == "hang up":
                    break
                if self.behaviour == "answer":
                    writer.write(ANSWER)
                    await writer.drain()
        if self.behaviour != "never answer":
            writer.close()

    def request_lines(self) -> list[str]:
        return [head.split(b"\r\n")[0].decode() for head in self.heads]


@contextlib.asynccontextmanager
async def serving(behaviour: str = "answer") -> AsyncIterator[Server]:
    server = Server(behaviour)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    async with listening:
        yield server
        listening.close()


def request(server: Server, path: str = "/me", token: str = TOKEN) -> Request:
    return Request("GET", server.url + path, {"Authorization": f"Bearer {token}"})


async def test_an_answer_carries_status_headers_and_body() -> None:
    async with serving() as server:
        transport = AiohttpTransport(QUICK, connections=2)
        answer = await transport.send(request(server))
        await transport.aclose()
    assert (answer.status, answer.is_success) == (200, True)
    assert answer.headers["x-ratelimit-remaining"] == "7"
    assert answer.content == BODY


async def test_the_client_sends_escaped_ids_and_params_byte_for_byte() -> None:
    async with serving() as server:
        settings = Settings(access_token=Secret(TOKEN), api_url=f"{server.url}/base/")
        async with IntercomClient(intercom_connection(settings)) as client:
            await client.find_contact_by_external_id("..")
            await client.update_contact("a/..", {"name": "Ada"})
            await client.get_contact("team/a b@c.io?x#y")
            await client.get_company_by_company_id("a/b c&d")
    assert server.request_lines() == [
        "GET /base/contacts/find_by_external_id/%2E%2E HTTP/1.1",
        "PUT /base/contacts/a%2F.. HTTP/1.1",
        "GET /base/contacts/team%2Fa%20b%40c.io%3Fx%23y HTTP/1.1",
        "GET /base/companies?company_id=a%2Fb%20c%26d HTTP/1.1",
    ]
    head = server.heads[1].decode().lower()
    assert f"authorization: bearer {TOKEN}".lower() in head
    assert "intercom-version: 2.14\r\n" in head
    assert "content-type: application/json\r\n" in head
    assert "user-agent: intercom-destination/" in head


async def test_connections_are_kept_alive_between_requests() -> None:
    async with serving() as server:
        transport = AiohttpTransport(QUICK, connections=2)
        for _ in range(3):
            await transport.send(request(server))
        await transport.aclose()
    # One connection served all three: `Server.handle` reads them one after another.
    assert len(server.heads) == 3


@pytest.mark.parametrize(
    ("behaviour", "failure", "message"),
    [
        ("hang up", ConnectionBroken, "ServerDisconnectedError: Server disconnected"),
        ("never answer", TimedOut, "TimeoutError"),
    ],
)
async def test_no_answer_is_a_failure_without_a_link_to_the_request(
    behaviour: str, failure: type[SendFailure], message: str
) -> None:
    async with serving(behaviour) as server:
        transport = AiohttpTransport(QUICK, connections=2)
        with pytest.raises(failure) as caught:
            await transport.send(request(server))
        await transport.aclose()
    assert str(caught.value) == message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


async def test_a_refused_connection_is_a_broken_one() -> None:
    async with serving() as server:
        url = server.url
    transport = AiohttpTransport(QUICK, connections=2)
    with pytest.raises(ConnectionBroken, match="ClientConnectorError") as caught:
        await transport.send(Request("GET", f"{url}/me", {"Authorization": f"Bearer {TOKEN}"}))
    await transport.aclose()
    assert caught.value.__context__ is None


@pytest.mark.parametrize("character", ["\n", "\r", "\x00", "\x1b"])
async def test_a_header_http_cannot_carry_is_refused_unsent_and_unquoted(character: str) -> None:
    async with serving() as server:
        transport = AiohttpTransport(QUICK, connections=2)
        with pytest.raises(SendFailure) as caught:
            await transport.send(request(server, token=f"{TOKEN}{character}x"))
        await transport.aclose()
    assert str(caught.value) == "a header holds a character HTTP cannot carry"
    assert server.heads == []


def test_the_session_is_made_in_the_loop_that_sends() -> None:
    # Library mode: the transport is built on one thread, and used on another's loop.
    transport = AiohttpTransport(QUICK, connections=2)
    statuses: list[int] = []

    async def use() -> None:
        async with serving() as server:
            statuses.append((await transport.send(request(server))).status)
            await transport.aclose()

    thread = threading.Thread(target=asyncio.run, args=(use(),))
    thread.start()
    thread.join()
    assert statuses == [200]


async def test_a_closed_transport_sends_nothing() -> None:
    async with serving() as server:
        transport = AiohttpTransport(QUICK, connections=2)
        await transport.aclose()
        with pytest.raises(RuntimeError):
            await transport.send(request(server))
    assert server.heads == []


async def test_the_proxy_the_environment_names_carries_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A company's egress proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as other HTTP clients honour.
    async with serving() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        transport = AiohttpTransport(QUICK, connections=2)
        answer = await transport.send(Request("GET", "http://intercom.invalid/me", {}))
        await transport.aclose()
    assert answer.status == 200
    assert proxy.request_lines() == ["GET http://intercom.invalid/me HTTP/1.1"]


async def test_a_host_no_proxy_names_is_called_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serving() as proxy, serving() as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        transport = AiohttpTransport(QUICK, connections=2)
        await transport.send(request(server))
        await transport.aclose()
    assert (proxy.request_lines(), server.request_lines()) == ([], ["GET /me HTTP/1.1"])
