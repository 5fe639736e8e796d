"""The outcomes a transaction of the SQLite writer recorded, written together before it
commits: the outcome log's rows and the traces each in one `executemany`, each counter
(bucket, type, outcome) once whatever the number of events it counts. Per event they were a
statement each from Python, and each statement lets go of the GIL and waits to take it back
from the event loop. The rows go in as an `INSERT ... VALUES` each: one statement reading them
all from a JSON array, or an `INSERT ... SELECT` a row, cost three times the CPU per row
(SQLite keeps a statement journal for either, and parsed each row's array again for each
field).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

import msgspec

from intercom_destination.store.recording import (
    COUNT_CONFLICT,
    LOG_COLUMNS,
    TRACE_COLUMNS,
    insert_row,
    sqlite_placeholders,
)

_LOG = sqlite_placeholders(insert_row("outcomes", LOG_COLUMNS, values=True))
# WHERE true: SQLite needs one to tell the upsert's ON from a join's.
_COUNT = (
    "INSERT INTO outcome_counts (bucket, type, outcome, events, calls)"
    " SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4"
    " FROM json_each(?) WHERE true" + COUNT_CONFLICT
)
_TRACE = sqlite_placeholders(insert_row("traces", TRACE_COLUMNS, values=True))
_encoder = msgspec.json.Encoder()


class Recorded:
    """What the jobs of the current transaction recorded (`recording.record`'s parameters):
    a job's records are kept when it ends well, dropped when its work is undone."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._kept = 0

    def add(self, record: dict[str, Any]) -> None:
        self._records.append(record)

    def job_ended(self, *, kept: bool) -> None:
        if kept:
            self._kept = len(self._records)
        else:
            del self._records[self._kept :]

    def write(self, connection: sqlite3.Connection) -> None:
        """Write what was kept; the transaction commits next."""
        records = self._records[: self._kept]
        self.rolled_back()
        if not records:
            return
        connection.executemany(_LOG, records)
        counts: Counter[tuple[int, str, str]] = Counter()
        calls: Counter[tuple[int, str, str]] = Counter()
        for each in records:
            key = (each["bucket"], each["type"], each["outcome"])
            counts[key] += 1
            calls[key] += each["calls"]
        connection.execute(
            _COUNT, (_encoder.encode([[*key, counts[key], calls[key]] for key in counts]),)
        )
        connection.executemany(_TRACE, [each for each in records if each["trace"] is not None])

    def rolled_back(self) -> None:
        self._records.clear()
        self._kept = 0


class Recording(sqlite3.Connection):
    """A connection with the outcomes its open transaction recorded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorded = Recorded()


def recorded(connection: sqlite3.Connection) -> Recorded:
    """What `connection`'s open transaction recorded (a store's connections are `Recording`)."""
    assert isinstance(connection, Recording), "the store's connections record outcomes"
    return connection.recorded
