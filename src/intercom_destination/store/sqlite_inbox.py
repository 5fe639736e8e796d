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
sorted in one batch or several.

The writer's enqueues are one INSERT, a transaction of its own when no other job shares it
(see `sqlite_thread`): the sqlite3 module lets go of the GIL around every statement, and the
writer may then wait milliseconds for the event loop to give it back, so each statement costs
far more than its work. The events go in as one JSON array of their fields and one blob of
their bodies end to end; SQLite resolves an anonymous event's lane through `links`, and drops
an event `events` holds (its index is read, not written). Dedup stays exact: `Inbox` mirrors
the inbox's messageIds in memory, and the statement also drops messageIds other processes
appended since the mirror's last row. As the statement takes ids that follow one another,
their count and the last one tell the usual case (every event appended, right after the
mirror's last row) from the others, for which a query or two read what the mirror missed. A sort
(of any process) empties the whole inbox: the mirror, which may meanwhile hold messageIds that
are in `events` (duplicates all the same; this process's own sort, seconds later, comes long
before `prune` could forget them), is emptied the next time it finds the inbox sorted. A
transaction rolled back makes it read the whole inbox again.

Whatever reads lanes accounts for the inbox: `lease` sorts it first when the inbox holds a
lane that has no `lanes` row yet (`needs_sort_for_lease`), `link` when it holds the visitor's
lane, and `status` counts its events and their lanes. The mirror reads the inbox's lanes only
then, as only SQLite knew an anonymous event's lane when it was appended.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from itertools import accumulate

import msgspec

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

# One JSON row per event (?2), in arrival order; its body is `length` bytes of ?3 from
# `start` on. Its lane is its user, or its visitor's if they were linked, or its visitor. An
# event `events` holds is a duplicate, and so is one appended after the row ?1 (by another
# process: this one's mirror holds the rest). (IS NOT TRUE: a row without a messageId fails
# its NOT NULL constraint rather than pass for a duplicate.)
_APPEND = (
    "INSERT INTO inbox (message_id, lane, type, received_at, body)"
    " SELECT value ->> 0, coalesce(value ->> 1,"
    " (SELECT user_id FROM links WHERE anonymous_id = value ->> 2), value ->> 2, ''),"
    " value ->> 3, value ->> 4, substr(?3, value ->> 5, value ->> 6) FROM json_each(?2)"
    " WHERE (value ->> 0 IN (SELECT message_id FROM events)) IS NOT TRUE"
    " AND (value ->> 0 IN (SELECT message_id FROM inbox WHERE id > ?1)) IS NOT TRUE"
    " ORDER BY key"
)
# Where the inbox starts and ends, and the messageIds of its rows after ?1 but for the rows
# ?2 to ?3 (this connection's).
_CATCH_UP = (
    "SELECT (SELECT min(id) FROM inbox), (SELECT max(id) FROM inbox),"
    " (SELECT json_group_array(message_id) FROM inbox"
    "  WHERE id > ?1 AND id NOT BETWEEN ?2 AND ?3)"
)
# The messageIds of the rows ?1 to ?2, in the inbox or (sorted since) in `events`.
_APPENDED = (
    "SELECT json_group_array(message_id) FROM (SELECT message_id FROM inbox"
    " WHERE id BETWEEN ?1 AND ?2 UNION ALL SELECT message_id FROM events"
    " WHERE id BETWEEN ?1 AND ?2)"
)
# Where the inbox starts and ends, and the lanes of its rows after ?1.
_LANES_AFTER = (
    "SELECT (SELECT min(id) FROM inbox), (SELECT max(id) FROM inbox),"
    " (SELECT json_group_array(lane) FROM inbox WHERE id > ?1)"
)

_strings = msgspec.json.Decoder(list[str])


class Inbox:
    """The inbox's messageIds and lanes, mirrored for one writer connection; its methods are
    jobs run on that connection (`append` outside a transaction too)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: The messageIds of the inbox's rows up to `_seen`, and maybe of rows a sort took
        #: since (they are in `events`, so duplicates all the same).
        self._message_ids: set[str] = set()
        self._seen = 0
        #: Whether the inbox may have been sorted since `_message_ids` was last compared
        #: with it.
        self._unsure = True
        #: The lanes of the inbox's rows up to `_lanes_seen`, read only when asked about
        #: lanes, so that `append` need not know whom links resolve anonymous events to.
        self._lanes: Counter[str] = Counter()
        self._lanes_seen = 0
        #: When this connection first knew the inbox was not empty (monotonic seconds).
        self._since: float | None = None
        #: How long the latest sort took (seconds).
        self._sort_took = 0.0

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

    def sort(self, connection: sqlite3.Connection) -> int:
        """Move every inbox event into `events` and open its lane; returns how many moved."""
        self._since = None
        (first,) = connection.execute("SELECT min(id) FROM inbox").fetchone()
        if first is None:
            return 0
        started = self._clock()
        # Arrival order, so that each lane's events take ascending positions. Dedup was done
        # at enqueue; DO NOTHING is only the last guard that an id is never stored twice.
        moved = connection.execute(
            "INSERT INTO events (id, message_id, lane, type, received_at, body, state, position)"
            f" SELECT id, message_id, lane, type, received_at, body, {PENDING}, id FROM inbox"
            " WHERE true ORDER BY id ON CONFLICT (message_id) DO NOTHING"
        ).rowcount
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
        # The mirror is emptied once the inbox is seen empty: this transaction, or the job
        # that sorted, may yet be rolled back.
        self._unsure = True
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

    def upkeep_in(self) -> float | None:
        """Seconds until the inbox should be sorted (0 or less: now); None if it is empty."""
        if self._since is None:
            return None
        if len(self._message_ids) >= SORT_ROWS:
            return 0.0
        return self._since + max(SORT_AFTER, SORT_PACE * self._sort_took) - self._clock()

    def upkeep(self, connection: sqlite3.Connection) -> int:
        """The writer's upkeep between transactions: the sort, when `upkeep_in` says."""
        return self.sort(connection)

    def rolled_back(self) -> None:
        """The writer's transaction was rolled back: what was read in it may not exist."""
        self._message_ids.clear()
        self._seen = 0
        self._unsure = True
        self._lanes.clear()
        self._lanes_seen = 0

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
        cursor = connection.execute(_APPEND, (self._seen, *_rows(events)))
        appended, last = cursor.rowcount, cursor.lastrowid
        if not appended:
            return set()  # (and `last` is not this statement's: the next append catches up)
        assert last is not None
        # The ids of the rows a statement appends follow one another.
        first = last - appended + 1
        if first != self._seen + 1:
            self._catch_up(connection, first, last)  # other processes appended before
        if appended < len(events):
            (appended_ids,) = connection.execute(_APPENDED, (first, last)).fetchone()
            message_ids = set(_strings.decode(appended_ids))
        self._message_ids.update(message_ids)
        self._seen = max(self._seen, last)
        self._note_rows()
        return message_ids

    def _catch_up(self, connection: sqlite3.Connection, first: int = 1, last: int = 0) -> None:
        """Mirror the rows appended since `_seen` but for those from `first` to `last`
        (this connection's), having emptied the mirror if the inbox was sorted since."""
        low, high, others = connection.execute(_CATCH_UP, (self._seen, first, last)).fetchone()
        # A sort, this connection's or another's, takes every row of the inbox.
        if low is None or low > self._seen:
            self._message_ids.clear()
            self._since = None
        self._message_ids.update(_strings.decode(others))
        self._seen = max(self._seen, high or 0)
        self._unsure = False
        self._note_rows()

    def _catch_up_lanes(self, connection: sqlite3.Connection) -> Counter[str]:
        first, last, lanes = connection.execute(_LANES_AFTER, (self._lanes_seen,)).fetchone()
        if first is None or first > self._lanes_seen:
            self._lanes.clear()
        if last is not None and last > self._lanes_seen:
            self._lanes.update(_strings.decode(lanes))
            self._lanes_seen = last
        return self._lanes

    def _note_rows(self) -> None:
        if not self._message_ids:
            self._since = None
        elif self._since is None:
            self._since = self._clock()


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
