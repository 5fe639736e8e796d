"""The SQLite store's CPU per event on its way in, stage by stage, against a plain file.

    python -m bench.inbox [--events N] [--group G] [--runs R]

`bench.ingest` is bound by the two cores once its event loop is relieved (docs/performance.md), so
what the store's threads spend per event is what the event loops cannot. This measures where
it goes, on the store's own connections and code (`Arrivals`, `Sorter`), one stage after
another on a fresh file in a temporary directory:

- append: the events to a segment in groups of G, each group checked against `events` for
  duplicates and flushed (as the appender group-commits under load);
- sort: the segment into `events` and `lanes`, in one transaction;
- cleanup: the sorted segment, sealed, deleted (the writer's upkeep);
- baseline insert: the same groups into `bench/ingest_baseline.py`'s table, by its statement;
- file append: the same groups appended to a file as length-prefixed msgpack with a flush
  (fdatasync) per group: a durable append with nothing else;

in two rounds of N events: into an empty store, then into one that holds the first round (the
duplicate check and the sort's indexes then read a populated index). Each figure is CPU µs per
event (user and system time of this process), the median of R runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec

from bench import ingest_baseline
from bench.store import batches, workload
from intercom_destination.store import NewEvent
from intercom_destination.store.sqlite.inbox import Arrivals, Sorter
from intercom_destination.store.sqlite.schema import migrate
from intercom_destination.store.sqlite.store import APPENDER_CACHE, WRITER_CACHE
from intercom_destination.store.sqlite.store import _open as open_connection  # its settings

T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events per round")
    parser.add_argument("--group", type=int, default=200, help="events per commit")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"command: python -m bench.inbox {' '.join(sys.argv[1:])}")
    events = workload(2 * args.events, hot_share=0.0, ids="random")
    body = sum(len(event.body) for event in events) / len(events)
    print(
        f"workload: 2 rounds of {args.events:,} events ({body:.0f} bytes each), "
        f"{args.group} per commit"
    )
    figures: list[dict[tuple[int, str], float]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as directory:
            figures.append(run(Path(directory), events, args.events, args.group))
    for round_ in (1, 2):
        cells = [
            f"{stage} {statistics.median(f[round_, stage] for f in figures):.1f}"
            for measured, stage in figures[0]
            if measured == round_
        ]
        print(f"round {round_}: CPU µs per event: {', '.join(cells)}")


def run(
    directory: Path, events: list[NewEvent], per_round: int, group: int
) -> dict[tuple[int, str], float]:
    """Each round's CPU µs per event, by stage."""
    path = str(directory / "bench.db")
    # (With the old inbox attached: migrating a new file passes through schema version 3.)
    writer = open_connection(path, WRITER_CACHE, legacy_inbox=True)
    appender = open_connection(path, APPENDER_CACHE)
    arrivals = Arrivals(directory / "arrivals")
    sorter = Sorter(directory / "arrivals", arrivals)
    baseline = ingest_baseline.connect(str(directory / "baseline.db"))
    log = os.open(directory / "inbox.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    encoder = msgspec.msgpack.Encoder()
    figures: dict[tuple[int, str], float] = {}

    def in_transaction(work: Callable[[], T]) -> T:
        writer.execute("BEGIN")
        result = work()
        writer.execute("COMMIT")
        return result

    def append(chunks: list[list[NewEvent]]) -> None:
        for chunk in chunks:
            arrivals.append(appender, chunk)

    def sort(chunks: list[list[NewEvent]]) -> None:
        in_transaction(lambda: sorter.sort(writer))

    def clean_up(chunks: list[list[NewEvent]]) -> None:
        arrivals.close()  # sealed: the next round appends to a new segment
        in_transaction(lambda: sorter.upkeep(writer))

    def insert_baseline(chunks: list[list[NewEvent]]) -> None:
        for chunk in chunks:
            ingest_baseline.commit(baseline, [event.body for event in chunk])

    def append_to_file(chunks: list[list[NewEvent]]) -> None:
        for chunk in chunks:
            data = encoder.encode(chunk)
            os.write(log, len(data).to_bytes(4, "little") + data)
            os.fdatasync(log)

    stages = {
        "append": append,
        "sort": sort,
        "cleanup": clean_up,
        "baseline insert": insert_baseline,
        "file append": append_to_file,
    }
    try:
        in_transaction(lambda: migrate(writer))
        for round_ in (1, 2):
            chunks = list(batches(events[(round_ - 1) * per_round : round_ * per_round], group))
            for stage, work in stages.items():
                started = time.process_time()
                work(chunks)
                figures[round_, stage] = (time.process_time() - started) / per_round * 1e6
    finally:
        os.close(log)
        baseline.close()
        appender.close()
        writer.close()
    return figures


if __name__ == "__main__":
    main()
