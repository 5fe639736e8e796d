"""A transport that records every Intercom request and answer, and a way to compare two
recordings made against different sandboxes, whose Intercom ids differ."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from intercom_destination.intercom import AiohttpTransport, Answer, Request
from tests.answers import path_of


class Exchange(msgspec.Struct, frozen=True):
    method: str
    path: str
    body: Any
    status: int
    answer: Any


class Recording:
    def __init__(self) -> None:
        self._network = AiohttpTransport()
        self.exchanges: list[Exchange] = []

    async def send(self, request: Request) -> Answer:
        answer = await self._network.send(request)
        self.exchanges.append(
            Exchange(
                request.method,
                path_of(request),
                _json(request.body or b""),
                answer.status,
                _json(answer.content),
            )
        )
        return answer

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
