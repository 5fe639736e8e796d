"""Builders for the store tests."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import msgspec
import psycopg

from intercom_destination.store import NewEvent, Store
from intercom_destination.store.postgres import schema as postgres_schema
from intercom_destination.store.sqlite import schema as sqlite_schema

NOW = 1_000_000.0


def event(
    message_id: str,
    user_id: str | None = "u1",
    *,
    anonymous_id: str | None = None,
    type: str = "track",
    received_at: float = NOW,
    name: str | None = None,
    email: str | None = None,
) -> NewEvent:
    """An event; a track's `name`, and an `email` in its context's traits, when given."""
    body: dict[str, Any] = {
        "type": type,
        "messageId": message_id,
        "userId": user_id,
        "anonymousId": anonymous_id,
    }
    if name is not None:
        body["event"] = name
    if email is not None:
        body["context"] = {"traits": {"email": email}}
    return NewEvent(
        message_id=message_id,
        type=type,
        user_id=user_id,
        anonymous_id=anonymous_id,
        received_at=received_at,
        body=msgspec.json.encode(body),
    )


async def drain(store: Store, now: float = NOW) -> list[str]:
    """Deliver everything ready, one lease at a time; the messageIds in delivery order."""
    delivered: list[str] = []
    while leases := await store.lease("drain", 100, 30, now):
        for lease in leases:
            await store.delivered(lease, now=now)
            delivered.append(lease.event.message_id)
    return delivered


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows `sql` gives on the database `url` names, outside any store."""
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection, connection:
            return connection.execute(sql).fetchall()
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(sql.encode())
        return cursor.fetchall() if cursor.description else []


def execute(url: str, sql: str) -> None:
    """Run `sql` on the database `url` names, outside any store (to age its schema, say)."""
    query(url, sql)


def latest_version(url: str) -> int:
    """The schema version the store of `url`'s kind creates and migrates to."""
    schema = sqlite_schema if url.startswith("sqlite:") else postgres_schema
    return len(schema.MIGRATIONS)
