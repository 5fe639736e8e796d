"""What the console's POSTs do, for its pages and its API alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from starlette.datastructures import ImmutableMultiDict
from starlette.exceptions import HTTPException

from intercom_destination.console.context import Console
from intercom_destination.console.tester import Tried, dry_run, read_event
from intercom_destination.spec import Event, InvalidEvent
from intercom_destination.store import Enqueued, new_event


class Chosen(msgspec.Struct, frozen=True):
    """The dead letters a replay or purge names: by id, by reason shape (a group), or all."""

    ids: list[int] | None = None
    shape: str | None = None


def chosen_dead_letters(fields: ImmutableMultiDict[str, Any]) -> Chosen:
    """`id` (repeated in a form, a list in JSON), `shape`, or `all`: exactly one of them;
    a 400 naming the field otherwise."""
    everything = fields.get("all") in (True, "1", "true", "on")
    given = fields.getlist("id")
    if len(given) == 1 and isinstance(given[0], list):
        given = given[0]
    shape = fields.get("shape")
    if sum((everything, bool(given), shape is not None)) != 1:
        raise HTTPException(400, "id: name dead letters by id, or by reason shape, or give all")
    if shape is not None:
        if not isinstance(shape, str):
            raise HTTPException(400, "shape: must be a dead-letter group's shape, a string")
        return Chosen(shape=shape)
    try:
        return Chosen(ids=[int(value) for value in given] if given else None)
    except (TypeError, ValueError):
        raise HTTPException(400, "id: each must be a dead letter's id, a number") from None


async def replay(console: Console, fields: ImmutableMultiDict[str, Any]) -> int:
    """Put the dead letters `fields` name back in their lanes; how many."""
    chosen = chosen_dead_letters(fields)
    now = console.clock()
    if chosen.shape is not None:
        return await console.store.replay_shape(chosen.shape, now=now)
    return await console.store.replay(chosen.ids, now=now)


async def purge(console: Console, fields: ImmutableMultiDict[str, Any]) -> int:
    """Delete the dead letters `fields` name for good; how many."""
    chosen = chosen_dead_letters(fields)
    if chosen.shape is not None:
        return await console.store.purge_shape(chosen.shape)
    return await console.store.purge(chosen.ids)


def pasted_event(console: Console, fields: ImmutableMultiDict[str, Any]) -> Event | InvalidEvent:
    """The event posted to the tester (the `event` field: its JSON text, or, in the API, the
    object itself), received now."""
    text = fields.get("event")
    if isinstance(text, dict):
        text = msgspec.json.encode(text).decode()
    if text is None or (isinstance(text, str) and not text.strip()):
        return InvalidEvent("event", "missing: paste one event's JSON")
    if not isinstance(text, str):
        return InvalidEvent("event", "must be one event: a JSON object, or its text")
    return read_pasted(console, text)


def read_pasted(console: Console, text: str) -> Event | InvalidEvent:
    """The event whose JSON is `text`, received now."""
    received_at = datetime.fromtimestamp(console.clock(), UTC)
    return read_event(text, received_at=received_at, message_id=console.new_message_id())


def try_event(console: Console, event: Event | InvalidEvent) -> Tried:
    return dry_run(event, console.mapping)


#: What became of an event the tester sent: stored for delivery, a duplicate of one the store
#: holds (not stored again), or refused as ingest refuses a suppressed person's events.
Sent = Literal["accepted", "duplicate", "suppressed"]


async def send_event(console: Console, event: Event) -> Sent:
    """Store `event` as ingest stores what it accepts, for delivery."""
    suppressed = await console.suppressions.current()
    if suppressed.refuses(event.user_id, event.anonymous_id):
        return "suppressed"
    [enqueued] = await console.store.enqueue([new_event(event, console.clock())])
    return "accepted" if enqueued is Enqueued.ACCEPTED else "duplicate"


def sent_answer(event: Event, sent: Sent) -> dict[str, Any]:
    """What the tester says of a sent event, in its page and its API."""
    return {
        "message_id": event.message_id,
        "accepted": sent == "accepted",
        "suppressed": sent == "suppressed",
    }
