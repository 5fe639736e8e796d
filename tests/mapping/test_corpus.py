"""The default mappings give the outcomes the planner before them gave, on a stored corpus
of generated events and settings (tests/data/mapping-corpus, with the script that wrote it)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from intercom_destination.mapping import plan
from intercom_destination.settings import settings_from
from intercom_destination.spec import InvalidEvent, decode_event

CORPUS = Path(__file__).parents[1] / "data" / "mapping-corpus" / "corpus.jsonl"
RECEIVED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CASES = [msgspec.json.decode(line) for line in CORPUS.read_bytes().splitlines()]


def test_the_corpus_covers_every_event_type_and_outcome() -> None:
    kinds = {(case["event"]["type"], "reason" in case["outcome"]) for case in CASES}
    assert kinds == {
        (kind, skipped)
        for kind in ("identify", "track", "page", "screen", "group")
        for skipped in (True, False)
    } | {("alias", True)}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["event"]["messageId"])
def test_the_default_mappings_plan_as_before(case: dict[str, Any]) -> None:
    event = decode_event(case["event"], received_at=RECEIVED, make_message_id=lambda: "m")
    assert not isinstance(event, InvalidEvent)
    outcome = plan(event, settings_from(case["settings"]).mapping_options)
    # Encoded, so that the order of every body's keys counts too.
    assert msgspec.json.encode(outcome) == msgspec.json.encode(case["outcome"])
