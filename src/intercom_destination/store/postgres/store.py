"""The scale-out store: one PostgreSQL database shared by many ingest and worker processes.

Each call runs on a connection from a pool, in one statement or one transaction of its own;
what keeps the lanes right while many processes change them at once is in `lanes`, and the
statements both stores run alike are in `sql.SQLStore`. Enqueues are group-committed like
the SQLite store's: the calls that arrive while one transaction commits share the next, so
many small batches from many requests cost about what a few large ones do. Completions that
let events leave their lanes (`delivered`, `skipped`, `finish_many`) are grouped the same
way: one transaction, of three statements sent together, for every worker task finishing
meanwhile.

The rate bucket is one row that every taker locks, the event-name budget is counted under
a lock on its table, and the caches are plain rows: all of them hold across processes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from intercom_destination.store import bucket
from intercom_destination.store.base import (
    DEDUP_WINDOW,
    OUTCOME_LOG_ROWS,
    Enqueued,
    Finished,
    Lease,
    LeaseLost,
    Model,
    NewEvent,
    NoStore,
    Person,
    Status,
    StoreError,
)
from intercom_destination.store.console import TRACE_RETENTION, TRACE_ROWS
from intercom_destination.store.console_sql import outcome_totals
from intercom_destination.store.names import without_credentials
from intercom_destination.store.postgres import lanes
from intercom_destination.store.postgres.schema import Connection, has_schema, migrate
from intercom_destination.store.pruning import (
    FOLD_COUNTERS,
    MARK_PRUNED,
    PRUNE_TRACES,
    fold_parameters,
)
from intercom_destination.store.recording import COUNT_CONFLICT
from intercom_destination.store.rows import (
    CACHES,
    DEAD,
    DONE,
    PARKED,
    PENDING,
    erasure,
    identity_keys_of,
)
from intercom_destination.store.sql import MaybeAwaitable, SQLStore, settled

T = TypeVar("T")

#: Connections each store keeps open at most. A fleet needs this many per process within
#: the server's `max_connections`.
POOL_SIZE = 10
#: Seconds a call waits for a connection from the pool before it fails (psycopg_pool's
#: default is 30): with the database down or unreachable, ingest answers 503 and /ready
#: false within this, rather than holding requests until their clients give up.
CONNECTION_WAIT = 2.0
#: Seconds libpq may take to connect (its `connect_timeout`, unless the URL sets one; 2 is
#: its least): without it, a server that accepts connections but never answers holds each
#: attempt for ever, and the pool never connects again once it is back.
CONNECT_TIMEOUT = 2
#: Rows one group commit takes from the callers after its first: enough to amortise the
#: commit, few enough that no caller waits long behind others.
MAX_ROWS = 2000

_Waiting = tuple[Sequence[NewEvent], "asyncio.Future[list[Enqueued]]"]
_Finishing = tuple[lanes.Finishing, "asyncio.Future[None]"]


async def migrate_database(url: str) -> tuple[int, int]:
    """Create or migrate the schema of the database `url` names; its versions before and
    after. Raises StoreError."""
    async with await _connect(url) as connection:
        return await migrate(connection, upgrade=True)


class PostgresStore(SQLStore[Connection]):
    _lanes = lanes

    # The counters `prune` has folded, and the deltas since (see `schema.outcome_deltas`).
    COUNTS = (
        "(SELECT bucket, type, outcome, events, calls FROM outcome_counts UNION ALL"
        " SELECT bucket, type, outcome, events, calls FROM outcome_deltas) AS counts"
    )

    def __init__(
        self,
        pool: AsyncConnectionPool[Connection],
        *,
        dedup_window: float,
        outcome_log_rows: int,
        trace_retention: float = TRACE_RETENTION,
        trace_rows: int = TRACE_ROWS,
    ) -> None:
        self._pool = pool
        self._dedup_window = dedup_window
        self._outcome_log_rows = outcome_log_rows
        self._trace_retention = trace_retention
        self._trace_rows = trace_rows
        self._waiting: deque[_Waiting] = deque()
        self._committing: asyncio.Task[None] | None = None
        self._finishing: deque[_Finishing] = deque()
        self._finishing_task: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        dedup_window: float = DEDUP_WINDOW,
        outcome_log_rows: int = OUTCOME_LOG_ROWS,
        trace_retention: float = TRACE_RETENTION,
        trace_rows: int = TRACE_ROWS,
        create: bool = True,
        connection_wait: float = CONNECTION_WAIT,
    ) -> PostgresStore:
        async with await _connect(url) as connection:
            if not create and not await has_schema(connection):
                raise NoStore(without_credentials(url))
            await migrate(connection, upgrade=False)
        pool = AsyncConnectionPool(
            url,
            connection_class=psycopg.AsyncConnection[tuple[Any, ...]],
            kwargs=_connection_options(url),
            min_size=1,
            max_size=POOL_SIZE,
            timeout=connection_wait,
            open=False,
        )
        await pool.open(wait=True)
        return cls(
            pool,
            dedup_window=dedup_window,
            outcome_log_rows=outcome_log_rows,
            trace_retention=trace_retention,
            trace_rows=trace_rows,
        )

    async def close(self) -> None:
        self._closed = True
        if self._committing is not None:
            await asyncio.shield(self._committing)
        if self._finishing_task is not None:
            await asyncio.shield(self._finishing_task)
        await self._pool.close()

    async def enqueue(self, events: Sequence[NewEvent]) -> list[Enqueued]:
        if not events:
            return []
        self._check_open()
        future: asyncio.Future[list[Enqueued]] = asyncio.get_running_loop().create_future()
        self._waiting.append((events, future))
        if self._committing is None:
            self._committing = asyncio.create_task(self._commit_waiting())
        return await future

    async def _commit_waiting(self) -> None:
        try:
            while self._waiting:
                batch = [self._waiting.popleft()]
                rows = 0
                while self._waiting and rows + len(self._waiting[0][0]) <= MAX_ROWS:
                    batch.append(self._waiting.popleft())
                    rows += len(batch[-1][0])
                await self._commit(batch)
        finally:
            self._committing = None

    async def _commit(self, batch: list[_Waiting]) -> None:
        items = [event for events, _ in batch for event in events]
        try:
            # Not `_transaction`: a store being closed still commits what it was given.
            async with self._pool.connection() as connection, connection.transaction():
                results = await lanes.enqueue(connection, items)
        except Exception as error:
            if len(batch) > 1:
                # One caller's bad batch must not fail the others': commit each on its own.
                for waiting in batch:
                    await self._commit([waiting])
            elif not batch[0][1].done():
                batch[0][1].set_exception(error)
            return
        start = 0
        for events, future in batch:
            if not future.done():  # else its caller was cancelled; the work is done anyway
                future.set_result(results[start : start + len(events)])
            start += len(events)

    async def lease(
        self, worker_id: str, max_lanes: int, lease_for: float, now: float, *, following: int = 0
    ) -> list[Lease]:
        return await self._transaction(
            partial(
                lanes.lease,
                worker_id=worker_id,
                max_lanes=max_lanes,
                lease_for=lease_for,
                now=now,
                following=following,
            )
        )

    async def finish_many(
        self, lease: Lease, finished: Sequence[Finished], *, now: float, keep: bool = False
    ) -> Lease | None:
        if keep:
            return await self._transaction(
                partial(
                    lanes.finish_keeping,
                    lease=lease,
                    finished=finished,
                    now=now,
                    keep_traces=self._keep_traces,
                )
            )
        await self._finish(lanes.Finishing(lease, finished, now))
        return None

    async def _finish(self, finishing: lanes.Finishing) -> None:
        """Finish in the next group transaction; LeaseLost if the lease was not held."""
        self._check_open()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finishing.append((finishing, future))
        if self._finishing_task is None:
            self._finishing_task = asyncio.create_task(self._finish_waiting())
        await future

    async def _finish_waiting(self) -> None:
        try:
            while self._finishing:
                group: list[_Finishing] = []
                lanes_in_group: set[str] = set()
                rows = 0
                # One lease per lane in a group: a second finish of the same lease must see
                # the first's work, and fail as spent.
                while (
                    self._finishing
                    and rows < MAX_ROWS
                    and self._finishing[0][0].lease.lane not in lanes_in_group
                ):
                    group.append(self._finishing.popleft())
                    lanes_in_group.add(group[-1][0].lease.lane)
                    rows += len(group[-1][0].finished)
                await self._finish_group(group)
        finally:
            self._finishing_task = None

    async def _finish_group(self, group: list[_Finishing]) -> None:
        try:
            # One round trip for the group's statements, one for its commit.
            async with self._pool.connection() as connection, connection.pipeline():
                async with connection.transaction():
                    answered = await lanes.finish_group(
                        connection, [each for each, _ in group], self._keep_traces
                    )
                held = await answered()
        except Exception as error:
            if len(group) > 1:
                # One caller's trouble must not fail the others': finish each on its own.
                for waiting in group:
                    await self._finish_group([waiting])
            elif not group[0][1].done():
                group[0][1].set_exception(error)
            return
        for (finishing, future), was_held in zip(group, held, strict=True):
            if future.done():  # its caller was cancelled; the work is done anyway
                continue
            if was_held:
                future.set_result(None)
            else:
                future.set_exception(
                    LeaseLost(f"the lease on lane {finishing.lease.lane!r} was lost")
                )

    async def link(
        self, anonymous_id: str, user_id: str, *, now: float, force: bool = False
    ) -> int:
        return await self._transaction(
            partial(lanes.link, anonymous_id=anonymous_id, user_id=user_id, now=now, force=force)
        )

    async def claim_workspace(self, workspace: str) -> str | None:
        async def claim(connection: Connection) -> str | None:
            # The row lock makes processes starting at once claim one after another.
            cursor = await connection.execute("SELECT app FROM workspace WHERE id = 1 FOR UPDATE")
            (previous,) = await _one(cursor)
            if previous != workspace:
                for table in CACHES:
                    await connection.execute(f"DELETE FROM {table}")
                await connection.execute("UPDATE workspace SET app = %s WHERE id = 1", (workspace,))
            return None if previous is None else str(previous)

        return await self._transaction(claim)

    async def replace_attributes(self, model: Model, attributes: Mapping[str, str]) -> None:
        async def replace(connection: Connection) -> None:
            await connection.execute("DELETE FROM attributes WHERE model = %s", (model,))
            await connection.execute(
                "INSERT INTO attributes (model, name, data_type)"
                " SELECT %s, * FROM unnest(%s::text[], %s::text[])",
                (model, list(attributes), list(attributes.values())),
            )

        await self._transaction(replace)

    async def add_event_name(self, name: str, *, budget: int | None = None) -> bool:
        async def add(connection: Connection) -> bool:
            if budget is not None:
                # New names are counted and added one at a time, whichever process adds
                # them; looking names up is never held up.
                await connection.execute("LOCK TABLE event_names IN SHARE ROW EXCLUSIVE MODE")
                cursor = await connection.execute(
                    "SELECT EXISTS (SELECT FROM event_names WHERE name = %s),"
                    " (SELECT count(*) FROM event_names)",
                    (name,),
                )
                known, count = await _one(cursor)
                if not known and count >= budget:
                    return False
            await connection.execute(
                "INSERT INTO event_names (name, accepted) VALUES (%s, false)"
                " ON CONFLICT DO NOTHING",
                (name,),
            )
            return True

        if await self._read("SELECT 1 FROM event_names WHERE name = %s", (name,)):
            return True
        return await self._transaction(add)

    async def take_tokens(self, most: int, now: float, rate: float, burst: float) -> bucket.Grant:
        bucket.check(most, rate, burst)

        async def take(connection: Connection) -> bucket.Grant:
            cursor = await connection.execute(
                "SELECT tokens, updated_at, paused_until FROM rate_bucket WHERE id = 1 FOR UPDATE"
            )
            tokens, updated_at, paused_until = await _one(cursor)
            before = None if tokens is None else bucket.Bucket(tokens, updated_at, paused_until)
            after, grant = bucket.take(before, most, now=now, rate=rate, burst=burst)
            await connection.execute(
                "UPDATE rate_bucket SET tokens = %s, updated_at = %s WHERE id = 1",
                (after.tokens, after.updated_at),
            )
            return grant

        return await self._transaction(take)

    async def pause_until(self, until: float, reason: str) -> None:
        # A bucket first used by a pause starts empty at the pause's end.
        await self._write(
            "UPDATE rate_bucket SET paused_until = greatest(paused_until, %(until)s),"
            " paused_reason = CASE WHEN paused_until IS NULL OR %(until)s >= paused_until"
            " THEN %(reason)s ELSE paused_reason END,"
            " tokens = coalesce(tokens, 0), updated_at = coalesce(updated_at, %(until)s)"
            " WHERE id = 1",
            {"until": until, "reason": reason},
        )

    async def status(self, now: float) -> Status:
        [(lane_count, in_flight, backlog, oldest, parked, dead)] = await self._read(
            f"""SELECT
                (SELECT count(*) FROM lanes),
                (SELECT count(*) FROM lanes WHERE lease_until > %s),
                (SELECT count(*) FROM events WHERE state = {PENDING}),
                (SELECT min(received_at) FROM events WHERE state = {PENDING}),
                (SELECT count(*) FROM events WHERE state = {PARKED}),
                (SELECT count(*) FROM events WHERE state = {DEAD})""",
            (now,),
        )
        outcomes = await self._read(outcome_totals(self.COUNTS), ())
        return Status(
            lanes=lane_count,
            in_flight=in_flight,
            backlog=backlog,
            oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
            parked=parked,
            dead=dead,
            outcomes={outcome: int(count) for outcome, count in outcomes},
        )

    async def prune(self, now: float, limit: int = 10_000) -> int:
        async def prune(connection: Connection) -> int:
            events = await connection.execute(
                "DELETE FROM events WHERE id IN (SELECT id FROM events"
                f" WHERE state = {DONE} AND finished_at < %s LIMIT %s)",
                (now - self._dedup_window, limit),
            )
            outcomes = await connection.execute(
                "DELETE FROM outcomes WHERE id IN (SELECT id FROM outcomes WHERE id <="
                " (SELECT id FROM outcomes ORDER BY id DESC OFFSET %s LIMIT 1)"
                " ORDER BY id LIMIT %s)",
                (self._outcome_log_rows, limit),
            )
            traces = await connection.execute(
                PRUNE_TRACES, (limit, now - self._trace_retention, self._trace_rows)
            )
            pruned = await traces.fetchall()
            if pruned:
                await connection.execute(MARK_PRUNED, (max(at for (at,) in pruned),))
            await connection.execute(_FOLD_DELTAS)
            for statement, parameters in zip(FOLD_COUNTERS, fold_parameters(now), strict=True):
                await connection.execute(statement, parameters)
            return events.rowcount + outcomes.rowcount + len(pruned)

        return await self._transaction(prune)

    _NEW_TOKEN = "nextval('lease_tokens')"

    async def erase(self, person: Person, *, now: float) -> int:
        if not person.lanes:
            return 0

        async def erase(connection: Connection) -> int:
            # The lanes' rows first, in the order every transaction locks them (see `lanes`).
            await connection.execute(
                "SELECT FROM lanes WHERE lane = ANY(%s) ORDER BY lane FOR UPDATE",
                (list(person.lanes),),
            )
            keys: list[tuple[Any, ...]] = []
            if person.contact_ids:
                cursor = await connection.execute(*identity_keys_of(person.contact_ids))
                keys = await cursor.fetchall()
            statements = erasure(person, [(kind, key) for kind, key in keys])
            events = (await connection.execute(*statements[0])).rowcount
            for statement in statements[1:]:
                await connection.execute(*statement)
            return events

        return await self._transaction(erase)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    async def _transaction(self, fn: Callable[[Connection], Awaitable[T]]) -> T:
        self._check_open()
        async with self._pool.connection() as connection, connection.transaction():
            return await fn(connection)

    async def _in_lanes(
        self, function: Callable[[Connection], MaybeAwaitable[T]], *, durable: bool = True
    ) -> T:
        return await self._transaction(lambda connection: settled(function(connection)))

    async def _read(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        """The rows of one statement, run on its own (it commits at once)."""
        self._check_open()
        async with self._pool.connection() as connection:
            cursor = await connection.execute(sql, parameters)
            return await cursor.fetchall() if cursor.description else []

    async def _write(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any], *, durable: bool = True
    ) -> None:
        await self._read(sql, parameters)

    async def _changed(self, sql: str, parameters: Sequence[Any], *, durable: bool = True) -> bool:
        return bool(await self._read(sql, parameters))

    async def _returning(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        return await self._read(sql, parameters)


#: The deltas outcome writes appended, added to the counters they belong to.
_FOLD_DELTAS = (
    "WITH folded AS (DELETE FROM outcome_deltas RETURNING bucket, type, outcome, events, calls)"
    " INSERT INTO outcome_counts (bucket, type, outcome, events, calls)"
    " SELECT bucket, type, outcome, sum(events), sum(calls) FROM folded GROUP BY 1, 2, 3"
    " ORDER BY 1, 2, 3" + COUNT_CONFLICT
)


def _connection_options(url: str) -> dict[str, Any]:
    options: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in conninfo_to_dict(url):
        options["connect_timeout"] = CONNECT_TIMEOUT
    return options


async def _connect(url: str) -> Connection:
    try:
        return await psycopg.AsyncConnection.connect(url, **_connection_options(url))
    except psycopg.Error as error:
        # libpq's message names the host, port and user, never the password.
        raise StoreError(f"DATABASE_URL: cannot connect to PostgreSQL: {error}") from None


async def _one(cursor: psycopg.AsyncCursor[tuple[Any, ...]]) -> tuple[Any, ...]:
    row = await cursor.fetchone()
    assert row is not None, "the statement returns one row"
    return row
