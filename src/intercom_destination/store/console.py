"""The console's records: what the store answers to the questions of a person watching
deliveries (see `protocols.Console`). The traces delivery hands it are in `base`."""

from __future__ import annotations

from typing import Literal

import msgspec

from intercom_destination.store.base import (
    Attempt,
    OutcomeName,
    Pause,
    RefusalKind,
    Status,
    Trace,
)

#: Where an event is: waiting in its lane, set aside for its contact, a dead letter, or
#: finished (delivered or skipped; only its messageId is kept, for dedup).
EventState = Literal["pending", "parked", "dead", "done"]
#: The keys `Console.search` matches.
SearchKey = Literal["message_id", "user_id", "anonymous_id", "email", "event"]
SEARCH_KEYS: tuple[SearchKey, ...] = ("message_id", "user_id", "anonymous_id", "email", "event")

#: Counters are kept per minute for a day, then per hour for a week, then as totals.
MINUTE, HOUR = 60, 3600
MINUTES_KEPT = 25 * HOUR
HOURS_KEPT = 8 * 24 * HOUR
#: The outcome name under which events accepted by ingest are counted.
ACCEPTED = "accepted"

#: Traces are kept this long (seconds), and at most this many (one per attempt).
TRACE_RETENTION = 3 * 24 * 3600.0
TRACE_ROWS = 100_000


class Count(msgspec.Struct, frozen=True, kw_only=True):
    """Events of one type that had one outcome (or were accepted) within one time step."""

    start: int
    type: str
    outcome: str
    events: int
    #: Intercom calls those attempts made.
    calls: int


class RefusedName(msgspec.Struct, frozen=True, kw_only=True):
    kind: RefusalKind
    name: str
    #: The latest reason, and when and how often the name was refused.
    reason: str
    at: float
    times: int


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    """Deliveries over the last `window` seconds before `now`, by `step` seconds."""

    now: float
    window: int
    step: int
    #: By step (oldest first), type and outcome; outcome `accepted` counts ingest's events.
    counts: tuple[Count, ...]
    #: Intercom calls made in the window, and events finished in it (delivered, skipped, dead).
    calls: int
    finished: int
    status: Status
    pause: Pause | None
    #: The event names the workspace holds (its budget is `max_event_names`).
    event_names: tuple[str, ...]
    #: The custom attributes known, by model: name → Intercom data type.
    attributes: dict[str, dict[str, str]]
    #: Event names and attributes the budgets refused, most recent first.
    refused: tuple[RefusedName, ...]

    @property
    def calls_per_event(self) -> float | None:
        return self.calls / self.finished if self.finished else None

    def rate_share(self, calls_per_second: float) -> float:
        """The share of a rate of `calls_per_second` the window's calls used (Intercom's
        default is 10,000 calls a minute per app, of which `rate_share` is the destination's)."""
        return self.calls / (calls_per_second * self.window)


class EventQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome rows whose `key` is `text` (any key when None; every row when `text` is
    empty), newest first, from the row before `before` (a `Page.next`)."""

    text: str = ""
    key: SearchKey | None = None
    outcome: OutcomeName | None = None
    type: str | None = None
    before: int | None = None
    limit: int = 50


class Found(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome log row: what one attempt at an event ended with."""

    id: int
    at: float
    message_id: str
    lane: str
    type: str
    event: str | None
    user_id: str | None
    anonymous_id: str | None
    email: str | None
    outcome: OutcomeName
    reason: str | None
    calls: int


class Page(msgspec.Struct, frozen=True, kw_only=True):
    rows: tuple[Found, ...]
    #: The `EventQuery.before` of the next page; None on the last.
    next: int | None


class Waits(msgspec.Struct, frozen=True, kw_only=True):
    """What an event that is not finished waits for."""

    #: The key a parked event waits for (`contact:…`: its contact's identify), and until when.
    waiting_for: str | None = None
    until: float | None = None
    #: The last lease on its lane, held by `leased_by` until `leased_until` (a time past means
    #: the worker let it lapse: another will take the lane).
    leased_until: float | None = None
    leased_by: str | None = None
    #: When a retry is due.
    retry_at: float | None = None


class TracedAttempt(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    trace: Trace


class Story(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the store knows of one event."""

    message_id: str
    #: None when the store no longer knows the event (its outcome rows may remain).
    state: EventState | None
    lane: str | None
    type: str | None
    received_at: float | None
    #: The event as received: from its row while it is not finished, else from a trace.
    body: bytes | None
    #: Attempts made so far (parking for a contact is not one).
    attempts: int
    waits: Waits | None
    #: A dead letter's attempts, the last one its reason.
    history: tuple[Attempt, ...]
    #: Its outcome rows, oldest first.
    outcomes: tuple[Found, ...]
    traces: tuple[TracedAttempt, ...]
    #: Traces of some of its attempts were pruned (`TRACE_RETENTION`, `TRACE_ROWS`).
    pruned: bool


class DeadGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Dead letters whose reasons have the same shape (`shapes.reason_shape`)."""

    shape: str
    count: int
    first_died: float
    last_died: float
    #: The id of the group's oldest dead letter, its messageId and its full reason.
    sample_id: int
    sample_message_id: str
    sample_reason: str
