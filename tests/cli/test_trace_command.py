"""`trace MESSAGE_ID`: one event's story, with the requests Intercom got and its answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.running import environment, run, write_jsonl
from tests.cli.test_send_command import track

pytestmark = pytest.mark.slow


def test_trace_shows_an_events_requests_and_intercoms_answers(sandbox: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "store.db", sandbox)
    identify = {
        "type": "identify",
        "messageId": "identify-1",
        "userId": "u1",
        "traits": {"email": "ada@example.com", "plan": "pro"},
    }
    order = {**track("u1", "Order Completed", 1), "messageId": "order-1"}
    events = write_jsonl(tmp_path / "events.jsonl", [identify, order])
    assert run(env, "send", str(events)).exit_code == 0

    contact = run(env, "trace", "identify-1").stdout.splitlines()
    sent = run(env, "trace", "order-1").stdout.splitlines()

    assert "event     identify-1 (identify)" in contact
    assert "state     finished" in contact
    assert any(line.startswith("as received  {") and "ada@example.com" in line for line in contact)
    assert any(line.startswith("attempt 1  ") and "delivered" in line for line in contact)
    [create] = [line for line in contact if line.startswith("  POST /contacts  200  ")]
    assert "  request " in create
    [event] = [line for line in sent if line.startswith("  POST /events  202  ")]
    assert "  request " in event
    assert "  plan      POST /events" in sent
    assert any(line.startswith("    sent      {") and "Order Completed" in line for line in sent)


def test_trace_names_an_event_the_store_does_not_know(tmp_path: Path) -> None:
    env = environment(tmp_path / "store.db", None)
    assert run(env, "migrate").exit_code == 0
    result = run(env, "trace", "nothing")
    assert result.exit_code == 1
    assert "no event with messageId 'nothing' in" in result.output
