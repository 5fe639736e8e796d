"""Arrivals in SQLite: appended to an inbox in arrival order, sorted into lanes in bulk.

Segment clients send random messageIds, and each user has a lane, so an event written
straight into `events` lands on a page of the messageId index and a page of the lanes'
index anywhere in the file; every commit then writes each page it touched to the log, and
the checkpoint copies it back. `enqueue` instead appends each event to `inbox`, a table with
no key but its rowid, whose pages fill one after the other, and commits: the event is durable
for the cost of its own bytes. Now and then (`SORT_AFTER` seconds after events began to wait,
longer after a long sort, or once `SORT_ROWS` wait) the writer copies the inbox's new events
into `events` and `lanes` in one transaction, where thousands of events share each index page
they touch.

The inbox is a file of its own next to the store's (`sqlite_schema.INBOX_SUFFIX`, attached to
every connection as `arrivals`), so that appending and sorting take different write locks: a sort
rewrites index pages for a few hundred milliseconds once the store holds a few hundred thousand
events, and enqueues go on meanwhile (bench/ingest.py: see the README). SQLite commits each
file of a transaction on its own, so a sort writes only the store's file: it copies the
inbox's events past `sorted.through` and moves that mark in one transaction, and the events up
to the mark are deleted from the inbox afterwards, a few thousand at a time, each time in a
transaction of its own (any events left there by a crash in between are past the mark no more,
and deleted the next time).

The inbox's rowid is the event's id from its arrival on (AUTOINCREMENT, so that it is never
reused), and so its position in its lane: events keep their arrival order whether they are
sorted in one batch or several.

`Arrivals` appends, on a connection of its own whose every write is one INSERT, a transaction
of its own: the sqlite3 module lets go of the GIL around every statement, and the connection
may then wait milliseconds for the event loop to give it back. The events go in as one JSON
array of their fields and one blob of their bodies end to end; SQLite resolves an anonymous
event's lane through `links`, and drops an event `events` holds (its index is read, not
written). Dedup stays exact: `Arrivals` mirrors the inbox's messageIds past the mark in memory,
and the statement also drops messageIds other processes appended since the mirror's last row.
As the statement takes ids that follow one another, their count and the last one tell the usual
case (every event appended, right after the mirror's last row) from the others, for which a
query or two read what the mirror missed. The mirror forgets the messageIds a sort took once it
reads the mark past them (they are in `events` by then, duplicates all the same).

`Sorter` runs on the writer's connection. An anonymous event's lane is resolved again when it
is sorted, as the visitor may have been linked to a user since it was appended. Whatever reads
lanes accounts for the inbox: `lease` sorts it first when the inbox holds a lane that has no
`lanes` row yet (`needs_sort_for_lease`), `link` when it holds the visitor's lane, and `status`
counts its events past the mark and their lanes. The sorter mirrors the inbox's lanes only
then, as only SQLite knew an anonymous event's lane when it was appended.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable
from itertools import accumulate

import msgspec

from intercom_destination.store.base import Enqueued, NewEvent
from intercom_destination.store.rows import PENDING
from intercom_destination.store.sqlite_lanes import json_text

#: How long the first event to wait stays in the inbox before the writer sorts it into its
#: lane, unless a lease or a link sorts it sooner: long enough for a busy ingest to gather
#: tens of thousands of events per sort, short enough that lanes stay fresh.
SORT_AFTER = 1.0
#: A sort rewrites about every index page, so it takes longer as the store grows whatever
#: the events it sorts: the next one waits this many times as long as the last took, which
#: keeps sorting to a fraction of the writer's time.
SORT_PACE = 3.0
#: The inbox is sorted once this many events wait in it, whatever their age: it bounds the
#: memory the mirror of its messageIds takes and how long one sort takes.
SORT_ROWS = 100_000
#: How often the writer looks whether this process's appends wait, while none did: they are
#: counted on another thread.
WAITING_CHECK = 1.0
#: The rows a sort took leave the inbox this many at a time, each time in a transaction of its
#: own: a delete holds the inbox's write lock, which enqueues wait for, sleeping in SQLite's
#: busy handler, and one delete of a whole sort's rows held them up 100-240 ms. (bench.ingest,
#: 7 alternated pairs: a median of 47.7k events/s against 46.7k in one delete, and a narrower
#: spread, 44.7-48.6k against 43.7-50.2k.)
DELETE_ROWS = 2000

# One JSON row per event (?2), in arrival order, its fields read once (MATERIALIZED: else
# SQLite reads each wherever it is used; and the statement begins with INSERT, for the sqlite3
# module to count its rows); its body is `length` bytes of ?3 from `start` on.
# Its lane is its user, or its visitor's if they were linked, or its visitor; an event without
# a user keeps its visitor, for the sort to resolve again. An event `events` holds is a
# duplicate, and so is one appended after the row ?1 (by another process: this one's mirror
# holds the rest), found by id first. (IS NOT TRUE: a row without a messageId fails its NOT
# NULL constraint rather than pass for a duplicate.)
_APPEND = (
    "INSERT INTO arrivals.inbox (message_id, lane, visitor, type, received_at, body)"
    " WITH arriving AS MATERIALIZED (SELECT key, value ->> 0 AS message_id,"
    " value ->> 1 AS user_id, value ->> 2 AS anonymous_id, value ->> 3 AS type,"
    " value ->> 4 AS received_at, value ->> 5 AS start, value ->> 6 AS length"
    " FROM json_each(?2))"
    " SELECT message_id, coalesce(user_id, (SELECT links.user_id FROM links"
    " WHERE links.anonymous_id = arriving.anonymous_id), anonymous_id, ''),"
    " iif(user_id IS NULL, anonymous_id, NULL), type, received_at, substr(?3, start, length)"
    " FROM arriving WHERE (message_id IN (SELECT message_id FROM events)) IS NOT TRUE"
    " AND NOT EXISTS (SELECT 1 FROM arrivals.inbox AS appended"
    " WHERE appended.id > ?1 AND appended.message_id = arriving.message_id)"
    " ORDER BY key"
)
# The next (at most) ?1 rows up to the mark.
_DELETE_SORTED = (
    "DELETE FROM arrivals.inbox WHERE id <= min((SELECT through FROM sorted),"
    " (SELECT min(id) FROM arrivals.inbox) + ?1 - 1)"
)
# The mark, the inbox's last id, and the messageIds of its rows after ?1 and the mark but for
# the rows ?2 to ?3 (this connection's).
_CATCH_UP = (
    "SELECT (SELECT through FROM sorted), (SELECT max(id) FROM arrivals.inbox),"
    " (SELECT json_group_array(message_id) FROM arrivals.inbox"
    "  WHERE id > max(?1, (SELECT through FROM sorted)) AND id NOT BETWEEN ?2 AND ?3)"
)
# The messageIds of the rows ?1 to ?2, in the inbox or (sorted since) in `events`.
_APPENDED = (
    "SELECT json_group_array(message_id) FROM (SELECT message_id FROM arrivals.inbox"
    " WHERE id BETWEEN ?1 AND ?2 UNION ALL SELECT message_id FROM events"
    " WHERE id BETWEEN ?1 AND ?2)"
)
# The mark, the inbox's last id, and the lanes of its rows after ?1 and the mark.
_LANES_AFTER = (
    "SELECT (SELECT through FROM sorted), (SELECT max(id) FROM arrivals.inbox),"
    " (SELECT json_group_array(lane) FROM arrivals.inbox"
    "  WHERE id > max(?1, (SELECT through FROM sorted)))"
)

_strings = msgspec.json.Decoder(list[str])


class Arrivals:
    """Appends events to the inbox, mirroring its messageIds for one connection; `append`
    is a batch job of a `sqlite_thread.Writer`."""

    def __init__(self) -> None:
        #: The messageIds of the inbox's rows past the mark up to `seen`, and maybe of rows
        #: a sort took since (they are in `events`, so duplicates all the same)...
        self._message_ids: set[str] = set()
        #: ... by the last id of the rows they came with, to forget them once sorted.
        self._chunks: deque[tuple[int, set[str]]] = deque()
        #: The inbox's last row this mirror knows.
        self.seen = 0
        #: Whether the inbox may have been sorted, or written by a transaction rolled back,
        #: since `_message_ids` was last compared with it.
        self._unsure = True

    def append(self, connection: sqlite3.Connection, events: list[NewEvent]) -> list[Enqueued]:
        """Append the events that are not duplicates to the inbox; one result per event.

        Its one write is one statement, a transaction of its own when none is open. If it
        raises, nothing was written (or the read after it failed: a retry then finds the
        events it wrote, as duplicates).
        """
        if self._unsure:
            self._catch_up(connection)
        message_ids = [event.message_id for event in events]
        unique = set(message_ids)
        if len(unique) == len(events) and self._message_ids.isdisjoint(unique):
            stored = self._store(connection, events, unique)
        else:
            fresh = self._fresh(events)
            stored = self._store(connection, fresh, {event.message_id for event in fresh})
        if len(stored) == len(events):
            return [Enqueued.ACCEPTED] * len(events)
        results: list[Enqueued] = []
        for message_id in message_ids:
            if message_id in stored:
                stored.discard(message_id)  # the next event with this messageId is a duplicate
                results.append(Enqueued.ACCEPTED)
            else:
                results.append(Enqueued.DUPLICATE)
        return results

    def sorted_meanwhile(self) -> None:
        """A sort moved the mark: forget what it took before the next append (any thread)."""
        self._unsure = True

    def rolled_back(self) -> None:
        """A transaction the appends shared was rolled back: what they wrote is gone."""
        self._message_ids.clear()
        self._chunks.clear()
        self.seen = 0
        self._unsure = True

    def _fresh(self, events: list[NewEvent]) -> list[NewEvent]:
        """The events whose messageId neither the mirror nor an event before them has."""
        known = self._message_ids
        taken: set[str] = set()
        fresh: list[NewEvent] = []
        for event in events:
            if event.message_id not in known and event.message_id not in taken:
                taken.add(event.message_id)
                fresh.append(event)
        return fresh

    def _store(
        self, connection: sqlite3.Connection, events: list[NewEvent], message_ids: set[str]
    ) -> set[str]:
        """Append `events`, whose messageIds are `message_ids` (one each), but for
        duplicates; the messageIds appended."""
        if not events:
            return set()
        cursor = connection.execute(_APPEND, (self.seen, *_rows(events)))
        appended, last = cursor.rowcount, cursor.lastrowid
        if not appended:
            return set()  # (and `last` is not this statement's: the next append catches up)
        assert last is not None
        # The ids of the rows a statement appends follow one another.
        first = last - appended + 1
        if first != self.seen + 1:
            self._catch_up(connection, first, last)  # other processes appended before
        if appended < len(events):
            (appended_ids,) = connection.execute(_APPENDED, (first, last)).fetchone()
            message_ids = set(_strings.decode(appended_ids))
        self._remember(last, message_ids)
        return message_ids

    def _catch_up(self, connection: sqlite3.Connection, first: int = 1, last: int = 0) -> None:
        """Forget what was sorted, and mirror the rows appended since `seen` but for those
        from `first` to `last` (this connection's)."""
        self._unsure = False
        through, high, others = connection.execute(_CATCH_UP, (self.seen, first, last)).fetchone()
        while self._chunks and self._chunks[0][0] <= through:
            self._message_ids -= self._chunks.popleft()[1]
        self._remember(max(high or 0, through), set(_strings.decode(others)))

    def _remember(self, last: int, message_ids: set[str]) -> None:
        if message_ids:
            self._message_ids |= message_ids
            self._chunks.append((last, message_ids))
        self.seen = max(self.seen, last)


class Sorter:
    """Sorts the inbox into lanes, and knows which lanes it holds; its methods are jobs of the
    writer's connection, and its upkeep is the writer's (see `sqlite_thread.Upkeep`)."""

    def __init__(self, arrivals: Arrivals, clock: Callable[[], float] = time.monotonic) -> None:
        #: What this process appends: how far it got tells how much waits.
        self._arrivals = arrivals
        self._clock = clock
        #: The mark as this sorter last read or moved it: the inbox's rows up to it are sorted.
        self._through = 0
        #: When this sorter first saw events past the mark wait (monotonic seconds).
        self._waiting_since: float | None = None
        #: How long the latest sort took (seconds).
        self._sort_took = 0.0
        #: Whether the inbox may hold rows a sort took: deleted by the next upkeeps, a few
        #: thousand each. (A crash may leave some, which the mark keeps out of everything
        #: until then.)
        self._sorted_rows_left = False
        #: The lanes of the inbox's rows past `_through` up to `_lanes_seen`.
        self._lanes: Counter[str] = Counter()
        self._lanes_seen = 0

    def sort(self, connection: sqlite3.Connection) -> int:
        """Copy the inbox's events past the mark into `events`, open their lanes, and move
        the mark past them; returns how many were copied."""
        started = self._clock()
        (through,) = connection.execute("SELECT through FROM sorted").fetchone()
        # The inbox's rows are read as of this statement until the transaction ends: events
        # appended meanwhile wait for the next sort.
        (last,) = connection.execute("SELECT max(id) FROM arrivals.inbox").fetchone()
        self._waiting_since = None
        if last is None or last <= through:
            self._through = through
            return 0
        # Arrival order, so that each lane's events take ascending positions. Dedup was done
        # at enqueue; DO NOTHING is only the last guard that an id is never stored twice.
        moved = connection.execute(
            "INSERT INTO events (id, message_id, lane, type, received_at, body, state, position)"
            " SELECT id, message_id,"
            " coalesce((SELECT user_id FROM links WHERE anonymous_id = visitor), lane),"
            f" type, received_at, body, {PENDING}, id FROM arrivals.inbox"
            " WHERE id > ? ORDER BY id ON CONFLICT (message_id) DO NOTHING",
            (through,),
        ).rowcount
        # From the events moved, not the inbox: a lane is opened only with pending events,
        # available from its first event's arrival. A lane that exists keeps its place in the
        # queue (and its lease).
        connection.execute(
            "INSERT INTO lanes (lane, available_at) SELECT lane, received_at FROM events"
            f" WHERE id > ? AND state = {PENDING} ORDER BY id ON CONFLICT (lane) DO NOTHING",
            (through,),
        )
        connection.execute("UPDATE sorted SET through = ?", (last,))
        self._through = self._lanes_seen = last
        self._sorted_rows_left = True
        self._lanes.clear()
        self._sort_took = self._clock() - started
        return moved

    def holds_lane(self, connection: sqlite3.Connection, lane: str) -> bool:
        """Whether an event of `lane` waits in the inbox."""
        return lane in self._catch_up_lanes(connection)

    def needs_sort_for_lease(self, connection: sqlite3.Connection) -> bool:
        """Whether the inbox holds a lane that has no `lanes` row: sorted, it would be ready.

        (A lane with a row gets the inbox's events behind those it has; whether it is ready
        does not depend on them.)
        """
        lanes = self._catch_up_lanes(connection)
        if not lanes:
            return False
        row = connection.execute(
            "SELECT 1 FROM json_each(?) WHERE value NOT IN (SELECT lane FROM lanes) LIMIT 1",
            (json_text(list(lanes)),),
        ).fetchone()
        return row is not None

    def upkeep_in(self) -> float:
        """Seconds until upkeep is due (0 or less: now), or until it is time to look again."""
        if self._sorted_rows_left:
            return 0.0
        waiting = self._arrivals.seen - self._through
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
        """The writer's upkeep, one transaction at a time: delete the next `DELETE_ROWS` rows
        a committed sort took from the inbox, until none is left, or sort when due. Returns
        how many rows it deleted or sorted."""
        if self._sorted_rows_left:
            deleted = connection.execute(_DELETE_SORTED, (DELETE_ROWS,)).rowcount
            # (Ids may skip numbers: until a delete finds none, some may be left.)
            self._sorted_rows_left = deleted > 0
            if not deleted:
                # Once per sort, not per chunk: each time, the next append reads the inbox
                # again, on the thread that requests wait for.
                self._arrivals.sorted_meanwhile()
            return deleted
        return self.sort(connection)

    def rolled_back(self) -> None:
        """The writer's transaction was rolled back: what was read in it may not exist."""
        self._through = self._lanes_seen = 0
        self._sorted_rows_left = True
        self._lanes.clear()

    def _catch_up_lanes(self, connection: sqlite3.Connection) -> Counter[str]:
        through, last, lanes = connection.execute(_LANES_AFTER, (self._lanes_seen,)).fetchone()
        if through != self._through:
            # A sort (another process's) took rows this mirror holds: read them all again.
            self._lanes.clear()
            self._through = self._lanes_seen = through
            return self._catch_up_lanes(connection)
        if last is not None and last > self._lanes_seen:
            self._lanes.update(_strings.decode(lanes))
            self._lanes_seen = last
        return self._lanes


def _rows(events: list[NewEvent]) -> tuple[str, bytes]:
    """`_APPEND`'s ?2 and ?3: the events' JSON rows, and their bodies one after the other
    (SQLite would parse a body within the JSON once per column it reads)."""
    bodies = [event.body for event in events]
    lengths = list(map(len, bodies))
    # (`accumulate` yields one start more: where the bodies end.)
    rows = [
        (
            event.message_id,
            event.user_id or None,
            event.anonymous_id or None,
            event.type,
            event.received_at,
            start,
            length,
        )
        for event, start, length in zip(
            events, accumulate(lengths, initial=1), lengths, strict=False
        )
    ]
    return json_text(rows), b"".join(bodies)
