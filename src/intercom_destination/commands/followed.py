"""The messageIds a backfill follows the delivery of, in 8 bytes each.

`send` follows every event of its file it stored. As strings in a set, a million messageIds
took about 100 MB; this keeps each one's 64-bit hash (`hash`, which is the same for the same
string within a process) in sorted arrays of machine integers: 8 MB. Another event's
messageId is taken for one of a million followed about once in 10**13 lookups, and then the
progress counts its outcome as one of the file's, which changes nothing that is delivered.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Container, Iterable


class MessageIds(Container[str]):
    """A set of messageIds to add to in batches and look up: each batch is kept as a sorted
    run, and the runs are merged into one the next time one is looked up."""

    def __init__(self) -> None:
        self._runs: list[array[int]] = []

    def add_all(self, message_ids: Iterable[str]) -> None:
        run = array("q", sorted({hash(message_id) for message_id in message_ids}))
        if run:
            self._runs.append(run)

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def __contains__(self, message_id: object) -> bool:
        if len(self._runs) > 1:
            # Merged as they stream: nothing in memory but the arrays themselves.
            self._runs = [array("q", heapq.merge(*self._runs))]
        if not self._runs:
            return False
        [hashes] = self._runs
        wanted = hash(message_id)
        index = bisect_left(hashes, wanted)
        return index < len(hashes) and hashes[index] == wanted
