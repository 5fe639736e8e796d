"""Arrivals in SQLite: appended to an inbox in arrival order, sorted into lanes in bulk.

Segment clients send random messageIds, and each user has a lane, so an event written
straight into `events` lands on a page of the messageId index and a page of the lanes'
index anywhere in the file; every commit then writes each page it touched to the log, and
the checkpoint copies it back. `enqueue` instead appends each event to `inbox`, a table with
no key but its rowid, whose pages fill one after the other, and commits: the event is durable
for the cost of its own bytes. Now and then (`SORT_AFTER` seconds after the first arrival,
longer after a long sort, or once `SORT_ROWS` wait) the writer moves the whole inbox into
`events` and `lanes` in one transaction, where thousands of events share each index page
they touch. The price is that a sort holds the writer while it rewrites those pages, and
enqueues arriving meanwhile wait for it: a few hundred milliseconds once the store holds a
few hundred thousand events.

The inbox's rowid is the event's id from its arrival on (AUTOINCREMENT, so that it is never
reused), and so its position in its lane: events keep their arrival order whether they are
sorted in one batch or several. Dedup stays exact at `enqueue`: a messageId is a duplicate if
`events` holds it (its index is read, not written) or the inbox does, which `Inbox` mirrors
in memory: the rows it appends, and those other processes appended, read inside the writer's
transaction. A transaction rolled back makes it read the whole inbox again.

Whatever reads lanes accounts for the inbox: `lease` sorts it first when the inbox holds a
lane that has no `lanes` row yet (`needs_sort_for_lease`), `link` when it holds the visitor's
lane, and `status` counts its events and their lanes.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable

from intercom_destination.store.base import Enqueued, NewEvent
from intercom_destination.store.rows import PENDING
from intercom_destination.store.sqlite_lanes import json_text

#: How long the first event to arrive waits in the inbox before the writer sorts it into its
#: lane, unless a lease or a link sorts it sooner: long enough for a busy ingest to gather
#: tens of thousands of events per sort, short enough that lanes stay fresh.
SORT_AFTER = 1.0
#: A sort rewrites about every index page, so it takes longer as the store grows whatever
#: the events it sorts: the next one waits this many times as long as the last took, which
#: keeps sorting to a fraction of the writer's time.
SORT_PACE = 3.0
#: The inbox is sorted once this many events wait in it, whatever their age: it bounds the
#: memory the inbox's mirror takes and how long one sort holds the writer.
SORT_ROWS = 100_000


class Inbox:
    """The inbox's messageIds and lanes, mirrored for one writer connection; its methods are
    jobs run in that connection's write transactions."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: (id, message_id, lane) of each inbox row, in id order, as last read.
        self._rows: deque[tuple[int, str, str]] = deque()
        self._message_ids: set[str] = set()
        self._lanes: Counter[str] = Counter()
        #: The highest id mirrored.
        self._seen = 0
        #: Whether the rows read may have been rolled back, so they must all be read again.
        self._stale = True
        #: When this connection first knew the inbox was not empty (monotonic seconds).
        self._since: float | None = None
        #: How long the latest sort took (seconds).
        self._sort_took = 0.0

    def append(self, connection: sqlite3.Connection, events: list[NewEvent]) -> list[Enqueued]:
        """Append the events that are not duplicates to the inbox; one result per event."""
        self._catch_up(connection)
        stored = {
            message_id
            for (message_id,) in connection.execute(
                "SELECT message_id FROM events"
                " WHERE message_id IN (SELECT value FROM json_each(?))",
                (json_text([event.message_id for event in events]),),
            )
        }
        anonymous = [event.anonymous_id for event in events if not event.user_id]
        links: dict[str, str] = {}
        if anonymous:
            links = dict(
                connection.execute(
                    "SELECT anonymous_id, user_id FROM links"
                    " WHERE anonymous_id IN (SELECT value FROM json_each(?))",
                    (json_text(anonymous),),
                ).fetchall()
            )
        results: list[Enqueued] = []
        rows: list[tuple[str, str, str, float, bytes]] = []
        taken: set[str] = set()
        for event in events:
            message_id = event.message_id
            if message_id in stored or message_id in self._message_ids or message_id in taken:
                results.append(Enqueued.DUPLICATE)
                continue
            taken.add(message_id)
            lane = event.user_id or links.get(event.anonymous_id or "") or event.lane
            rows.append((message_id, lane, event.type, event.received_at, event.body))
            results.append(Enqueued.ACCEPTED)
        if rows:
            connection.executemany(
                "INSERT INTO inbox (message_id, lane, type, received_at, body)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            # Holding the write lock, the statement took ids that follow one another.
            (last,) = connection.execute("SELECT last_insert_rowid()").fetchone()
            first = last - len(rows) + 1
            self._add((first + offset, row[0], row[1]) for offset, row in enumerate(rows))
        return results

    def sort(self, connection: sqlite3.Connection) -> int:
        """Move every inbox event into `events` and open its lane; returns how many moved."""
        first, count = connection.execute("SELECT min(id), count(*) FROM inbox").fetchone()
        self._since = None
        if first is None:
            return 0
        started = self._clock()
        # Arrival order, so that each lane's events take ascending positions. Dedup was done
        # at enqueue; DO NOTHING is only the last guard that an id is never stored twice.
        connection.execute(
            "INSERT INTO events (id, message_id, lane, type, received_at, body, state, position)"
            f" SELECT id, message_id, lane, type, received_at, body, {PENDING}, id FROM inbox"
            " WHERE true ORDER BY id ON CONFLICT (message_id) DO NOTHING"
        )
        # From the events moved, not the inbox: a lane is opened only with pending events,
        # available from its first event's arrival. A lane that exists keeps its place in the
        # queue (and its lease).
        connection.execute(
            "INSERT INTO lanes (lane, available_at) SELECT lane, received_at FROM events"
            f" WHERE id >= ? AND state = {PENDING} ORDER BY id ON CONFLICT (lane) DO NOTHING",
            (first,),
        )
        # The writer holds the database's write lock: nothing was appended meanwhile.
        connection.execute("DELETE FROM inbox")
        self._sort_took = self._clock() - started
        return int(count)

    def holds_lane(self, connection: sqlite3.Connection, lane: str) -> bool:
        """Whether an event of `lane` waits in the inbox."""
        self._catch_up(connection)
        return lane in self._lanes

    def needs_sort_for_lease(self, connection: sqlite3.Connection) -> bool:
        """Whether the inbox holds a lane that has no `lanes` row: sorted, it would be ready.

        (A lane with a row gets the inbox's events behind those it has; whether it is ready
        does not depend on them.)
        """
        self._catch_up(connection)
        if not self._lanes:
            return False
        row = connection.execute(
            "SELECT 1 FROM json_each(?) WHERE value NOT IN (SELECT lane FROM lanes) LIMIT 1",
            (json_text(list(self._lanes)),),
        ).fetchone()
        return row is not None

    def upkeep_in(self) -> float | None:
        """Seconds until the inbox should be sorted (0 or less: now); None if it is empty."""
        if self._since is None:
            return None
        if len(self._rows) >= SORT_ROWS:
            return 0.0
        return self._since + max(SORT_AFTER, SORT_PACE * self._sort_took) - self._clock()

    def upkeep(self, connection: sqlite3.Connection) -> int:
        """The writer's upkeep between transactions: the sort, when `upkeep_in` says."""
        return self.sort(connection)

    def rolled_back(self) -> None:
        """The writer's transaction was rolled back: what was read in it may not exist."""
        self._stale = True

    def _catch_up(self, connection: sqlite3.Connection) -> None:
        if self._stale:
            self._forget()
            self._seen = 0
            self._stale = False
        # Sorts (this connection's or another process's) take the inbox's oldest rows.
        (first,) = connection.execute("SELECT min(id) FROM inbox").fetchone()
        if first is None or first > self._seen:
            self._forget()
        rows, message_ids, lanes = self._rows, self._message_ids, self._lanes
        while rows and rows[0][0] < first:
            _, message_id, lane = rows.popleft()
            message_ids.discard(message_id)
            lanes[lane] -= 1
            if not lanes[lane]:
                del lanes[lane]
        if not rows:
            self._since = None
        # Rows other processes appended.
        self._add(
            connection.execute(
                "SELECT id, message_id, lane FROM inbox WHERE id > ? ORDER BY id", (self._seen,)
            )
        )

    def _forget(self) -> None:
        self._rows.clear()
        self._message_ids.clear()
        self._lanes.clear()

    def _add(self, rows: Iterable[tuple[int, str, str]]) -> None:
        for row in rows:
            self._rows.append(row)
            self._message_ids.add(row[1])
            self._lanes[row[2]] += 1
            self._seen = row[0]
        if self._rows and self._since is None:
            self._since = self._clock()
