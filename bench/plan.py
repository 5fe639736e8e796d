"""Planner throughput on a generated mixed workload.

    python -m bench.plan [--events N] [--runs R]

Prints events/s for the planner alone (events already decoded) and for decoding plus
planning (from the parsed JSON objects ingest hands over), as the median of R runs; then the
planner alone with changed mappings (`CUSTOM`: two filters, a replaced trigger, a second
subscription, two directives and a literal), which costs what the settings ask for.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime

from bench.workload import events
from intercom_destination.mapping import plan
from intercom_destination.settings import Settings, settings_from
from intercom_destination.spec import Event, InvalidEvent, decode_event

#: Mappings a workspace might change, as a settings file would give them.
CUSTOM = {
    "page_events": True,
    "actions": {
        "identify_contact": {
            "mapping": {"name": {"@template": "{{traits.name}} ({{traits.plan}})"}}
        },
        "track_event": {"trigger": 'type = "track" and event != "Logged In" or type = "page"'},
    },
    "subscriptions": [
        {
            "name": "orders",
            "action": "track_event",
            "trigger": 'type = "track" and event = "Order Completed"',
            "mapping": {"event_name": "purchase", "price": {"@path": "$.properties.total"}},
        }
    ],
    "filters": [{"if": "context.traits.internal = true", "drop": True}, {"drop_traits": ["role"]}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    objects = []
    for obj in events(users=args.events // 8):
        objects.append(obj)
        if len(objects) == args.events:
            break
    received_at = datetime(2026, 11, 28, tzinfo=UTC)
    options = Settings(page_events=True).mapping_options
    custom = settings_from(CUSTOM).mapping_options

    def decode_all() -> list[Event | InvalidEvent]:
        decoded = [
            decode_event(obj, received_at=received_at, make_message_id=lambda: "m")
            for obj in objects
        ]
        assert not any(isinstance(event, InvalidEvent) for event in decoded)
        return decoded

    decoded = decode_all()
    kinds = Counter(event.type for event in decoded)

    def plan_only() -> None:
        for event in decoded:
            plan(event, options)

    def decode_and_plan() -> None:
        for event in decode_all():
            plan(event, options)

    def plan_custom() -> None:
        for event in decoded:
            plan(event, custom)

    print(f"command: python -m bench.plan {' '.join(sys.argv[1:])}")
    print(f"workload: {len(objects)} events, {dict(kinds)}")
    for name, work in (
        ("plan", plan_only),
        ("decode+plan", decode_and_plan),
        ("plan custom", plan_custom),
    ):
        rates = []
        for _ in range(args.runs):
            started = time.perf_counter()
            work()
            rates.append(len(objects) / (time.perf_counter() - started))
        print(
            f"{name:12} median {statistics.median(rates):10,.0f} events/s "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {args.runs} runs, one core)"
        )


if __name__ == "__main__":
    main()
