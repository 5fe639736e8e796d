"""The embedded store: one SQLite file in WAL mode (or an in-memory database, for tests).

Writes go through one writer connection on its own thread, which group-commits them
(`thread.Writer`); reads of a file go through a second connection on another thread.
Enqueued events are appended to segment files next to the database by a third thread (whose
connection reads only, for dedup), and sorted into their lanes in bulk by the writer
(`inbox`).
Several processes may share a file: SQLite's locks serialise their writers, and leases and
the rate bucket live in the file. The statements both stores run alike are in `sql.SQLStore`;
its reads go to the reader, its writes to the writer.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from intercom_destination.store import bucket
from intercom_destination.store.base import (
    DEDUP_WINDOW,
    OUTCOME_LOG_ROWS,
    Deletion,
    Enqueued,
    Finished,
    Lease,
    Model,
    NewEvent,
    NoStore,
    Person,
    Status,
    StoreError,
)
from intercom_destination.store.console import TRACE_RETENTION, TRACE_ROWS
from intercom_destination.store.console_sql import outcome_totals
from intercom_destination.store.pruning import (
    FOLD_COUNTERS,
    MARK_PRUNED,
    PRUNE_TRACES,
    fold_parameters,
)
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
from intercom_destination.store.sqlite import lanes
from intercom_destination.store.sqlite.inbox import Arrivals, Sorter, Waiting, sort_marks
from intercom_destination.store.sqlite.recorded import Recording
from intercom_destination.store.sqlite.schema import (
    SEGMENTS_SUFFIX,
    attach_legacy_inbox,
    has_schema,
    is_current,
    legacy_inbox_files,
    migrate,
)
from intercom_destination.store.sqlite.segments import Arrived, scrub
from intercom_destination.store.sqlite.thread import Reader, Writer

T = TypeVar("T")

MEMORY = ":memory:"
#: How long a writer waits for another process's write lock before its transaction fails.
BUSY_TIMEOUT = 10.0
#: Seconds between attempts to open a file another process holds locked (see `_connect`).
OPEN_RETRY = 0.05
#: How much lower the writer's thread is scheduled than the others: its sorts, and delivery's
#: bookkeeping, can wait a little, while an enqueue holds up a request's answer.
WRITER_NICE = 10
#: The pages each connection keeps in memory, KiB. The writer's sorts and delivery's writes
#: touch index pages anywhere in the file, which it keeps rather than read back; the appender
#: looks messageIds up in their index, and the reader counts and lists. A store's size soon
#: fills each, so these bound the process's memory; larger ones bought no speed.
WRITER_CACHE = 32 * 1024
APPENDER_CACHE = 16 * 1024
READER_CACHE = 8 * 1024
#: Seconds an erasure tries to checkpoint the whole log into the file and empty it, while
#: other connections still read pages from it.
CHECKPOINT_PATIENCE = 10.0
#: Reads of the status at most while sorts keep committing under it (a heavy ingest sorts one
#: after another); the last is answered.
STATUS_TRIES = 5


class SQLiteStore(SQLStore[sqlite3.Connection]):
    _lanes = lanes

    def __init__(
        self,
        writer: Writer[NewEvent, Enqueued],
        appender: Writer[NewEvent, Enqueued],
        reader: Reader | Writer[NewEvent, Enqueued],
        arrivals: Arrivals,
        sorter: Sorter,
        *,
        dedup_window: float,
        outcome_log_rows: int,
        path: str,
        trace_retention: float,
        trace_rows: int,
        scratch: Path | None = None,
    ) -> None:
        self._path = path
        self._writer = writer
        self._appender = appender
        self._reader = reader
        self._arrivals = arrivals
        self._sorter = sorter
        #: What waits to be sorted, as `status` reads it on the reader's thread.
        self._waiting = Waiting(sorter.directory)
        #: An in-memory store's segments, deleted when it closes. (Not a TemporaryDirectory,
        #: whose finalizer may delete them at exit before a library's handler delivers them.)
        self._scratch = scratch
        self._dedup_window = dedup_window
        self._outcome_log_rows = outcome_log_rows
        self._trace_retention = trace_retention
        self._trace_rows = trace_rows

    @classmethod
    async def open(
        cls,
        path: str,
        *,
        dedup_window: float = DEDUP_WINDOW,
        outcome_log_rows: int = OUTCOME_LOG_ROWS,
        trace_retention: float = TRACE_RETENTION,
        trace_rows: int = TRACE_ROWS,
        create: bool = True,
    ) -> SQLiteStore:
        if not create and path != MEMORY and not Path(path).exists():
            raise _no_store(path)
        scratch = Path(tempfile.mkdtemp(prefix="intercom-destination-")) if path == MEMORY else None
        # An in-memory store is lost with its process: its segments need no flush.
        directory = scratch or Path(path + SEGMENTS_SUFFIX)
        arrivals = Arrivals(directory, sync=scratch is None)
        sorter = Sorter(directory, arrivals)
        threads: list[Reader | Writer[NewEvent, Enqueued]] = []
        reader: Reader | Writer[NewEvent, Enqueued]
        try:
            if path == MEMORY:
                # An in-memory database exists on one connection only, which does everything.
                # It is migrated before the writer starts: the writer's first upkeep sorts.
                connection = await _connect(path, WRITER_CACHE)
                await asyncio.to_thread(migrate, connection)
                writer: Writer[NewEvent, Enqueued] = Writer(
                    connection,
                    "store-writer",
                    batcher=arrivals,
                    upkeep=sorter,
                    deferred=connection.recorded,
                )
                threads.append(writer)
                appender, reader = writer, writer
            else:
                reader = Reader(await _connect(path, READER_CACHE), "store-reader")
                threads.append(reader)
                if not await reader.call(is_current):
                    if not create and not await reader.call(has_schema):
                        raise _no_store(path)
                    await migrate_database(path)
                connection = await _connect(path, WRITER_CACHE)
                writer = Writer(
                    connection,
                    "store-writer",
                    upkeep=sorter,
                    deferred=connection.recorded,
                    nice=WRITER_NICE,
                )
                threads.append(writer)
                appender = Writer(
                    await _connect(path, APPENDER_CACHE), "store-appender", batcher=arrivals
                )
        except BaseException:
            for thread in threads:
                await thread.stop()
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        return cls(
            writer,
            appender,
            reader,
            arrivals,
            sorter,
            dedup_window=dedup_window,
            outcome_log_rows=outcome_log_rows,
            path=path,
            trace_retention=trace_retention,
            trace_rows=trace_rows,
            scratch=scratch,
        )

    async def close(self) -> None:
        await self._appender.stop()
        self._arrivals.close()
        await self._writer.stop()
        await self._reader.stop()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    async def enqueue(self, events: Sequence[NewEvent]) -> list[Enqueued]:
        if not events:
            return []
        return await self._appender.batch(events)

    async def lease(
        self, worker_id: str, max_lanes: int, lease_for: float, now: float, *, following: int = 0
    ) -> list[Lease]:
        return await self._writer.call(
            partial(
                _lease,
                sorter=self._sorter,
                worker_id=worker_id,
                max_lanes=max_lanes,
                lease_for=lease_for,
                now=now,
                following=following,
            ),
            durable=False,
        )

    async def finish_many(
        self, lease: Lease, finished: Sequence[Finished], *, now: float, keep: bool = False
    ) -> Lease | None:
        return await self._writer.call(
            partial(
                lanes.finish_many,
                lease=lease,
                finished=finished,
                now=now,
                keep=keep,
                keep_traces=self._keep_traces,
            ),
            rows_only=True,
            durable=False,
        )

    async def link(
        self, anonymous_id: str, user_id: str, *, now: float, force: bool = False
    ) -> int:
        return await self._writer.call(
            partial(
                _link,
                sorter=self._sorter,
                anonymous_id=anonymous_id,
                user_id=user_id,
                now=now,
                force=force,
            ),
            durable=False,
        )

    async def claim_workspace(self, workspace: str) -> str | None:
        return await self._writer.call(partial(_claim_workspace, workspace=workspace))

    async def replace_attributes(self, model: Model, attributes: Mapping[str, str]) -> None:
        def replace(connection: sqlite3.Connection) -> None:
            connection.execute("DELETE FROM attributes WHERE model = ?", (model,))
            connection.executemany(
                "INSERT INTO attributes (model, name, data_type) VALUES (?, ?, ?)",
                [(model, name, data_type) for name, data_type in attributes.items()],
            )

        await self._writer.call(replace)

    async def add_event_name(self, name: str, *, budget: int | None = None) -> bool:
        def add(connection: sqlite3.Connection) -> bool:
            if connection.execute("SELECT 1 FROM event_names WHERE name = ?", (name,)).fetchone():
                return True
            (count,) = connection.execute("SELECT count(*) FROM event_names").fetchone()
            if budget is not None and count >= budget:
                return False
            connection.execute("INSERT INTO event_names (name, accepted) VALUES (?, 0)", (name,))
            return True

        return await self._writer.call(add)

    async def take_tokens(self, most: int, now: float, rate: float, burst: float) -> bucket.Grant:
        bucket.check(most, rate, burst)
        return await self._writer.call(
            partial(_take_tokens, most=most, now=now, rate=rate, burst=burst),
            rows_only=True,
            durable=False,
        )

    async def pause_until(self, until: float, reason: str) -> None:
        # A bucket created by a pause starts empty at the pause's end.
        await self._write(
            "INSERT INTO rate_bucket (id, tokens, updated_at, paused_until, paused_reason)"
            " VALUES (1, 0, ?1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET"
            " paused_reason = CASE WHEN paused_until IS NULL"
            " OR excluded.paused_until >= paused_until"
            " THEN excluded.paused_reason ELSE paused_reason END,"
            " paused_until = max(coalesce(paused_until, excluded.paused_until),"
            " excluded.paused_until)",
            (until, reason),
        )

    async def status(self, now: float) -> Status:
        # The waiting events are read from their segments, outside the read's transaction: a
        # sort that commits meanwhile (this store's writer's or another process's), and the
        # deletion of what it sorted, can leave them in neither. Read again when one did.
        for _ in range(STATUS_TRIES):
            status, sorted_through = await self._reader.call(
                partial(_status, waiting=self._waiting, now=now)
            )
            if await self._reader.call(_sorted_through) == sorted_through:
                break
        return status

    async def prune(self, now: float, limit: int = 10_000) -> int:
        return await self._writer.call(
            partial(
                _prune,
                now=now,
                finished_before=now - self._dedup_window,
                keep_outcomes=self._outcome_log_rows,
                traces_before=now - self._trace_retention,
                keep_traces=self._trace_rows,
                limit=limit,
            )
        )

    _NEW_TOKEN = "random()"

    async def fence(
        self, lanes: Sequence[str], holder: str, *, until: float, now: float
    ) -> list[str]:
        await self._writer.call(partial(_sort_lanes, sorter=self._sorter, lanes=lanes))
        return await super().fence(lanes, holder, until=until, now=now)

    async def erase(self, person: Person, *, now: float) -> int:
        if not person.lanes:
            return 0
        events, sorted_through = await self._writer.call(
            partial(_erase, sorter=self._sorter, person=person)
        )
        # What the deleted rows held is zeros in the file (secure_delete, see `_open`); the
        # log still holds the pages as they were, and the segments the events as they came.
        ids = {*person.user_ids, *person.anonymous_ids}

        def erases(event: Arrived) -> bool:
            return event[1] in ids or event[2] in ids

        for name, through in sorted_through.items():
            await asyncio.to_thread(scrub, self._sorter.directory / name, through, erases)
        if self._path != MEMORY:
            await asyncio.to_thread(_empty_log, self._path)
        return events

    async def record_deletion(self, deletion: Deletion) -> None:
        await super().record_deletion(deletion)
        if deletion.state in ("done", "failed") and self._path != MEMORY:
            # The request's subjects are overwritten; the log still holds them.
            await asyncio.to_thread(_empty_log, self._path)

    async def _in_lanes(
        self, function: Callable[[sqlite3.Connection], MaybeAwaitable[T]], *, durable: bool = True
    ) -> T:
        return await settled(await self._writer.call(function, rows_only=True, durable=durable))

    async def _read(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        sql = _placeholders(sql)
        return await self._reader.call(
            lambda connection: connection.execute(sql, parameters).fetchall()
        )

    async def _write(self, sql: str, parameters: Sequence[Any], *, durable: bool = True) -> None:
        sql = _placeholders(sql)
        await self._writer.call(
            lambda connection: connection.execute(sql, parameters),
            rows_only=True,
            durable=durable,
        )

    async def _changed(self, sql: str, parameters: Sequence[Any], *, durable: bool = True) -> bool:
        sql = _placeholders(sql)
        return await self._writer.call(
            lambda connection: connection.execute(sql, parameters).fetchone() is not None,
            rows_only=True,
            durable=durable,
        )

    async def _returning(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        sql = _placeholders(sql)
        return await self._writer.call(
            lambda connection: connection.execute(sql, parameters).fetchall(), rows_only=True
        )


async def migrate_database(path: str) -> tuple[int, int]:
    """Create or migrate the schema of the database at `path`; its versions before and after."""
    writer: Writer[NewEvent, Enqueued] = Writer(
        await _connect(path, WRITER_CACHE, legacy_inbox=True), "store-migrate"
    )
    try:
        versions = await writer.call(migrate)
    finally:
        await writer.stop()
    for file in legacy_inbox_files(path):
        file.unlink(missing_ok=True)
    return versions


async def _connect(path: str, cache: int, *, legacy_inbox: bool = False) -> Recording:
    """A connection to the store at `path` keeping up to `cache` KiB of pages, with the inbox
    of versions before 4 attached if `legacy_inbox` (an in-memory store's always, for its
    migrations)."""

    def connect() -> Recording:
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                return _open(path, cache, legacy_inbox or path == MEMORY)
            except sqlite3.Error as error:
                # Setting up a file that another process is recovering, after one crashed,
                # fails at once instead of waiting as a statement does: wait here.
                if _busy(error) and time.monotonic() < deadline:
                    time.sleep(OPEN_RETRY)
                    continue
                raise StoreError(f"cannot open the SQLite database {path!r}: {error}") from None

    return await asyncio.to_thread(connect)


def _open(path: str, cache: int, legacy_inbox: bool = False) -> Recording:
    connection = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT,
        isolation_level=None,
        check_same_thread=False,
        factory=Recording,
    )
    try:
        if path != MEMORY:
            # For a new file (an existing one keeps its pages). An inbox sort rewrites most
            # index pages at once, in fewer, larger writes with bigger pages; a delivery
            # rewrites a few rows' pages, which costs more with them: ingest gains more than
            # delivery, which Intercom's rate limit bounds, loses.
            connection.execute("PRAGMA page_size = 8192")
            connection.execute("PRAGMA journal_mode = WAL")
        # In WAL mode FULL flushes the log at every commit: a committed event survives a
        # power cut, not only a crash of the process. The writer commits delivery's progress
        # without the flush (see `thread`).
        connection.execute("PRAGMA synchronous = FULL")
        # Events arrive keyed by random messageIds and users, so each one touches a few index
        # pages anywhere in the file: keep pages in memory instead of reading them back (see
        # WRITER_CACHE), and checkpoint every ~40 MB of log rather than every 4 MB, so a page
        # many commits rewrote is copied back once.
        connection.execute(f"PRAGMA cache_size = -{cache}")
        connection.execute("PRAGMA wal_autocheckpoint = 10000")
        # What a deletion (or a delivery, which drops an event's body) removes is
        # overwritten with zeros, so that nothing of an erased person stays in free space.
        connection.execute("PRAGMA secure_delete = ON")
        if legacy_inbox:
            attach_legacy_inbox(connection, path)
    except BaseException:
        connection.close()
        raise
    return connection


def _placeholders(sql: str) -> str:
    """A statement written for PostgreSQL (`sql`, `rows`) in SQLite's placeholders."""
    return sql.replace("%s", "?")


def _no_store(path: str) -> NoStore:
    return NoStore(str(Path(path).resolve()))


def _busy(error: sqlite3.Error) -> bool:
    """Whether SQLite answered SQLITE_BUSY, or one of its extended codes."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def _lease(
    connection: sqlite3.Connection,
    sorter: Sorter,
    worker_id: str,
    max_lanes: int,
    lease_for: float,
    now: float,
    following: int,
) -> list[Lease]:
    leases = lanes.lease(connection, worker_id, max_lanes, lease_for, now, following)
    # Short of ready lanes, the inbox may hold lanes that would be ready once sorted; while
    # enough are ready, its events wait for the sort that gathers many of them.
    if len(leases) < max_lanes and sorter.needs_sort_for_lease(connection):
        sorter.sort(connection)
        leases += lanes.lease(
            connection, worker_id, max_lanes - len(leases), lease_for, now, following
        )
    return leases


def _link(
    connection: sqlite3.Connection,
    sorter: Sorter,
    anonymous_id: str,
    user_id: str,
    now: float,
    force: bool,
) -> int:
    # The visitor's events still in the inbox must move with the others.
    if sorter.holds_lane(connection, anonymous_id):
        sorter.sort(connection)
    return lanes.link(connection, anonymous_id, user_id, now, force)


def _sort_lanes(connection: sqlite3.Connection, sorter: Sorter, lanes: Sequence[str]) -> None:
    """Sort the waiting events if any of them is in one of `lanes`."""
    if any(sorter.holds_lane(connection, lane) for lane in lanes):
        sorter.sort(connection)


def _erase(
    connection: sqlite3.Connection, sorter: Sorter, person: Person
) -> tuple[int, dict[str, int]]:
    """Erase the person's rows, their waiting events sorted first; how many events went,
    and how far each segment is sorted (all of the person's events are before that)."""
    _sort_lanes(connection, sorter, person.lanes)
    keys = []
    if person.contact_ids:
        keys = connection.execute(*_sqlite(*identity_keys_of(person.contact_ids))).fetchall()
    statements = erasure(person, keys)
    events = connection.execute(*_sqlite(*statements[0])).rowcount
    for statement in statements[1:]:
        connection.execute(*_sqlite(*statement))
    return events, sort_marks(connection)


def _sqlite(sql: str, parameters: Sequence[Any]) -> tuple[str, Sequence[Any]]:
    return _placeholders(sql), parameters


def _empty_log(path: str) -> None:
    """Copy the log's pages into the database file and empty the log (SQLite's TRUNCATE
    checkpoint), waiting up to `CHECKPOINT_PATIENCE` for readers of older pages to finish."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        deadline = time.monotonic() + CHECKPOINT_PATIENCE
        while True:
            (busy, _, _) = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"the SQLite log of {path!r} could not be emptied: other connections kept "
                    "reading it; the erased rows are gone, but the log keeps their old pages "
                    "until its next checkpoint"
                )
            time.sleep(OPEN_RETRY)
    finally:
        connection.close()


def _take_tokens(
    connection: sqlite3.Connection, most: int, now: float, rate: float, burst: float
) -> bucket.Grant:
    row = connection.execute(
        "SELECT tokens, updated_at, paused_until FROM rate_bucket WHERE id = 1"
    ).fetchone()
    after, grant = bucket.take(
        None if row is None else bucket.Bucket(*row), most, now=now, rate=rate, burst=burst
    )
    connection.execute(
        "INSERT INTO rate_bucket (id, tokens, updated_at) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens,"
        " updated_at = excluded.updated_at",
        (after.tokens, after.updated_at),
    )
    return grant


def _claim_workspace(connection: sqlite3.Connection, workspace: str) -> str | None:
    row = connection.execute("SELECT app FROM workspace").fetchone()
    previous = None if row is None else str(row[0])
    if previous != workspace:
        for table in CACHES:
            connection.execute(f"DELETE FROM {table}")
        connection.execute("INSERT OR REPLACE INTO workspace (id, app) VALUES (1, ?)", (workspace,))
    return previous


def _sorted_through(connection: sqlite3.Connection) -> int:
    (through,) = connection.execute("SELECT through FROM sorted").fetchone()
    return int(through)


def _status(connection: sqlite3.Connection, waiting: Waiting, now: float) -> tuple[Status, int]:
    """The status, and how far the events were sorted in the snapshot it was read from."""
    sorted_through = _sorted_through(connection)
    lane_count, in_flight = connection.execute(
        "SELECT count(*), count(*) FILTER (WHERE lease_until > ?) FROM lanes", (now,)
    ).fetchone()
    backlog, oldest = connection.execute(
        "SELECT count(*), min(received_at) FROM events INDEXED BY events_pending"
        f" WHERE state = {PENDING}"
    ).fetchone()
    # Events not yet sorted into their lanes are pending too, and open the lanes they are
    # the first of.
    arrived, oldest_arrived = waiting.read(connection)
    lane_count += waiting.new_lanes(connection)
    backlog += arrived
    oldest = min((at for at in (oldest, oldest_arrived) if at is not None), default=None)
    # One count per state, so that each is read from that state's partial index.
    (parked,) = connection.execute(f"SELECT count(*) FROM events WHERE state = {PARKED}").fetchone()
    (dead,) = connection.execute(f"SELECT count(*) FROM events WHERE state = {DEAD}").fetchone()
    outcomes = dict(connection.execute(_OUTCOME_TOTALS).fetchall())
    status = Status(
        lanes=lane_count,
        in_flight=in_flight,
        backlog=backlog,
        oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
        parked=parked,
        dead=dead,
        outcomes=outcomes,
    )
    return status, sorted_through


_OUTCOME_TOTALS = outcome_totals(SQLiteStore.COUNTS)


def _prune(
    connection: sqlite3.Connection,
    now: float,
    finished_before: float,
    keep_outcomes: int,
    traces_before: float,
    keep_traces: int,
    limit: int,
) -> int:
    events = connection.execute(
        "DELETE FROM events WHERE id IN (SELECT id FROM events"
        f" WHERE state = {DONE} AND finished_at < ? LIMIT ?)",
        (finished_before, limit),
    ).rowcount
    outcomes = connection.execute(
        "DELETE FROM outcomes WHERE id IN (SELECT id FROM outcomes"
        " WHERE id <= (SELECT max(id) FROM outcomes) - ? ORDER BY id LIMIT ?)",
        (keep_outcomes, limit),
    ).rowcount
    pruned = connection.execute(
        _placeholders(PRUNE_TRACES), (limit, traces_before, keep_traces)
    ).fetchall()
    if pruned:
        connection.execute(_placeholders(MARK_PRUNED), (max(at for (at,) in pruned),))
    for statement, parameters in zip(FOLD_COUNTERS, fold_parameters(now), strict=True):
        connection.execute(_placeholders(statement), parameters)
    return events + outcomes + len(pruned)
