"""Ingest's decoding of events for storage, the general way and the plain way.

    python -m bench.decode [--events N] [--runs R]

Ingest reads each event of a batch from its JSON to the bytes it stores: the general way
builds the event's objects and checks its fields in Python (`Arrival.decode_for_storage`,
after msgspec decodes the JSON, with msgspec encoding the stored form), the plain way checks
its shape in msgspec and keeps its values as they came (`Arrival.decode_plain_for_storage`).
Prints µs per event for each over the generated workload (bench/workload.py), the median of
R runs, and their ratio.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from bench.workload import events
from intercom_destination.spec.decode import Arrival, StoredForm
from intercom_destination.store import new_event

_object = msgspec.json.Decoder(dict[str, object])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    items = encoded_events(args.events)
    arrival = Arrival(datetime.now(UTC), lambda: "generated", "2026-11-29T10:00:00Z")

    def general() -> None:
        for item in items:
            stored = arrival.decode_for_storage(_object.decode(item))
            assert isinstance(stored, StoredForm)
            new_event(stored, 0.0)

    def plain() -> None:
        for item in items:
            stored = arrival.decode_plain_for_storage(item)
            assert stored is not None
            new_event(stored, 0.0)

    print(f"command: python -m bench.decode {' '.join(sys.argv[1:])}")
    print(f"workload: {len(items):,} events")
    figures = {
        name: median_us(work, len(items), args.runs)
        for name, work in (("general", general), ("plain", plain))
    }
    for name, figure in figures.items():
        print(f"{name}: {figure:.2f} µs per event")
    print(f"plain / general: {figures['plain'] / figures['general']:.2f}")


def encoded_events(count: int) -> list[bytes]:
    """The first `count` events of the generated workload, as clients send their JSON."""
    return [
        msgspec.json.encode(event)
        for event in itertools.islice(events(users=count // 8 + 1), count)
    ]


def median_us(work: Callable[[], None], count: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) / count * 1e6


if __name__ == "__main__":
    main()
