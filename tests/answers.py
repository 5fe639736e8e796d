"""Transports for tests: one that answers from recordings instead of the network and keeps
what it was asked, and one that calls an app in this process."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from multidict import CIMultiDict
from starlette.types import ASGIApp

from intercom_destination.intercom import Answer, Request

Respond = Callable[[Request], Answer]


class Answers:
    """Answers each request with `respond(request)` (which may raise a `SendFailure`
    instead), and keeps the requests, in order."""

    def __init__(self, respond: Respond) -> None:
        self._respond = respond
        self.requests: list[Request] = []

    async def send(self, request: Request) -> Answer:
        self.requests.append(request)
        return self._respond(request)

    async def aclose(self) -> None:
        pass


class InProcess:
    """Sends each request to an ASGI app in this process (the sandbox's), through httpx."""

    def __init__(self, app: ASGIApp) -> None:
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))

    async def send(self, request: Request) -> Answer:
        response = await self._http.request(
            request.method, request.url, headers=request.headers, content=request.body
        )
        return Answer(
            status=response.status_code, headers=response.headers, content=response.content
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def reply(
    status: int,
    *,
    json: Any = None,
    text: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """An answer with `json` encoded, or `text`, or nothing as its body."""
    if text is not None:
        content = text.encode()
    else:
        content = b"" if json is None else jsonlib.dumps(json).encode()
    return Answer(status=status, headers=CIMultiDict(headers or {}), content=content)


def path_of(request: Request) -> str:
    """The path `request` asks for, as sent: escapes left as they are."""
    return urlsplit(request.url).path


def params_of(request: Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url).query))
