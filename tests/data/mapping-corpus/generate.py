"""Write the mapping corpus: generated events and settings, and what the planner makes of them.

    python tests/data/mapping-corpus/generate.py > tests/data/mapping-corpus/corpus.jsonl

`corpus.jsonl` was written by the planner before mappings became data (actions, triggers and
filters as tables): run from a checkout of that commit, with this repository's `tests` on
PYTHONPATH for the generator. `tests/mapping/test_corpus.py` checks that the default mappings
still give every outcome, byte for byte. One JSON document a line: `settings`, `event` (as
JSON carries it, which is what is planned) and `outcome` (the Plan or Skip).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime

import msgspec

from intercom_destination.mapping import plan
from intercom_destination.settings import settings_from
from intercom_destination.spec import InvalidEvent, decode_event
from tests.mapping import generated

RECEIVED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CASES = 500
SEED = 22


def main() -> None:
    rng = random.Random(SEED)
    written = 0
    while written < CASES:
        values = generated.settings(rng)
        # What JSON holds (no NaN or infinity) is what is planned.
        obj = msgspec.json.decode(msgspec.json.encode(generated.event(rng)))
        event = decode_event(obj, received_at=RECEIVED, make_message_id=lambda: "m")
        if isinstance(event, InvalidEvent):
            continue
        outcome = plan(event, settings_from(values).mapping_options)
        line = {"settings": values, "event": obj, "outcome": msgspec.to_builtins(outcome)}
        sys.stdout.write(msgspec.json.encode(line).decode() + "\n")
        written += 1


if __name__ == "__main__":
    main()
