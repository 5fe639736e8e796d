"""A transport that records every Intercom request and answer, and a way to compare two
recordings made against different sandboxes, whose Intercom ids differ."""

from __future__ import annotations

import re
from typing import Any

import httpx
import msgspec


class Exchange(msgspec.Struct, frozen=True):
    method: str
    path: str
    body: Any
    status: int
    answer: Any


class Recording(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._network = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._network.handle_async_request(request)
        content = await response.aread()
        self.exchanges.append(
            Exchange(
                request.method,
                request.url.raw_path.decode(),
                _json(request.content),
                response.status_code,
                _json(content),
            )
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self._network.aclose()


def requests(exchanges: list[Exchange]) -> list[tuple[str, str, str]]:
    """The requests, in a canonical order, with each Intercom id replaced by what it names
    (`contact:u1`, `company:acme`), as the answers tell."""
    names: dict[str, str] = {}
    for exchange in exchanges:
        _learn(exchange.answer, names)
    pattern = re.compile("|".join(map(re.escape, names))) if names else None

    def named(text: str) -> str:
        return pattern.sub(lambda m: names[m.group(0)], text) if pattern else text

    return sorted(
        (e.method, named(e.path), named(msgspec.json.encode(e.body, order="sorted").decode()))
        for e in exchanges
    )


def _learn(answer: Any, names: dict[str, str]) -> None:
    if isinstance(answer, list):
        for item in answer:
            _learn(item, names)
    elif isinstance(answer, dict):
        kind, identifier = answer.get("type"), answer.get("id")
        if kind == "contact" and identifier:
            names[identifier] = f"contact:{answer.get('external_id') or answer.get('email')}"
        elif kind == "company" and identifier:
            names[identifier] = f"company:{answer.get('company_id')}"
        for value in answer.values():
            _learn(value, names)


def _json(content: bytes) -> Any:
    return msgspec.json.decode(content) if content.strip() else None
