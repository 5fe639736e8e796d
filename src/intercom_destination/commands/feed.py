"""Follows the outcome log: what became of a set of events, and how fast Intercom is called.

The log is read newest first and a little further back than the last row already seen,
because rows are stamped with their worker's clock before they are written: a row written
just after another may carry a slightly earlier time. Rows are recognised by their content,
so none is counted twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Container

from intercom_destination.store import OutcomeName, OutcomeRow, Store

#: How far behind the newest row seen the log is read again, seconds.
SLACK = 10.0
#: The window the call rate is measured over, seconds (within SLACK: older rows are let go).
RATE_WINDOW = 5.0
#: Outcomes no other follows.
_SETTLED: tuple[OutcomeName, ...] = ("delivered", "skipped")
#: Outcomes that end an event's delivery: a dead letter's too, though a replay may follow it.
FINISHED: tuple[OutcomeName, ...] = (*_SETTLED, "dead")

_Key = tuple[float, str, str, str | None, int]


class Tally(Counter[str]):
    """Events by their latest outcome (`delivered`, `skipped`, `dead`, `parked`, `retry`)."""

    @property
    def finished(self) -> int:
        return sum(self[name] for name in FINISHED)


class OutcomeFeed:
    def __init__(self, store: Store, message_ids: Container[str], *, since: float) -> None:
        self._store = store
        self._message_ids = message_ids
        self._since = since
        self._newest = since
        #: Rows seen at or after `_newest - SLACK`, with their calls.
        self._seen: dict[_Key, int] = {}
        #: The latest outcome of each followed event that may have another.
        self._latest: dict[str, str] = {}
        self.tally = Tally()
        self._lock = asyncio.Lock()

    async def poll(self) -> None:
        """Take in the rows written since the last poll."""
        async with self._lock:
            rows = await self._recent_rows()
            horizon = max(self._since, self._newest - SLACK)
            fresh = [row for row in rows if row.at >= horizon and _key(row) not in self._seen]
            # Rows come newest first; a row first seen now was written after every row
            # already seen, so applying them oldest first keeps each event's latest outcome.
            for row in reversed(fresh):
                self._seen[_key(row)] = row.calls
                if row.message_id in self._message_ids:
                    self._count(row)
            self._newest = max([self._newest, *(row.at for row in fresh)])
            horizon = self._newest - SLACK
            self._seen = {key: calls for key, calls in self._seen.items() if key[0] >= horizon}

    def calls_per_second(self, now: float) -> float:
        """Intercom calls per second over the last few seconds, as the log records them."""
        window = min(RATE_WINDOW, now - self._since)
        if window <= 0:
            return 0.0
        calls = sum(calls for key, calls in self._seen.items() if key[0] >= now - window)
        return calls / window

    def _count(self, row: OutcomeRow) -> None:
        previous = self._latest.pop(row.message_id, None)
        if previous is not None:
            self.tally[previous] -= 1
        self.tally[row.outcome] += 1
        # Only an event that is waiting (retry, parked) or dead (replayable) has an outcome to
        # come; forgetting the others keeps this map to the events still in play.
        if row.outcome not in _SETTLED:
            self._latest[row.message_id] = row.outcome

    async def _recent_rows(self) -> list[OutcomeRow]:
        """The log's rows back to the horizon at least (or all of it)."""
        horizon = max(self._since, self._newest - SLACK)
        limit = 1000
        while True:
            rows = await self._store.outcomes(limit)
            if len(rows) < limit or rows[-1].at < horizon:
                return rows
            limit *= 4


def _key(row: OutcomeRow) -> _Key:
    return (row.at, row.message_id, row.outcome, row.reason, row.calls)
