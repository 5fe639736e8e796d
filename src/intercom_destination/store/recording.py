"""What recording an attempt's outcome writes besides the event's new state, in both stores:
the outcome log row (with whom the event is about), its counter, the attempt's trace and
the names a budget refused. The statements are in PostgreSQL's named placeholders; the
SQLite store runs them through `sqlite_placeholders`.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from intercom_destination.store.base import (
    OutcomeName,
    StoredEvent,
    Trace,
)
from intercom_destination.store.console import MINUTE


class _Traits(msgspec.Struct):
    email: object = None


class _Context(msgspec.Struct):
    traits: _Traits | None = None


class _Who(msgspec.Struct):
    userId: object = None
    anonymousId: object = None
    event: object = None
    traits: _Traits | None = None
    context: _Context | None = None


_who = msgspec.json.Decoder(_Who)
_trace = msgspec.json.Encoder()


def who(body: bytes) -> dict[str, str | None]:
    """The userId, anonymousId, email (the traits', else the context's) and event name of an
    event's JSON, as the outcome log keeps them; None for what it lacks or is not text."""
    try:
        found = _who.decode(body)
    except msgspec.DecodeError:
        found = _Who()
    email = found.traits.email if found.traits else None
    if email is None and found.context and found.context.traits:
        email = found.context.traits.email
    return {
        "user_id": _text(found.userId),
        "anonymous_id": _text(found.anonymousId),
        # Addresses are matched without regard to case.
        "email": email.strip().lower() if isinstance(email, str) and email.strip() else None,
        "event": _text(found.event),
    }


def _text(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        return str(value) or None
    return None


def record(
    event: StoredEvent,
    outcome: OutcomeName,
    reason: str | None,
    *,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
) -> dict[str, Any]:
    """The parameters of `LOG`, `count_into`, `TRACE` and the refusals' statements for one
    attempt."""
    refusals = {(r.kind, r.name): r.reason for r in trace.refusals} if trace else {}
    kept = trace is not None and keep_traces
    return {
        "now": now,
        "message_id": event.message_id,
        "lane": event.lane,
        "type": event.type,
        "outcome": outcome,
        "reason": reason,
        "calls": calls,
        "bucket": int(now) // MINUTE * MINUTE,
        **who(event.body),
        # Sent only with a trace, which keeps it.
        "body": event.body if kept else None,
        "trace": _trace.encode(trace) if kept else None,
        "kinds": [kind for kind, _ in refusals],
        "names": [name for _, name in refusals],
        "reasons": list(refusals.values()),
    }


def insert_row(table: str, columns: tuple[str, ...], *, values: bool = False) -> str:
    """The statement inserting one attempt's row into `table`, each column from `record`'s
    parameter of its name (`at` from `now`): `INSERT ... SELECT`, which takes the WHERE
    clause a caller adds, or with `values` `INSERT ... VALUES`, which SQLite runs without a
    statement journal (a third of the CPU per row, by `executemany`)."""
    parameters = ", ".join(f"%({'now' if column == 'at' else column})s" for column in columns)
    rows = f"VALUES ({parameters})" if values else f"SELECT {parameters}"
    return f"INSERT INTO {table} ({', '.join(columns)}) {rows}"


#: The outcome log's and the traces' columns, and their statements (`insert_row`).
LOG_COLUMNS = (
    "at",
    "message_id",
    "lane",
    "type",
    "outcome",
    "reason",
    "calls",
    "user_id",
    "anonymous_id",
    "email",
    "event",
)
TRACE_COLUMNS = ("at", "message_id", "user_id", "anonymous_id", "body", "trace")
LOG = insert_row("outcomes", LOG_COLUMNS)
TRACE = insert_row("traces", TRACE_COLUMNS)


def count_into(table: str) -> str:
    """The statement adding the attempt to the counters of `table` (SQLite upserts into
    `outcome_counts`, PostgreSQL appends to `outcome_deltas`: see its schema)."""
    return (
        f"INSERT INTO {table} (bucket, type, outcome, events, calls)"
        " SELECT %(bucket)s, %(type)s, %(outcome)s, 1, %(calls)s"
    )


#: Completes an upsert into `outcome_counts` (after any WHERE clause the caller adds).
COUNT_CONFLICT = (
    " ON CONFLICT (bucket, type, outcome) DO UPDATE SET"
    " events = outcome_counts.events + excluded.events,"
    " calls = outcome_counts.calls + excluded.calls"
)
REFUSAL_CONFLICT = (
    " ON CONFLICT (kind, name) DO UPDATE SET reason = excluded.reason, at = excluded.at,"
    " times = refusals.times + 1"
)
#: Notes one name a budget refused (parameters `kind`, `name`, `reason`, `now`).
REFUSAL = (
    "INSERT INTO refusals (kind, name, reason, at, times)"
    " VALUES (%(kind)s, %(name)s, %(reason)s, %(now)s, 1)" + REFUSAL_CONFLICT
)


def sqlite_placeholders(sql: str) -> str:
    """A statement in PostgreSQL's named placeholders in SQLite's."""
    return re.sub(r"%\((\w+)\)s", r":\1", sql)
