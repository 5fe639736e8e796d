"""The lanes in SQLite: each function is one writer job, run inside the writer's transaction.

Invariants the functions keep: a lane has a `lanes` row exactly while it has pending events
in `events` (events still in the inbox open their lane when they are sorted, see
`inbox`); a lane's `head`, once a lease chose it, stays its head until it is finished
or parked; events put back into a lane go below its lowest position, so behind a chosen head
and ahead of everything else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import groupby
from typing import Any

import msgspec

from intercom_destination.store.base import (
    Finished,
    Lease,
    LeaseLost,
    OutcomeName,
    StoredEvent,
    Trace,
    VisitorInFlight,
)
from intercom_destination.store.recording import (
    REFUSAL,
    record,
    sqlite_placeholders,
)
from intercom_destination.store.rows import (
    DEAD,
    DONE,
    EVENT_COLUMNS,
    PARKED,
    PENDING,
    stored_event,
)
from intercom_destination.store.shapes import of_shape
from intercom_destination.store.sqlite.recorded import recorded

_encoder = msgspec.json.Encoder()


def json_text(values: list[Any]) -> str:
    # SQLite's JSON functions take text, not blobs.
    return _encoder.encode(values).decode()


def lease(
    connection: sqlite3.Connection,
    worker_id: str,
    max_lanes: int,
    lease_for: float,
    now: float,
    following: int = 0,
) -> list[Lease]:
    until = now + lease_for
    rows = connection.execute(
        "UPDATE lanes SET owner = ?, lease_until = ?, available_at = ?, token = random(),"
        " head = coalesce(head, (SELECT id FROM events WHERE events.lane = lanes.lane"
        f" AND state = {PENDING} ORDER BY position LIMIT 1))"
        " WHERE lane IN (SELECT lane FROM lanes WHERE available_at <= ?"
        " ORDER BY available_at LIMIT ?)"
        " RETURNING lane, token, head",
        (worker_id, until, until, now, max_lanes),
    ).fetchall()
    if not rows:
        return []
    events = {
        row[0]: stored_event(row)
        for row in connection.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each(?))",
            (json_text([head for _, _, head in rows]),),
        )
    }
    return [
        Lease(
            lane=lane,
            token=token,
            expires_at=until,
            event=events[head],
            following=_following(connection, lane, head, following),
            parked=connection.execute(
                f"SELECT 1 FROM events WHERE lane = ? AND state = {PARKED} LIMIT 1", (lane,)
            ).fetchone()
            is not None,
        )
        for lane, token, head in rows
    ]


def _following(
    connection: sqlite3.Connection, lane: str, head: int, limit: int
) -> tuple[StoredEvent, ...]:
    if limit <= 0:
        return ()
    return tuple(
        stored_event(row)
        for row in connection.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE lane = ? AND state = {PENDING}"
            " AND id <> ? ORDER BY position LIMIT ?",
            (lane, head, limit),
        )
    )


def finish_many(
    connection: sqlite3.Connection,
    lease: Lease,
    finished: Sequence[Finished],
    now: float,
    keep: bool,
    keep_traces: bool,
) -> Lease | None:
    _check(connection, lease)
    connection.executemany(
        f"UPDATE events SET state = {DONE}, body = NULL, history = NULL, finished_at = ?,"
        f" reason = ? WHERE id = ? AND lane = ? AND state = {PENDING}",
        [(now, done.reason, done.event.id, lease.lane) for done in finished],
    )
    for done in finished:
        log(
            connection,
            done.event,
            done.outcome,
            done.reason,
            now,
            done.calls,
            done.trace,
            keep_traces,
        )
    if not keep:
        _release(connection, lease.lane, now)
        return None
    row = connection.execute(
        f"UPDATE lanes SET head = (SELECT id FROM events WHERE events.lane = lanes.lane"
        f" AND state = {PENDING} ORDER BY position LIMIT 1) WHERE lane = ? RETURNING head",
        (lease.lane,),
    ).fetchone()
    if row[0] is None:
        connection.execute("DELETE FROM lanes WHERE lane = ?", (lease.lane,))
        return None
    head = stored_event(
        connection.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (row[0],)).fetchone()
    )
    return msgspec.structs.replace(lease, event=head, following=())


def extend(connection: sqlite3.Connection, lease: Lease, lease_for: float, now: float) -> Lease:
    _check(connection, lease)
    until = now + lease_for
    connection.execute(
        "UPDATE lanes SET lease_until = ?, available_at = ? WHERE lane = ?",
        (until, until, lease.lane),
    )
    return msgspec.structs.replace(lease, expires_at=until)


def dead(
    connection: sqlite3.Connection,
    lease: Lease,
    reason: str,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
) -> None:
    _check(connection, lease)
    bury(connection, lease.event.id, reason, now)
    _release(connection, lease.lane, now)
    log(connection, lease.event, "dead", reason, now, calls, trace, keep_traces)


def bury(connection: sqlite3.Connection, event_id: int, reason: str, now: float) -> bool:
    """Make a pending or parked event a dead letter, its reason the last attempt's outcome."""
    cursor = connection.execute(
        f"UPDATE events SET state = {DEAD}, attempts = attempts + 1,"
        " history = json_insert(coalesce(history, '[]'), '$[#]', json_array(?, ?)),"
        " finished_at = ?, reason = ?, waiting_for = NULL, until = NULL"
        f" WHERE id = ? AND state IN ({PENDING}, {PARKED})",
        (now, reason, now, reason, event_id),
    )
    return cursor.rowcount == 1


def retry(
    connection: sqlite3.Connection,
    lease: Lease,
    at: float,
    outcome: str,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
) -> None:
    _check(connection, lease)
    connection.execute(
        "UPDATE events SET attempts = attempts + 1, not_before = ?,"
        " history = json_insert(coalesce(history, '[]'), '$[#]', json_array(?, ?))"
        " WHERE id = ?",
        (at, now, outcome, lease.event.id),
    )
    # The head stays chosen; only the lease ends, and the lane waits until `at`.
    connection.execute(
        "UPDATE lanes SET owner = NULL, lease_until = NULL, token = random(), available_at = ?"
        " WHERE lane = ?",
        (at, lease.lane),
    )
    log(connection, lease.event, "retry", outcome, now, calls, trace, keep_traces)


def park(
    connection: sqlite3.Connection,
    lease: Lease,
    waiting_for: str,
    until: float,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
    reason: str,
) -> None:
    _check(connection, lease)
    connection.execute(
        f"UPDATE events SET state = {PARKED}, waiting_for = ?, until = ?, not_before = 0"
        " WHERE id = ?",
        (waiting_for, until, lease.event.id),
    )
    _release(connection, lease.lane, now)
    log(connection, lease.event, "parked", reason, now, calls, trace, keep_traces)


def unpark(
    connection: sqlite3.Connection, lane: str | None, waiting_for: str | None, now: float
) -> int:
    if lane is None and waiting_for is None:
        raise ValueError("unpark needs a lane, a waiting_for key, or both")
    matches = {"lane": lane, "waiting_for": waiting_for}
    given = [name for name, value in matches.items() if value is not None]
    rows = connection.execute(
        f"SELECT id, lane FROM events WHERE state = {PARKED} AND "
        + " AND ".join(f"{name} = ?" for name in given)
        + " ORDER BY lane, position",
        [matches[name] for name in given],
    ).fetchall()
    for each_lane, group in groupby(rows, key=lambda row: str(row[1])):
        to_front(connection, each_lane, [event_id for event_id, _ in group], now)
    return len(rows)


def link(
    connection: sqlite3.Connection, anonymous_id: str, user_id: str, now: float, force: bool
) -> int:
    if anonymous_id != user_id and not force:
        _not_in_flight(connection, anonymous_id, now)
    connection.execute(
        "INSERT INTO links (anonymous_id, user_id, linked_at) VALUES (?, ?, ?)"
        " ON CONFLICT (anonymous_id) DO UPDATE SET user_id = excluded.user_id,"
        " linked_at = excluded.linked_at",
        (anonymous_id, user_id, now),
    )
    if anonymous_id == user_id:
        return 0
    # The visitor's events keep their positions, which are their arrival order: they merge
    # into the user's lane among the user's own events as they arrived, behind its head.
    # Two statements, so that each state's partial index finds the lane's events.
    moved = 0
    for state in (PENDING, PARKED):
        moved += connection.execute(
            f"UPDATE events SET state = {PENDING}, lane = ?, not_before = 0, waiting_for = NULL,"
            f" until = NULL WHERE lane = ? AND state = {state}",
            (user_id, anonymous_id),
        ).rowcount
    connection.execute("DELETE FROM lanes WHERE lane = ?", (anonymous_id,))
    if moved:
        _open_lane(connection, user_id, now)
    return moved


def replay(connection: sqlite3.Connection, event_ids: Sequence[int] | None, now: float) -> int:
    rows = connection.execute(
        f"SELECT id, lane FROM events WHERE state = {DEAD} AND {_AMONG} ORDER BY lane, position",
        _among(event_ids),
    ).fetchall()
    connection.executemany(
        "UPDATE events SET attempts = 0, history = NULL, finished_at = NULL, reason = NULL"
        " WHERE id = ?",
        [(event_id,) for event_id, _ in rows],
    )
    for lane, group in groupby(rows, key=lambda row: str(row[1])):
        to_front(connection, lane, [event_id for event_id, _ in group], now)
    return len(rows)


def replay_shape(connection: sqlite3.Connection, shape: str, now: float) -> int:
    return replay(connection, _dead_of(connection, shape), now)


def purge_shape(connection: sqlite3.Connection, shape: str) -> int:
    return purge(connection, _dead_of(connection, shape))


def _dead_of(connection: sqlite3.Connection, shape: str) -> list[int]:
    """The ids of the dead letters whose reason has the shape `shape`."""
    distinct = connection.execute(f"SELECT DISTINCT reason FROM events WHERE state = {DEAD}")
    reasons = of_shape((reason for (reason,) in distinct), shape)
    return [
        event_id
        for (event_id,) in connection.execute(
            f"SELECT id FROM events WHERE state = {DEAD} AND reason IN"
            f" (SELECT value FROM json_each(?))",
            (msgspec.json.encode(reasons).decode(),),
        )
    ]


def purge(connection: sqlite3.Connection, event_ids: Sequence[int] | None) -> int:
    cursor = connection.execute(
        f"DELETE FROM events WHERE state = {DEAD} AND {_AMONG}", _among(event_ids)
    )
    return cursor.rowcount


def dead_parked(connection: sqlite3.Connection, event_id: int, reason: str, now: float) -> bool:
    row = connection.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ? AND state = {PARKED}", (event_id,)
    ).fetchone()
    if row is None:
        return False
    bury(connection, event_id, reason, now)
    log(connection, stored_event(row), "dead", reason, now, 0, None, False)
    return True


def to_front(connection: sqlite3.Connection, lane: str, event_ids: list[int], now: float) -> None:
    """Make the events, in this order, the lane's next pending events after a chosen head."""
    if not event_ids:
        return
    row = connection.execute(
        f"SELECT position FROM events WHERE lane = ? AND state = {PENDING}"
        " ORDER BY position LIMIT 1",
        (lane,),
    ).fetchone()
    first = (0 if row is None else row[0]) - len(event_ids)
    connection.executemany(
        f"UPDATE events SET state = {PENDING}, lane = ?, position = ?, not_before = 0,"
        " waiting_for = NULL, until = NULL WHERE id = ?",
        [(lane, first + offset, event_id) for offset, event_id in enumerate(event_ids)],
    )
    _open_lane(connection, lane, now)


def log(
    connection: sqlite3.Connection,
    event: StoredEvent,
    outcome: OutcomeName,
    reason: str | None,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
) -> None:
    """Log an attempt's outcome, count it, and keep its trace (if `keep_traces`) and the
    names a budget refused."""
    parameters = record(
        event, outcome, reason, now=now, calls=calls, trace=trace, keep_traces=keep_traces
    )
    # Written with the transaction's other outcomes, before it commits.
    recorded(connection).add(parameters)
    if not parameters["kinds"]:
        return
    connection.executemany(
        _REFUSAL,
        [
            {"kind": kind, "name": name, "reason": why, "now": now}
            for kind, name, why in zip(
                parameters["kinds"], parameters["names"], parameters["reasons"], strict=True
            )
        ],
    )


_REFUSAL = sqlite_placeholders(REFUSAL)


# All events when the ids are None, else those named.
_AMONG = "(?1 IS NULL OR id IN (SELECT value FROM json_each(?1)))"


def _among(event_ids: Sequence[int] | None) -> tuple[str | None]:
    return (None if event_ids is None else json_text(list(event_ids)),)


def _open_lane(connection: sqlite3.Connection, lane: str, now: float) -> None:
    # A lane that exists keeps its place in the queue (and its lease).
    connection.execute(
        "INSERT INTO lanes (lane, available_at) VALUES (?, ?) ON CONFLICT (lane) DO NOTHING",
        (lane, now),
    )


def _not_in_flight(connection: sqlite3.Connection, anonymous_id: str, now: float) -> None:
    leased = connection.execute(
        "SELECT 1 FROM lanes WHERE lane = ? AND owner IS NOT NULL AND lease_until > ?",
        (anonymous_id, now),
    ).fetchone()
    if leased is not None:
        raise VisitorInFlight(anonymous_id)


def _check(connection: sqlite3.Connection, lease: Lease) -> None:
    row = connection.execute(
        "SELECT token, head FROM lanes WHERE lane = ?", (lease.lane,)
    ).fetchone()
    if row is None or row[0] != lease.token or row[1] != lease.event.id:
        raise LeaseLost(f"the lease on lane {lease.lane!r} was lost")


def _release(connection: sqlite3.Connection, lane: str, now: float) -> None:
    """End the lease after the head left the lane; the lane queues up again behind the others."""
    cursor = connection.execute(
        "UPDATE lanes SET head = NULL, owner = NULL, lease_until = NULL, token = random(),"
        f" available_at = ? WHERE lane = ? AND EXISTS (SELECT 1 FROM events WHERE lane = ?"
        f" AND state = {PENDING})",
        (now, lane, lane),
    )
    if cursor.rowcount == 0:
        connection.execute("DELETE FROM lanes WHERE lane = ?", (lane,))
