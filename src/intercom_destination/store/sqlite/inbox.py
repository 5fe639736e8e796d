"""Arrivals for the SQLite store: appended to segment files as they come, sorted into lanes in bulk.

Segment clients send random messageIds, and each user has a lane, so an event written
straight into `events` lands on a page of the messageId index and a page of the lanes' index
anywhere in the file; every commit then writes each page it touched to the log, and the
checkpoint copies it back. `enqueue` instead appends each event to this store's segment file
(`segments`) and flushes it: the event is durable for the cost of its own bytes. Now and then
(`SORT_AFTER` seconds after events began to wait, longer after a long sort, or once
`SORT_ROWS` wait) the writer copies the segments' new groups into `events` and `lanes` in one
transaction, where thousands of events share each index page they touch; it reads them as it
copies them, `SORT_CHUNK` per statement, as any number may wait.

The store's file says how far each segment is sorted (`segments`, a byte offset per segment
name), and `sorted.through` is the last id a sort gave: a sort moves both in the transaction
that copies the events, so nothing is sorted twice or skipped, whatever crashes. A later
upkeep deletes the segments that are sealed and sorted to their end (see `segments`), once
it has flushed the log: a sort in a lease or a link commits without (see `thread`).

An event's id, and so its position in its lane, is given when it is sorted, in the order its
group was appended: segments are merged by their groups' stamps. A sort takes the groups
stamped before it began, and so every group acknowledged before any event it takes arrived:
an event a client sent after another's answer comes after it in its lane, whichever
processes took them.

`Arrivals` appends, on the thread of a `thread.Writer` whose connection only reads. An
event is a duplicate if `events` holds its messageId (one indexed query per group) or this
store appended it and it waits to be sorted (a mirror in memory, which forgets what the
segments' marks say was sorted, and the oldest past `MIRROR_ROWS`). Two processes that take
the same messageId before either is sorted both append it, and the sort keeps the first (the
messageId is unique in `events`): it is delivered once, and both answers said it was
accepted, as it was. So does one process that takes a messageId again while more than
`MIRROR_ROWS` events it appended since wait.

`Sorter` runs on the writer's connection. An anonymous event's lane is resolved when it is
sorted, as the visitor may have been linked to a user since it arrived. Whatever reads lanes
accounts for the waiting groups (`Waiting`, which reads their summaries only): `lease` sorts
first when they hold a lane that has no `lanes` row yet (`needs_sort_for_lease`), `link` when
they hold the visitor's lane, and `status` counts their events and their new lanes.
"""

from __future__ import annotations

import heapq
import os
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from itertools import accumulate, islice
from pathlib import Path

import msgspec

from intercom_destination.store.base import Enqueued, NewEvent
from intercom_destination.store.console import ACCEPTED, MINUTE
from intercom_destination.store.recording import COUNT_CONFLICT
from intercom_destination.store.rows import PENDING
from intercom_destination.store.sqlite.lanes import json_text
from intercom_destination.store.sqlite.segments import (
    Arrived,
    Group,
    SegmentWriter,
    is_sealed,
    read_groups,
    segment_paths,
)

#: How long the first event to wait stays in its segment before the writer sorts it into its
#: lane, unless a lease or a link sorts it sooner: long enough for a busy ingest to gather
#: tens of thousands of events per sort, short enough that lanes stay fresh.
SORT_AFTER = 1.0
#: A sort rewrites about every index page, so it takes longer as the store grows whatever
#: the events it sorts: the next one waits this many times as long as the last took, which
#: keeps sorting to a fraction of the writer's time.
SORT_PACE = 3.0
#: A sort is due once this many events wait, whatever their age.
SORT_ROWS = 100_000
#: The messageIds the mirror of waiting events holds at most (some 10 MB): while sorts fall
#: behind a busy ingest, it forgets the oldest rather than grow with the backlog.
MIRROR_ROWS = 100_000
#: Events a sort copies per statement: a sort takes whatever waits, which may be a backlog of
#: any size (ingest with no worker, or a `send` of a big file), in one transaction, and each
#: statement holds its events' rows in memory (a few MB for this many).
SORT_CHUNK = 5_000
#: Lanes of waiting events looked up in `lanes` per statement.
LANE_BATCH = 10_000
#: How often the writer looks whether this process's appends wait, while none did: they are
#: counted on another thread.
WAITING_CHECK = 1.0

# The messageIds of ?1 (a JSON array) that `events` holds, and how far segment ?2 is sorted.
_KNOWN = (
    "SELECT (SELECT json_group_array(message_id) FROM events"
    " WHERE message_id IN (SELECT value FROM json_each(?1))),"
    " (SELECT through FROM segments WHERE name = ?2)"
)
# One JSON row per event (?2), in the order they take ids from ?1 + 1 on, its fields read
# once (MATERIALIZED: else SQLite reads each wherever it is used); its body is `length` bytes
# of ?3 from `start` on. Its lane is its user, or its visitor's if they were linked, or its
# visitor. DO NOTHING: another process appended the messageId too, and the first is kept.
_SORT = (
    "INSERT INTO events (id, message_id, lane, type, received_at, body, state, position)"
    " WITH arriving AS MATERIALIZED (SELECT key, value ->> 0 AS message_id,"
    " value ->> 1 AS user_id, value ->> 2 AS anonymous_id, value ->> 3 AS type,"
    " value ->> 4 AS received_at, value ->> 5 AS start, value ->> 6 AS length"
    " FROM json_each(?2))"
    " SELECT ?1 + 1 + key, message_id, coalesce(user_id, (SELECT links.user_id FROM links"
    " WHERE links.anonymous_id = arriving.anonymous_id), anonymous_id, ''), type, received_at,"
    f" substr(?3, start, length), {PENDING}, ?1 + 1 + key FROM arriving"
    " ORDER BY key ON CONFLICT (message_id) DO NOTHING"
)
# From the events sorted after id ?1, not the groups: a lane is opened only with pending
# events, available from its first event's arrival. A lane that exists keeps its place in the
# queue (and its lease).
_OPEN_LANES = (
    "INSERT INTO lanes (lane, available_at) SELECT lane, received_at FROM events"
    f" WHERE id > ? AND state = {PENDING} ORDER BY id ON CONFLICT (lane) DO NOTHING"
)
# Counted by the minute they were received in, for the console's overview.
_COUNT_ACCEPTED = (
    "INSERT INTO outcome_counts (bucket, type, outcome, events, calls)"
    f" SELECT CAST(received_at AS INTEGER) / {MINUTE} * {MINUTE}, type, '{ACCEPTED}', count(*), 0"
    " FROM events WHERE id > ? GROUP BY 1, 2" + COUNT_CONFLICT
)
_MARK = (
    "INSERT INTO segments (name, through) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET through = excluded.through"
)

_strings = msgspec.json.Decoder(list[str])


class Arrivals:
    """Appends events to this store's segment, and mirrors the messageIds it appended until
    they are sorted; `append` is a batch job of a `thread.Writer`."""

    def __init__(
        self, directory: Path, *, sync: bool = True, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self._segment = SegmentWriter(directory, sync=sync)
        self._clock = clock
        #: The messageIds appended and maybe not yet sorted (the latest `MIRROR_ROWS`)...
        self._message_ids: set[str] = set()
        #: ... by the segment and the offset past the group they came in, to forget them once
        #: sorted, oldest first.
        self._chunks: deque[tuple[Path, int, list[str]]] = deque()
        #: How many events this store appended: how far its sorter got tells how many wait.
        self.appended = 0

    def append(self, connection: sqlite3.Connection, events: list[NewEvent]) -> list[Enqueued]:
        """Append the events that are not duplicates as one group; one result per event.

        If it raises, none of them was acknowledged, though the group may be in the segment.
        """
        known = self._known(connection, [event.message_id for event in events])
        taken: dict[str, None] = {}
        fresh: list[NewEvent] = []
        results: list[Enqueued] = []
        for event in events:
            message_id = event.message_id
            if message_id in known or message_id in self._message_ids or message_id in taken:
                results.append(Enqueued.DUPLICATE)
            else:
                taken[message_id] = None
                fresh.append(event)
                results.append(Enqueued.ACCEPTED)
        if fresh:
            path, end = self._segment.append(fresh, self._clock())
            self._message_ids.update(taken)
            self._chunks.append((path, end, list(taken)))
            self.appended += len(fresh)
            while len(self._message_ids) > MIRROR_ROWS:
                self._message_ids.difference_update(self._chunks.popleft()[2])
        return results

    def rolled_back(self) -> None:
        """(Nothing an append writes is in a transaction.)"""

    def close(self) -> None:
        """Seal this store's segment."""
        self._segment.close()

    def _known(self, connection: sqlite3.Connection, message_ids: list[str]) -> set[str]:
        """The messageIds of `message_ids` that `events` holds; and forget the mirror's that
        were sorted, as far as the oldest segment it holds them for was."""
        segment = self._chunks[0][0] if self._chunks else None
        stored, through = connection.execute(
            _KNOWN, (json_text(message_ids), segment and segment.name)
        ).fetchone()
        if segment is not None:
            if through is None and segment != self._segment.path and not segment.exists():
                through = sys.maxsize  # sorted to its end, and deleted
            chunks = self._chunks
            while chunks and chunks[0][0] == segment and chunks[0][1] <= (through or 0):
                self._message_ids.difference_update(chunks.popleft()[2])
        return set(_strings.decode(stored)) if stored != "[]" else set()


class Waiting:
    """What waits to be sorted: how many events and the earliest arrival, from the summaries of
    the groups past each segment's mark, read again only where a segment grew or was sorted
    since; and their lanes, read from the summaries whenever they are asked for, as a backlog
    of any size may wait and a set of its lanes would grow with it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._scans: dict[str, _Scan] = {}

    def read(self, connection: sqlite3.Connection) -> tuple[int, float | None]:
        """How many events wait, and the earliest arrival among them."""
        marks = sort_marks(connection)
        scans: dict[str, _Scan] = {}
        for path in segment_paths(self._directory):
            mark = marks.get(path.name, 0)
            scan = self._scans.get(path.name)
            if scan is None or scan.mark != mark:
                scan = _Scan(mark)
            for group in read_groups(path, scan.end, events=False):
                scan.add(group)
            scans[path.name] = scan
        self._scans = scans
        oldest = [scan.oldest for scan in scans.values() if scan.oldest is not None]
        return sum(scan.count for scan in scans.values()), min(oldest, default=None)

    def lanes(self, connection: sqlite3.Connection) -> Iterator[list[str]]:
        """The waiting events' lanes, `LANE_BATCH` or so at a time (a lane may come again in
        a later batch)."""
        marks = sort_marks(connection)
        batch: dict[str, None] = {}
        for path in segment_paths(self._directory):
            for group in read_groups(path, marks.get(path.name, 0), events=False):
                batch.update(dict.fromkeys(group.summary.lanes))
                if len(batch) >= LANE_BATCH:
                    yield list(batch)
                    batch = {}
        if batch:
            yield list(batch)

    def new_lanes(self, connection: sqlite3.Connection) -> int:
        """How many lanes the waiting events would open: theirs with no `lanes` row. (Told
        apart in a temporary table, which SQLite keeps in a file past a few pages.)"""
        connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS arriving_lanes (lane TEXT PRIMARY KEY) WITHOUT ROWID"
        )
        connection.execute("DELETE FROM temp.arriving_lanes")
        for batch in self.lanes(connection):
            connection.execute(
                "INSERT OR IGNORE INTO temp.arriving_lanes SELECT value FROM json_each(?)"
                " WHERE value NOT IN (SELECT lane FROM main.lanes)",
                (json_text(batch),),
            )
        (count,) = connection.execute("SELECT count(*) FROM temp.arriving_lanes").fetchone()
        connection.execute("DELETE FROM temp.arriving_lanes")
        return int(count)


class _Scan:
    def __init__(self, mark: int) -> None:
        self.mark = self.end = mark
        self.count = 0
        self.oldest: float | None = None

    def add(self, group: Group) -> None:
        summary = group.summary
        self.end = group.end
        self.count += summary.count
        self.oldest = summary.oldest if self.oldest is None else min(self.oldest, summary.oldest)


class Sorter:
    """Sorts the waiting groups into lanes, and deletes the segments it sorted; its methods
    are jobs of the writer's connection, and its upkeep is the writer's (see
    `thread.Upkeep`)."""

    def __init__(
        self,
        directory: Path,
        arrivals: Arrivals,
        clock: Callable[[], float] = time.monotonic,
        stamp_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        #: Where the segments are.
        self.directory = directory
        #: What this process appends: how far its sorts got tells how much waits.
        self._arrivals = arrivals
        self._clock = clock
        self._stamp_clock = stamp_clock
        self._waiting = Waiting(directory)
        #: How many of this process's appends the latest sort may have missed: none.
        self._appended_before_sort = 0
        #: When this sorter first saw events wait (monotonic seconds).
        self._waiting_since: float | None = None
        #: How long the latest sort took (seconds).
        self._sort_took = 0.0
        #: Whether segments may be sorted to their end, to delete. At first: segments a
        #: process left may wait too, so the first upkeep sorts.
        self._cleanup_due = False
        self._sort_due = True

    def sort(self, connection: sqlite3.Connection) -> int:
        """Copy the groups appended before now that wait into `events`, open their lanes, and
        move the marks past them; returns how many events were copied."""
        started = self._clock()
        self._appended_before_sort = self._arrivals.appended
        self._waiting_since = None
        self._sort_due = False
        before = self._stamp_clock()
        (first,) = connection.execute("SELECT through FROM sorted").fetchone()
        through, moved = first, 0
        #: How far each segment's groups were taken.
        ends: dict[str, int] = {}

        def arriving() -> Iterator[Arrived]:
            for name, group in _merged(self.directory, sort_marks(connection), before):
                ends[name] = group.end
                yield from group.events

        events = arriving()
        while chunk := list(islice(events, SORT_CHUNK)):
            moved += connection.execute(_SORT, (through, *_rows(chunk))).rowcount
            through += len(chunk)
        if not ends:
            return 0
        connection.execute(_OPEN_LANES, (first,))
        connection.execute(_COUNT_ACCEPTED, (first,))
        connection.execute("UPDATE sorted SET through = ?", (through,))
        connection.executemany(_MARK, ends.items())
        self._cleanup_due = True
        self._sort_took = self._clock() - started
        return moved

    def holds_lane(self, connection: sqlite3.Connection, lane: str) -> bool:
        """Whether an event of `lane` waits to be sorted."""
        return any(lane in batch for batch in self._waiting.lanes(connection))

    def needs_sort_for_lease(self, connection: sqlite3.Connection) -> bool:
        """Whether the waiting events hold a lane that has no `lanes` row: sorted, it would
        be ready.

        (A lane with a row gets the waiting events behind those it has; whether it is ready
        does not depend on them.)
        """
        return any(
            connection.execute(
                "SELECT 1 FROM json_each(?) WHERE value NOT IN (SELECT lane FROM lanes) LIMIT 1",
                (json_text(batch),),
            ).fetchone()
            for batch in self._waiting.lanes(connection)
        )

    def upkeep_in(self) -> float:
        """Seconds until upkeep is due (0 or less: now), or until it is time to look again."""
        if self._cleanup_due or self._sort_due:
            return 0.0
        waiting = self._arrivals.appended - self._appended_before_sort
        if waiting <= 0:
            self._waiting_since = None
            return WAITING_CHECK
        now = self._clock()
        if self._waiting_since is None:
            self._waiting_since = now
        if waiting >= SORT_ROWS:
            return 0.0
        return self._waiting_since + max(SORT_AFTER, SORT_PACE * self._sort_took) - now

    def upkeep(self, connection: sqlite3.Connection) -> int:
        """The writer's upkeep: delete the segments sorted to their end, or sort when due.
        Returns how many segments it deleted or events it sorted."""
        if self._cleanup_due:
            self._cleanup_due = False
            return self._delete_sorted(connection)
        return self.sort(connection)

    def rolled_back(self) -> None:
        """The writer's transaction was rolled back: a sort in it did not happen."""
        self._appended_before_sort = 0
        self._sort_due = True

    def _delete_sorted(self, connection: sqlite3.Connection) -> int:
        """Delete the sealed segments with no whole group past their mark, and the marks of
        segments gone. (A segment is deleted before its mark: a crash between the two leaves
        a mark, deleted the next time, rather than a segment sorted twice.)"""
        marks = sort_marks(connection)
        sorted_out = [
            path
            for path in segment_paths(self.directory)
            if is_sealed(path) and next(read_groups(path, marks.get(path.name, 0)), None) is None
        ]
        if sorted_out:
            _flush_log(connection)
        for path in sorted_out:
            path.unlink(missing_ok=True)
        gone = [(name,) for name in marks if not (self.directory / name).exists()]
        connection.executemany("DELETE FROM segments WHERE name = ?", gone)
        return len(sorted_out)


def _flush_log(connection: sqlite3.Connection) -> None:
    """Flush the database's log to disk. A sort in a lease or a link commits without (see
    `thread`), and the events it copied must be on disk before the segments they came from
    are gone."""
    for _, name, file in connection.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            try:
                log = os.open(file + "-wal", os.O_RDONLY)
            except FileNotFoundError:
                return  # checkpointed into the file, which a checkpoint flushes
            try:
                os.fsync(log)
            finally:
                os.close(log)


def _merged(directory: Path, marks: dict[str, int], before: int) -> Iterator[tuple[str, Group]]:
    """The groups past the segments' `marks` that were stamped by `before`, in the order they
    were appended, each with its segment's name; read as they are merged, as they may be a
    backlog of any size."""

    def taken(path: Path) -> Iterator[tuple[int, str, Group]]:
        for group in read_groups(path, marks.get(path.name, 0)):
            if group.summary.stamp > before:
                return  # for the next sort, after the groups it may not have seen
            yield group.summary.stamp, path.name, group

    # A segment's groups are in the order of their stamps; merged by them, then by name.
    for _, name, group in heapq.merge(
        *(taken(path) for path in segment_paths(directory)), key=lambda item: item[:2]
    ):
        yield name, group


def sort_marks(connection: sqlite3.Connection) -> dict[str, int]:
    """How far each segment is sorted (a byte offset), by its name."""
    return dict(connection.execute("SELECT name, through FROM segments").fetchall())


def _rows(events: list[Arrived]) -> tuple[str, bytes]:
    """`_SORT`'s ?2 and ?3: the events' JSON rows, and their bodies one after the other
    (SQLite would parse a body within the JSON once per column it reads)."""
    lengths = [len(event[5]) for event in events]
    # (`accumulate` yields one start more: where the bodies end.)
    rows = [
        (message_id, user_id, anonymous_id, type, received_at, start, length)
        for (message_id, user_id, anonymous_id, type, received_at, _), start, length in zip(
            events, accumulate(lengths, initial=1), lengths, strict=False
        )
    ]
    return json_text(rows), b"".join(event[5] for event in events)
