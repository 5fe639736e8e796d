"""What `send` keeps in memory per event: nothing when it only stores them, and while it
follows their delivery, 8 bytes of each event's messageId and, until it settles, its latest
outcome."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import cast

import pytest
from rich.console import Console

from intercom_destination.commands.feed import OutcomeFeed
from intercom_destination.commands.followed import MessageIds
from intercom_destination.commands.send import send
from intercom_destination.settings import Settings
from intercom_destination.store import OutcomeName, OutcomeRow, Store, open_store
from tests.events import track

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


async def test_a_backfill_that_only_stores_keeps_no_message_ids(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    lines = [json.dumps(track("u1", f"Event {number}", number % 60)) for number in range(1200)]

    backfill = await send(settings, lines, deliver=False, console=Console(file=io.StringIO()))

    assert backfill.accepted == 1200
    assert len(backfill.followed) == 0
    assert backfill.summary() == "1200 stored for delivery; 0 invalid, 0 duplicate"
    async with await open_store(settings.database_url) as store:
        assert (await store.status(NOW)).backlog == 1200


def test_followed_message_ids_take_8_bytes_each_and_are_found_after_any_batches() -> None:
    added = [f"message-{number}" for number in range(10_000)]
    others = [f"other-{number}" for number in range(10_000)]
    tracemalloc.start()
    try:
        followed = MessageIds()
        for start in range(0, len(added), 500):
            followed.add_all(added[start : start + 500])
        assert "message-0" in followed  # (merges the batches)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # (A set of the strings' references alone takes over 50 bytes each.)
    assert held < 10 * len(added)
    assert len(followed) == len(added)
    assert all(message_id in followed for message_id in added)
    assert not any(message_id in followed for message_id in others)
    followed.add_all(["late"])
    assert "late" in followed
    assert "message-9999" in followed


class OutcomeLog:
    """The part of a store the feed reads: its outcome log, newest first."""

    def __init__(self) -> None:
        self.rows: list[OutcomeRow] = []

    def add(self, message_id: str, outcome: OutcomeName) -> None:
        at = NOW + len(self.rows)
        row = OutcomeRow(
            at=at,
            message_id=message_id,
            lane="u1",
            type="track",
            outcome=outcome,
            reason=None,
            calls=1,
        )
        self.rows.insert(0, row)

    async def outcomes(self, limit: int = 100) -> list[OutcomeRow]:
        return self.rows[:limit]


async def test_the_feed_counts_each_event_by_its_latest_outcome_and_forgets_settled_ones() -> None:
    log = OutcomeLog()
    followed = {"delivered", "retried", "parked", "replayed", "skipped"}
    # (The feed reads nothing of its store but the outcome log.)
    feed = OutcomeFeed(cast(Store, log), followed, since=NOW)
    log.add("retried", "retry")
    log.add("parked", "parked")
    log.add("replayed", "dead")
    log.add("someone else's", "delivered")
    await feed.poll()
    log.add("delivered", "delivered")
    log.add("retried", "delivered")
    log.add("skipped", "skipped")
    log.add("replayed", "delivered")  # a dead letter replayed
    await feed.poll()

    assert dict(+feed.tally) == {"delivered": 3, "skipped": 1, "parked": 1}
    assert feed.tally.finished == 4
    # Only the parked event may have another outcome: the others are no longer held.
    assert feed._latest == {"parked": "parked"}
