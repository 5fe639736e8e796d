"""Segment events as a client sends them, about users named by userId, at a second past
2026-11-28T10:00:00Z."""

from __future__ import annotations

from typing import Any


def identify(user: str, email: str, **traits: object) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "traits": {"email": email, **traits},
        "timestamp": _at(0),
    }


def track(user: str, name: str, second: int, **properties: object) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "properties": properties,
        "timestamp": _at(second),
    }


def group(user: str, company: str, second: int, **traits: object) -> dict[str, Any]:
    return {
        "type": "group",
        "userId": user,
        "groupId": company,
        "traits": traits,
        "timestamp": _at(second),
    }


def _at(second: int) -> str:
    return f"2026-11-28T10:00:{second:02d}Z"
