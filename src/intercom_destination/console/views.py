"""What the console shows, as typed documents: the pages render them, the API encodes them.

Field names are the JSON API's (Segment's spellings: `messageId`); times are ISO-8601 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from intercom_destination.store import DeadGroup, DeadLetter, Store

#: Dead letters per page, unless the API's `limit` asks for another number.
DEAD_LETTERS_PAGE = 100
MAX_DEAD_LETTERS_PAGE = 1000


def iso(timestamp: float) -> str:
    """Unix seconds as ISO-8601 UTC, to the second: `2026-11-28T10:00:00Z`."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeadLetterView(msgspec.Struct, frozen=True):
    id: int
    message_id: str
    type: str
    lane: str
    died_at: str
    reason: str
    attempts: int
    event: Any


def dead_letter_view(letter: DeadLetter) -> DeadLetterView:
    event = letter.event
    return DeadLetterView(
        id=event.id,
        message_id=event.message_id,
        type=event.type,
        lane=event.lane,
        died_at=iso(letter.died_at),
        reason=letter.reason,
        attempts=len(letter.history),
        event=stored_document(event.body),
    )


def stored_document(body: bytes) -> Any:
    """An event's stored bytes as JSON, or as text when they are not JSON."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body.decode("utf-8", errors="replace")


class DeadLetterPage(msgspec.Struct, frozen=True):
    """Dead letters grouped by reason, the largest groups first, and a page of them by id."""

    groups: list[DeadGroup]
    letters: list[DeadLetterView]
    #: The id to ask for the next page with (`?after=`), None on the last page.
    next_after: int | None


async def dead_letter_page(store: Store, *, after: int, limit: int) -> DeadLetterPage:
    letters = await store.dead_letters(limit + 1, after_id=after)
    shown = [dead_letter_view(letter) for letter in letters[:limit]]
    next_after = shown[-1].id if len(letters) > limit else None
    return DeadLetterPage(await store.dead_groups(), shown, next_after)


def age(seconds: float | None) -> str:
    """How long ago, for a person: `45 s`, `12 min`, `3 h 20 min`, `2 days 4 h`."""
    if seconds is None:
        return "none"
    whole = int(seconds)
    days, hours, minutes = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60
    if days:
        return f"{days} day{'' if days == 1 else 's'} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{whole} s"
