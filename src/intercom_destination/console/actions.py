"""What the console's POSTs do, for its pages and its API alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.datastructures import ImmutableMultiDict
from starlette.exceptions import HTTPException

from intercom_destination.console.context import Console
from intercom_destination.console.tester import Tried, dry_run, read_event
from intercom_destination.spec import Event, InvalidEvent
from intercom_destination.store import Enqueued, new_event


def which_dead_letters(fields: ImmutableMultiDict[str, Any]) -> list[int] | None:
    """The dead letters a replay or purge names: `id` (repeated, or a list in JSON), or
    `all`; None means all. A 400 naming the field when neither, or both, is given."""
    everything = fields.get("all") in (True, "1", "true", "on")
    given = fields.getlist("id")
    if len(given) == 1 and isinstance(given[0], list):
        given = given[0]
    if everything == bool(given):
        raise HTTPException(400, "id: name dead letters by id, or give all")
    if everything:
        return None
    try:
        return [int(value) for value in given]
    except (TypeError, ValueError):
        raise HTTPException(400, "id: each must be a dead letter's id, a number") from None


def pasted_event(console: Console, fields: ImmutableMultiDict[str, Any]) -> Event | InvalidEvent:
    """The event posted to the tester (the `event` field: its JSON text, or, in the API, the
    object itself), received now."""
    text = fields.get("event")
    if isinstance(text, dict):
        text = msgspec.json.encode(text).decode()
    if not isinstance(text, str) or not text.strip():
        return InvalidEvent("event", "missing: paste one event's JSON")
    return read_pasted(console, text)


def read_pasted(console: Console, text: str) -> Event | InvalidEvent:
    """The event whose JSON is `text`, received now."""
    received_at = datetime.fromtimestamp(console.clock(), UTC)
    return read_event(text, received_at=received_at, message_id=console.new_message_id())


def try_event(console: Console, event: Event | InvalidEvent) -> Tried:
    return dry_run(event, console.settings.mapping_options)


async def send_event(console: Console, event: Event) -> bool:
    """Store `event` as ingest stores what it accepts, for delivery; False when the store
    holds its messageId already (a duplicate, not stored again)."""
    [enqueued] = await console.store.enqueue([new_event(event, console.clock())])
    return enqueued is Enqueued.ACCEPTED
