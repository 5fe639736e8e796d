"""What the suppression check adds to ingest, per event.

    python -m bench.suppression [--events N] [--suppressed S] [--runs R]

Ingest asks its in-memory copy of the suppression list (`store.suppression.Suppressed`)
about every event it takes. Prints µs per event for that check with no one suppressed (the
usual case: nothing is hashed) and with S suppressed ids (each event's ids are hashed with the
store's salt and looked up), beside ingest's plain decoding of the same events measured in
the same run, and the check's cost as a share of it; the median of R runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from bench.decode import encoded_events, median_us
from intercom_destination.spec.decode import Arrival
from intercom_destination.store import NewEvent, new_event
from intercom_destination.store.suppression import NOBODY, Suppressed, id_hash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--suppressed", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    items = encoded_events(args.events)
    arrival = Arrival(datetime.now(UTC), lambda: "generated", "2026-11-29T10:00:00Z")
    stored: list[NewEvent] = []
    for item in items:
        plain = arrival.decode_plain_for_storage(item)
        assert plain is not None
        stored.append(new_event(plain, 0.0))
    salt = os.urandom(32)
    many = Suppressed(
        salt, frozenset(id_hash(salt, "userId", f"gone-{n}") for n in range(args.suppressed))
    )

    def decode() -> None:
        for item in items:
            arrival.decode_plain_for_storage(item)

    def check(suppressed: Suppressed) -> None:
        for event in stored:
            if suppressed.refuses(event.user_id, event.anonymous_id):
                raise AssertionError("no event of the workload is suppressed")

    print(f"command: python -m bench.suppression {' '.join(sys.argv[1:])}")
    print(f"workload: {len(items):,} events, {args.suppressed:,} suppressed ids")
    decoding = median_us(decode, len(items), args.runs)
    nobody = median_us(lambda: check(NOBODY), len(items), args.runs)
    some = median_us(lambda: check(many), len(items), args.runs)
    print(f"plain decoding (baseline): {decoding:.2f} µs per event")
    print(f"check, no one suppressed: {nobody:.3f} µs per event ({nobody / decoding:.1%})")
    print(f"check, {args.suppressed:,} suppressed: {some:.2f} µs per event ({some / decoding:.1%})")


if __name__ == "__main__":
    main()
