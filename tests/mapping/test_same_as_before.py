"""The default mappings plan every event exactly as the planner before them did."""

import random
from datetime import UTC, datetime

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from intercom_destination.mapping import plan
from intercom_destination.settings import settings_from
from intercom_destination.spec import InvalidEvent, decode_event
from tests.mapping import generated
from tests.mapping.legacy.planner import plan as legacy_plan

RECEIVED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_defaults_plan_as_the_old_planner_did(rng: random.Random) -> None:
    options = settings_from(generated.settings(rng)).mapping_options
    for _ in range(5):
        event = decode_event(
            generated.event(rng), received_at=RECEIVED, make_message_id=lambda: "m"
        )
        if isinstance(event, InvalidEvent):
            continue
        expected = msgspec.json.encode(legacy_plan(event, options))
        assert msgspec.json.encode(plan(event, options)) == expected
