"""What `prune` does to the console's tables, in both stores (PostgreSQL's placeholders; see
`sql`): traces past their retention go, leaving the time up to which they went, and the
per-minute counters of days past are folded into hours, the hours of weeks past into totals.
"""

from __future__ import annotations

from intercom_destination.store.console import HOUR, HOURS_KEPT, MINUTES_KEPT
from intercom_destination.store.recording import COUNT_CONFLICT

#: The oldest traces (at most `limit`) older than a time or past the newest `keep`; returns
#: their times. Traces are written in time order, so the oldest are the first ids.
PRUNE_TRACES = (
    "DELETE FROM traces WHERE id IN (SELECT id FROM traces ORDER BY id LIMIT %s)"
    " AND (at < %s OR id <= (SELECT max(id) FROM traces) - %s) RETURNING at"
)
MARK_PRUNED = (
    "INSERT INTO pruned (id, traces_before) VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET"
    " traces_before = CASE WHEN excluded.traces_before > pruned.traces_before"
    " THEN excluded.traces_before ELSE pruned.traces_before END"
)

_MINUTES = f"bucket > 0 AND bucket < %s AND bucket / {HOUR} * {HOUR} <> bucket"
_HOURS = "bucket > 0 AND bucket < %s"


def _fold(rows: str, into: str) -> list[str]:
    return [
        "INSERT INTO outcome_counts (bucket, type, outcome, events, calls)"
        f" SELECT {into}, type, outcome, sum(events), sum(calls) FROM outcome_counts"
        f" WHERE {rows} GROUP BY 1, 2, 3" + COUNT_CONFLICT,
        f"DELETE FROM outcome_counts WHERE {rows}",
    ]


#: Statements that take the time before which minutes are folded into hours, then (the last
#: two) the time before which hours are folded into the totals (bucket 0).
FOLD_COUNTERS = [*_fold(_MINUTES, f"bucket / {HOUR} * {HOUR}"), *_fold(_HOURS, "0")]


def fold_parameters(now: float) -> list[tuple[int]]:
    """The parameters of each statement of `FOLD_COUNTERS`."""
    minutes, hours = int(now - MINUTES_KEPT), int(now - HOURS_KEPT)
    return [(minutes,), (minutes,), (hours,), (hours,)]
