"""Searching events, and one event's story: the query a request asks, and the documents
the pages render and the API encodes."""

from __future__ import annotations

from typing import Any, get_args

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request

from intercom_destination.console.requests import int_param
from intercom_destination.console.views import stored_document
from intercom_destination.spec.decode import EVENT_TYPES
from intercom_destination.store import SEARCH_KEYS, EventQuery, OutcomeName, Story

OUTCOMES: tuple[str, ...] = get_args(OutcomeName)
#: Rows per page of a search, unless `limit` asks for another number.
PAGE_ROWS = 50
MAX_PAGE_ROWS = 500
#: An event's states from which nothing more happens without a person (a replay).
FINAL_STATES = ("done", "dead")


def event_query(request: Request) -> EventQuery:
    """The search `/events` and `/api/events` are asked: `q`, `key`, `outcome`, `type`,
    `before` and `limit`; a 400 naming the parameter that is not one of its choices."""
    params = request.query_params
    return EventQuery(
        text=params.get("q", "").strip(),
        key=_choice(params.get("key"), "key", SEARCH_KEYS),  # type: ignore[arg-type]
        outcome=_choice(params.get("outcome"), "outcome", OUTCOMES),  # type: ignore[arg-type]
        type=_choice(params.get("type"), "type", EVENT_TYPES),
        before=int_param(request, "before", 0, low=1, high=2**62) or None,
        limit=int_param(request, "limit", PAGE_ROWS, low=1, high=MAX_PAGE_ROWS),
    )


def _choice(value: str | None, name: str, choices: tuple[str, ...]) -> str | None:
    if not value:
        return None
    if value not in choices:
        raise HTTPException(400, f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def story_document(story: Story) -> dict[str, Any]:
    """The story as `/api/events/<messageId>` answers it: the event as received is JSON,
    and `final` says whether anything more will happen to it without a person."""
    document: dict[str, Any] = msgspec.to_builtins(story)
    document["body"] = stored_document(story.body) if story.body is not None else None
    document["final"] = is_final(story)
    return document


def is_final(story: Story) -> bool:
    return story.state in FINAL_STATES or story.state is None
