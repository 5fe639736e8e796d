"""The lanes in PostgreSQL: each function runs inside one transaction the store opened.

Many processes change lanes at once here, so on top of the SQLite store's invariants (see
`sqlite.lanes`) one rule keeps them: a transaction that changes which events a lane holds
locks the lane's `lanes` row before it reads the lane's events, in a statement of its own.
At READ COMMITTED each statement reads what was committed when it started, so after the lock
a transaction sees every event of the lane that any other transaction committed, and none
is being added or removed under it. Enqueues take the lock by upserting the row; workers
lease with `FOR UPDATE SKIP LOCKED`, so they never wait for one another, nor for ingest.

Lanes rows are locked in the order of their names, and the rows of events being inserted
in the order of their messageIds, so that concurrent transactions never deadlock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple

from msgspec.structs import replace

from intercom_destination.store.base import (
    Enqueued,
    Finished,
    Lease,
    LeaseLost,
    NewEvent,
    StoredEvent,
    Trace,
    VisitorInFlight,
)
from intercom_destination.store.console import ACCEPTED, MINUTE
from intercom_destination.store.postgres.schema import LOCKS, Connection
from intercom_destination.store.recording import (
    LOG,
    REFUSAL_CONFLICT,
    TRACE,
    count_into,
    record,
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

#: The second key of the advisory lock on one anonymousId: enqueues of the visitor's events
#: share it, a `link` of the visitor holds it alone.
VISITOR_LOCK = 1

_ENQUEUE = f"""
WITH arrived AS (
    SELECT nextval('event_ids') AS id, *
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::bytea[])
        WITH ORDINALITY AS a (message_id, lane, type, received_at, body, arrival)
), inserted AS (
    INSERT INTO events (id, message_id, lane, type, received_at, body, state, position)
    SELECT id, message_id, lane, type, received_at, body, {PENDING}, id
    FROM arrived ORDER BY message_id
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id, lane, type, received_at, position
), opened AS (
    INSERT INTO lanes (lane, available_at)
    SELECT DISTINCT ON (lane) lane, received_at FROM inserted ORDER BY lane, position
    ON CONFLICT (lane) DO UPDATE SET available_at = lanes.available_at
), counted AS (
    INSERT INTO outcome_deltas (bucket, type, outcome, events, calls)
    SELECT floor(received_at / {MINUTE})::bigint * {MINUTE}, type, '{ACCEPTED}', count(*), 0
    FROM inserted GROUP BY 1, 2
)
SELECT message_id FROM inserted
"""


async def enqueue(connection: Connection, events: list[NewEvent]) -> list[Enqueued]:
    unique: dict[str | None, NewEvent] = {}
    for event in events:
        unique.setdefault(event.message_id, event)
    visitors = sorted({e.anonymous_id for e in unique.values() if not e.user_id and e.anonymous_id})
    links: dict[str, str] = {}
    if visitors:
        # Either a link of one of these visitors has committed, and is read below, or it
        # waits for this transaction and then moves what it stores.
        await connection.execute(
            "SELECT pg_advisory_xact_lock_shared(%s::int, hashtext(visitor))"
            " FROM unnest(%s::text[]) AS visitor",
            (LOCKS, visitors),
        )
        cursor = await connection.execute(
            "SELECT anonymous_id, user_id FROM links WHERE anonymous_id = ANY(%s)", (visitors,)
        )
        links = dict(await cursor.fetchall())
    rows = list(unique.values())
    cursor = await connection.execute(
        _ENQUEUE,
        (
            [event.message_id for event in rows],
            [event.user_id or links.get(event.anonymous_id or "") or event.lane for event in rows],
            [event.type for event in rows],
            [event.received_at for event in rows],
            [event.body for event in rows],
        ),
    )
    accepted = {message_id for (message_id,) in await cursor.fetchall()}
    results: list[Enqueued] = []
    for event in events:
        if event.message_id in accepted:
            accepted.discard(event.message_id)
            results.append(Enqueued.ACCEPTED)
        else:
            results.append(Enqueued.DUPLICATE)
    return results


_LEASE = f"""
WITH heads AS (
    SELECT lane, coalesce(head, (
        SELECT id FROM events WHERE events.lane = lanes.lane AND state = {PENDING}
        ORDER BY position LIMIT 1
    )) AS head
    FROM lanes WHERE lane = ANY(%(lanes)s)
), emptied AS (
    -- a lane whose last event left while nobody held its row; it has nothing to hand out
    DELETE FROM lanes USING heads WHERE lanes.lane = heads.lane AND heads.head IS NULL
), leased AS (
    UPDATE lanes SET owner = %(worker)s, lease_until = %(until)s, available_at = %(until)s,
        token = nextval('lease_tokens'), head = heads.head
    FROM heads WHERE lanes.lane = heads.lane AND heads.head IS NOT NULL
    RETURNING lanes.lane AS leased_lane, lanes.token, lanes.head
)
SELECT leased_lane, token, {EVENT_COLUMNS} FROM leased JOIN events ON events.id = leased.head
"""


async def lease(
    connection: Connection,
    worker_id: str,
    max_lanes: int,
    lease_for: float,
    now: float,
    following: int = 0,
) -> list[Lease]:
    until = now + lease_for
    cursor = await connection.execute(
        "SELECT lane FROM lanes WHERE available_at <= %s ORDER BY available_at LIMIT %s"
        " FOR UPDATE SKIP LOCKED",
        (now, max_lanes),
    )
    lanes = [lane for (lane,) in await cursor.fetchall()]
    if not lanes:
        return []
    cursor = await connection.execute(_LEASE, {"lanes": lanes, "worker": worker_id, "until": until})
    leases = [
        Lease(lane=row[0], token=row[1], expires_at=until, event=stored_event(row[2:]))
        for row in await cursor.fetchall()
    ]
    if not leases:
        return leases
    cursor = await connection.execute(
        f"SELECT DISTINCT lane FROM events WHERE lane = ANY(%s) AND state = {PARKED}",
        ([lease.lane for lease in leases],),
    )
    parked = {lane for (lane,) in await cursor.fetchall()}
    leases = [replace(lease, parked=lease.lane in parked) for lease in leases]
    if following <= 0:
        return leases
    cursor = await connection.execute(
        f"""
        SELECT lane, {EVENT_COLUMNS} FROM (
            SELECT *, row_number() OVER (PARTITION BY lane ORDER BY position) AS place
            FROM events WHERE lane = ANY(%s) AND state = {PENDING} AND id <> ALL(%s)
        ) AS behind WHERE place <= %s ORDER BY lane, place
        """,
        ([lease.lane for lease in leases], [lease.event.id for lease in leases], following),
    )
    behind: dict[str, list[StoredEvent]] = {}
    for row in await cursor.fetchall():
        behind.setdefault(row[0], []).append(stored_event(row[1:]))
    return [replace(lease, following=tuple(behind.get(lease.lane, ()))) for lease in leases]


async def extend(connection: Connection, lease: Lease, lease_for: float, now: float) -> Lease:
    until = now + lease_for
    cursor = await connection.execute(
        "UPDATE lanes SET lease_until = %s, available_at = %s"
        " WHERE lane = %s AND token = %s AND head = %s",
        (until, until, lease.lane, lease.token, lease.event.id),
    )
    _held(cursor.rowcount, lease)
    return replace(lease, expires_at=until)


async def finish_keeping(
    connection: Connection,
    lease: Lease,
    finished: Sequence[Finished],
    now: float,
    keep_traces: bool,
) -> Lease | None:
    """Events of a lease's run delivered or skipped: they leave the lane together, and the
    lease holds on, on the lane's next pending event (None when there is none)."""
    await _lock_held(connection, lease)
    await finish_events(connection, [Finishing(lease, finished, now)], keep_traces)
    cursor = await connection.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE lane = %s AND state = {PENDING}"
        " ORDER BY position LIMIT 1",
        (lease.lane,),
    )
    row = await cursor.fetchone()
    if row is None:
        await connection.execute("DELETE FROM lanes WHERE lane = %s", (lease.lane,))
        return None
    head = stored_event(row)
    await connection.execute("UPDATE lanes SET head = %s WHERE lane = %s", (head.id, lease.lane))
    return replace(lease, event=head, following=())


class Finishing(NamedTuple):
    """One caller's finished events, for `finish_group`: its lease and when it finished."""

    lease: Lease
    finished: Sequence[Finished]
    now: float


async def finish_group(
    connection: Connection, group: Sequence[Finishing], keep_traces: bool
) -> Callable[[], Awaitable[list[bool]]]:
    """Several leases' finished events, each lease's lane released, in three statements
    whatever their number, sent without waiting for their answers (the connection is in
    pipeline mode); returns what says, once they were answered, whether each lease was held
    (else it changed nothing)."""
    by_lane = sorted(group, key=lambda each: each.lease.lane)
    # Locked in the order of their names, as every transaction here locks lanes.
    locked = await connection.execute(
        f"SELECT lanes.lane FROM lanes JOIN {_HELD} ON {_HOLDS} ORDER BY lanes.lane"
        " FOR UPDATE OF lanes",
        _held_lanes(each.lease for each in by_lane),
    )
    await finish_events(connection, by_lane, keep_traces)
    # A statement of its own, so that it sees the events the one above finished.
    await connection.execute(
        f"""
        WITH held AS (
            SELECT held.lane, at FROM unnest(
                %(lanes)s::text[], %(tokens)s::bigint[], %(heads)s::bigint[], %(at)s::float8[]
            ) AS held (lane, token, head, at)
            JOIN lanes ON {_HOLDS}
        ), rest AS (
            SELECT lane, at, EXISTS (
                SELECT FROM events WHERE events.lane = held.lane AND state = {PENDING}
            ) AS pending
            FROM held
        ), released AS (
            UPDATE lanes SET head = NULL, owner = NULL, lease_until = NULL,
                token = nextval('lease_tokens'), available_at = rest.at
            FROM rest WHERE lanes.lane = rest.lane AND rest.pending
        )
        DELETE FROM lanes USING rest WHERE lanes.lane = rest.lane AND NOT rest.pending
        """,
        {**_held_lanes(each.lease for each in by_lane), "at": [each.now for each in by_lane]},
    )

    async def held() -> list[bool]:
        lanes = {lane for (lane,) in await locked.fetchall()}
        return [each.lease.lane in lanes for each in group]

    return held


#: The leases given as the arrays `lanes`, `tokens` and `heads`, and whether `lanes` holds one.
_HELD = (
    "unnest(%(lanes)s::text[], %(tokens)s::bigint[], %(heads)s::bigint[])"
    " AS held (lane, token, head)"
)
_HOLDS = "(lanes.lane, lanes.token, lanes.head) = (held.lane, held.token, held.head)"


def _held_lanes(leases: Iterable[Lease]) -> dict[str, list[Any]]:
    listed = list(leases)
    return {
        "lanes": [lease.lane for lease in listed],
        "tokens": [lease.token for lease in listed],
        "heads": [lease.event.id for lease in listed],
    }


async def finish_events(
    connection: Connection, group: Sequence[Finishing], keep_traces: bool
) -> None:
    """The finished events of those leases of `group` that are held (their lanes locked), in
    one statement: they leave their lanes, their outcomes are logged and traced, and each
    counter they add to is written once."""
    rows = [
        (each.lease, done.event.id, _finished(done, each.now, keep_traces))
        for each in group
        for done in each.finished
    ]
    if not rows:
        return
    refusals = [
        (lease, kind, name, why, record["now"])
        for lease, _, record in rows
        for kind, name, why in zip(record["kinds"], record["names"], record["reasons"], strict=True)
    ]
    await connection.execute(
        _FINISH_EVENTS,
        {
            **_held_lanes(lease for lease, _, _ in rows),
            "ids": [event_id for _, event_id, _ in rows],
            **{name: [record[name] for _, _, record in rows] for name in _RECORDED},
            **{
                f"refused_{name}": values
                for name, values in _held_lanes(lease for lease, *_ in refusals).items()
            },
            "kinds": [kind for _, kind, _, _, _ in refusals],
            "names": [name for _, _, name, _, _ in refusals],
            "reasons": [why for _, _, _, why, _ in refusals],
            "refused_at": [at for _, _, _, _, at in refusals],
        },
    )


#: `recording.record`'s parameters that `_FINISH_EVENTS` takes as arrays, with their types.
_RECORDED = {
    "now": "float8",
    "message_id": "text",
    "lane": "text",
    "type": "text",
    "outcome": "text",
    "reason": "text",
    "calls": "int",
    "bucket": "bigint",
    "user_id": "text",
    "anonymous_id": "text",
    "email": "text",
    "event": "text",
    "body": "bytea",
    "trace": "bytea",
}
_FINISH_EVENTS = f"""
WITH finished AS (
    SELECT f.* FROM unnest(
        %(lanes)s::text[], %(tokens)s::bigint[], %(heads)s::bigint[], %(ids)s::bigint[],
        {", ".join(f"%({name})s::{type_}[]" for name, type_ in _RECORDED.items())}
    ) WITH ORDINALITY AS f (held_lane, token, head, id, at, {", ".join(list(_RECORDED)[1:])},
        place)
    JOIN lanes ON (lanes.lane, lanes.token, lanes.head) = (f.held_lane, f.token, f.head)
), done AS (
    UPDATE events SET state = {DONE}, body = NULL, history = NULL,
        finished_at = finished.at, reason = finished.reason
    FROM finished WHERE events.id = finished.id AND events.lane = finished.held_lane
        AND events.state = {PENDING}
), logged AS (
    INSERT INTO outcomes (at, message_id, lane, type, outcome, reason, calls, user_id,
        anonymous_id, email, event)
    SELECT at, message_id, lane, type, outcome, reason, calls, user_id, anonymous_id, email,
        event
    FROM finished ORDER BY place
), counted AS (
    INSERT INTO outcome_deltas (bucket, type, outcome, events, calls)
    SELECT bucket, type, outcome, count(*), sum(calls) FROM finished GROUP BY 1, 2, 3
), traced AS (
    INSERT INTO traces (at, message_id, user_id, anonymous_id, body, trace)
    SELECT at, message_id, user_id, anonymous_id, body, trace FROM finished
    WHERE trace IS NOT NULL ORDER BY place
), refused AS (
    -- Once per name whatever the number of events it was refused for, the last reason
    -- kept, and in the order of the names, so that two transactions cannot wait on each
    -- other for their rows.
    INSERT INTO refusals (kind, name, reason, at, times)
    SELECT DISTINCT ON (kind, name) kind, name, r.reason, r.at, 1
    FROM unnest(
        %(refused_lanes)s::text[], %(refused_tokens)s::bigint[], %(refused_heads)s::bigint[],
        %(kinds)s::text[], %(names)s::text[], %(reasons)s::text[], %(refused_at)s::float8[]
    ) WITH ORDINALITY AS r (held_lane, token, head, kind, name, reason, at, place)
    JOIN lanes ON (lanes.lane, lanes.token, lanes.head) = (r.held_lane, r.token, r.head)
    ORDER BY kind, name, place DESC{REFUSAL_CONFLICT}
)
SELECT
"""


async def dead(
    connection: Connection,
    lease: Lease,
    reason: str,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
) -> None:
    await _release(
        connection,
        lease,
        _bury(PENDING),
        record(
            lease.event, "dead", reason, now=now, calls=calls, trace=trace, keep_traces=keep_traces
        ),
    )


async def park(
    connection: Connection,
    lease: Lease,
    waiting_for: str,
    until: float,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
    reason: str,
) -> None:
    await _release(
        connection,
        lease,
        f"UPDATE events SET state = {PARKED}, waiting_for = %(waiting_for)s,"
        " until = %(until)s, not_before = 0 WHERE id = %(id)s",
        record(
            lease.event,
            "parked",
            reason,
            now=now,
            calls=calls,
            trace=trace,
            keep_traces=keep_traces,
        ),
        waiting_for=waiting_for,
        until=until,
    )


_APPEND_ATTEMPT = (
    "coalesce(history, '[]'::jsonb)"
    " || jsonb_build_array(jsonb_build_array(%(now)s::float8, %(reason)s::text))"
)


def _bury(state: int) -> str:
    """The statement making the event `id`, if in `state`, a dead letter, its reason the
    last attempt's outcome."""
    return (
        f"UPDATE events SET state = {DEAD}, attempts = attempts + 1,"
        f" history = {_APPEND_ATTEMPT}, finished_at = %(now)s, reason = %(reason)s,"
        f" waiting_for = NULL, until = NULL WHERE id = %(id)s AND state = {state}"
    )


def _finished(done: Finished, now: float, keep_traces: bool) -> dict[str, Any]:
    return record(
        done.event,
        done.outcome,
        done.reason,
        now=now,
        calls=done.calls,
        trace=done.trace,
        keep_traces=keep_traces,
    )


def _recorded(written: str) -> str:
    """The CTEs recording an attempt's outcome (`recording.record`'s parameters), each
    writing only if `written` holds."""
    return f"""
        logged AS ({LOG} WHERE {written}),
        counted AS ({count_into("outcome_deltas")} WHERE {written}),
        traced AS ({TRACE} WHERE {written} AND %(trace)s::bytea IS NOT NULL),
        refused AS (
            INSERT INTO refusals (kind, name, reason, at, times)
            SELECT kind, name, reason, %(now)s, 1
            FROM unnest(%(kinds)s::text[], %(names)s::text[], %(reasons)s::text[])
                AS r (kind, name, reason)
            WHERE {written} ORDER BY kind, name{REFUSAL_CONFLICT}
        )"""


async def retry(
    connection: Connection,
    lease: Lease,
    at: float,
    outcome: str,
    now: float,
    calls: int,
    trace: Trace | None,
    keep_traces: bool,
) -> None:
    # The head stays chosen, so no event leaves the lane: one statement does it all.
    cursor = await connection.execute(
        f"""
        WITH held AS (
            UPDATE lanes SET owner = NULL, lease_until = NULL,
                token = nextval('lease_tokens'), available_at = %(at)s
            WHERE lane = %(lane)s AND token = %(token)s AND head = %(id)s
            RETURNING lane
        ), tried AS (
            UPDATE events SET attempts = attempts + 1, not_before = %(at)s,
                history = {_APPEND_ATTEMPT}
            WHERE id = %(id)s AND EXISTS (SELECT FROM held)
        ), {_recorded("EXISTS (SELECT FROM held)")}
        SELECT FROM held
        """,
        {
            **_lease_parameters(lease),
            **record(
                lease.event,
                "retry",
                outcome,
                now=now,
                calls=calls,
                trace=trace,
                keep_traces=keep_traces,
            ),
            "at": at,
        },
    )
    _held(cursor.rowcount, lease)


async def unpark(
    connection: Connection, lane: str | None, waiting_for: str | None, now: float
) -> int:
    if lane is None and waiting_for is None:
        raise ValueError("unpark needs a lane, a waiting_for key, or both")
    matches = {"lane": lane, "waiting_for": waiting_for}
    given = {name: value for name, value in matches.items() if value is not None}
    matching = " AND ".join(f"{name} = %({name})s" for name in given)
    return await _to_front(connection, PARKED, matching, given, now)


async def replay(connection: Connection, event_ids: Sequence[int] | None, now: float) -> int:
    return await _to_front(
        connection,
        DEAD,
        "(%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))",
        {"ids": None if event_ids is None else list(event_ids)},
        now,
        reset=", attempts = 0, history = NULL, finished_at = NULL, reason = NULL",
    )


async def purge(connection: Connection, event_ids: Sequence[int] | None) -> int:
    cursor = await connection.execute(
        f"DELETE FROM events WHERE state = {DEAD} AND (%(ids)s::bigint[] IS NULL"
        " OR id = ANY(%(ids)s))",
        {"ids": None if event_ids is None else list(event_ids)},
    )
    return cursor.rowcount


async def dead_parked(connection: Connection, event_id: int, reason: str, now: float) -> bool:
    cursor = await connection.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s AND state = {PARKED} FOR UPDATE",
        (event_id,),
    )
    row = await cursor.fetchone()
    if row is None:
        return False
    event = stored_event(row)
    await connection.execute(
        f"WITH buried AS ({_bury(PARKED)}), {_recorded('true')} SELECT",
        {
            **record(event, "dead", reason, now=now, calls=0, trace=None, keep_traces=False),
            "id": event_id,
        },
    )
    return True


async def replay_shape(connection: Connection, shape: str, now: float) -> int:
    return await replay(connection, await _dead_of(connection, shape), now)


async def purge_shape(connection: Connection, shape: str) -> int:
    return await purge(connection, await _dead_of(connection, shape))


async def _dead_of(connection: Connection, shape: str) -> list[int]:
    """The ids of the dead letters whose reason has the shape `shape`."""
    distinct = await connection.execute(f"SELECT DISTINCT reason FROM events WHERE state = {DEAD}")
    reasons = of_shape((reason for (reason,) in await distinct.fetchall()), shape)
    cursor = await connection.execute(
        f"SELECT id FROM events WHERE state = {DEAD} AND reason = ANY(%s)", (reasons,)
    )
    return [event_id for (event_id,) in await cursor.fetchall()]


async def link(
    connection: Connection, anonymous_id: str, user_id: str, now: float, force: bool
) -> int:
    # Enqueues of the visitor's events that started before this link finish first, and
    # those that start later read the link: none of them is left in the visitor's lane.
    await connection.execute(
        "SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", (LOCKS, anonymous_id)
    )
    if anonymous_id != user_id:
        await connection.execute(
            "SELECT FROM lanes WHERE lane = ANY(%s) ORDER BY lane FOR UPDATE",
            ([anonymous_id, user_id],),
        )
        # The lanes are locked: a lease taken on the visitor's lane has committed, or waits.
        cursor = await connection.execute(
            "SELECT FROM lanes WHERE lane = %s AND owner IS NOT NULL AND lease_until > %s",
            (anonymous_id, now),
        )
        if cursor.rowcount and not force:
            raise VisitorInFlight(anonymous_id)
    await connection.execute(
        "INSERT INTO links (anonymous_id, user_id, linked_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (anonymous_id) DO UPDATE SET user_id = excluded.user_id,"
        " linked_at = excluded.linked_at",
        (anonymous_id, user_id, now),
    )
    if anonymous_id == user_id:
        return 0
    # The visitor's events keep their positions, which are their arrival order: they merge
    # into the user's lane among the user's own events as they arrived, behind its head.
    cursor = await connection.execute(
        f"UPDATE events SET state = {PENDING}, lane = %s, not_before = 0, waiting_for = NULL,"
        f" until = NULL WHERE lane = %s AND (state = {PENDING} OR state = {PARKED})",
        (user_id, anonymous_id),
    )
    moved = cursor.rowcount
    await connection.execute("DELETE FROM lanes WHERE lane = %s", (anonymous_id,))
    if moved:
        await _open_lanes(connection, [user_id], now)
    return moved


async def _to_front(
    connection: Connection,
    state: int,
    matching: str,
    parameters: dict[str, Any],
    now: float,
    reset: str = "",
) -> int:
    """Make the matching events of `state`, in their order, the next pending events of their
    lanes, after a chosen head."""
    cursor = await connection.execute(
        f"SELECT DISTINCT lane FROM events WHERE state = {state} AND {matching}", parameters
    )
    lanes = [lane for (lane,) in await cursor.fetchall()]
    if not lanes:
        return 0
    await _open_lanes(connection, lanes, now)
    # The lanes are locked: this statement sees every pending event they have.
    cursor = await connection.execute(
        f"""
        WITH chosen AS (
            SELECT id, lane, position FROM events WHERE state = {state} AND {matching}
        ), fronts AS (
            SELECT lane, coalesce((
                SELECT min(position) FROM events
                WHERE events.lane = chosen.lane AND state = {PENDING}
            ), 0) - count(*) AS first
            FROM chosen GROUP BY lane
        ), placed AS (
            SELECT id, first + row_number() OVER (PARTITION BY lane ORDER BY position) - 1
                AS position
            FROM chosen JOIN fronts USING (lane)
        )
        UPDATE events SET state = {PENDING}, position = placed.position, not_before = 0,
            waiting_for = NULL, until = NULL {reset}
        FROM placed WHERE events.id = placed.id AND events.state = {state}
        """,
        parameters,
    )
    return cursor.rowcount


async def _release(
    connection: Connection,
    lease: Lease,
    change_head: str,
    recorded: dict[str, Any],
    **extra: Any,
) -> None:
    """Check the lease, let the head leave the lane (`change_head`, which reads the
    `id`, `now` and `reason` parameters), record the outcome (`recorded`: see
    `recording.record`) and end the lease: the lane queues up behind the others, or goes if
    nothing is left in it."""
    await _lock_held(connection, lease)
    await connection.execute(
        f"""
        WITH changed AS ({change_head}), {_recorded("true")}, rest AS (
            SELECT EXISTS (
                SELECT FROM events WHERE lane = %(lane)s AND state = {PENDING} AND id <> %(id)s
            ) AS pending
        ), released AS (
            UPDATE lanes SET head = NULL, owner = NULL, lease_until = NULL,
                token = nextval('lease_tokens'), available_at = %(now)s
            WHERE lane = %(lane)s AND (SELECT pending FROM rest)
        )
        DELETE FROM lanes WHERE lane = %(lane)s AND NOT (SELECT pending FROM rest)
        """,
        {**recorded, **_lease_parameters(lease), **extra},
    )


async def _open_lanes(connection: Connection, lanes: list[str], now: float) -> None:
    # A lane that exists keeps its place in the queue (and its lease); the row is locked
    # either way, until the transaction ends.
    await connection.execute(
        "INSERT INTO lanes (lane, available_at)"
        " SELECT lane, %s FROM unnest(%s::text[]) AS lane ORDER BY lane"
        " ON CONFLICT (lane) DO UPDATE SET available_at = lanes.available_at",
        (now, lanes),
    )


def _lease_parameters(lease: Lease) -> dict[str, Any]:
    return {"lane": lease.lane, "token": lease.token, "id": lease.event.id}


async def _lock_held(connection: Connection, lease: Lease) -> None:
    """Lock the lease's lane, which it must still hold (else LeaseLost)."""
    cursor = await connection.execute(
        "SELECT FROM lanes WHERE lane = %s AND token = %s AND head = %s FOR UPDATE",
        (lease.lane, lease.token, lease.event.id),
    )
    _held(cursor.rowcount, lease)


def _held(rowcount: int, lease: Lease) -> None:
    if rowcount != 1:
        raise LeaseLost(f"the lease on lane {lease.lane!r} was lost")
