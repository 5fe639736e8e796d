"""`send` and `worker` against a live sandbox over HTTP, with a store file of their own."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tests.cli.running import (
    environment,
    events_by_user,
    run,
    run_worker_until_idle,
    sandbox_state,
    status,
    write_jsonl,
)
from tests.events import identify, track


def test_send_delivers_the_valid_events_and_reports_each_invalid_line(
    sandbox: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "store.db", sandbox)
    file = tmp_path / "events.jsonl"
    file.write_text(
        "\n".join(
            [
                json.dumps(identify("u1", "ada@example.com")),
                json.dumps(track("u1", "Signed Up", 1)),
                '{"type":"track","userId":"u1"}',
                "{not json",
                json.dumps(track("u1", "Logged In", 2)),
            ]
        )
    )

    result = run(env, "send", str(file))

    assert result.exit_code == 1
    stderr = result.stderr.splitlines()
    assert "line 3: track.event: missing" in stderr
    assert any(line.startswith("line 4: json: ") for line in stderr)
    assert "3 events: 3 delivered, 0 skipped, 0 waiting, 0 dead; 2 invalid, 0 duplicate" in stderr
    [contact] = sandbox_state(sandbox)["contacts"]
    assert (contact["external_id"], contact["email"]) == ("u1", "ada@example.com")
    names = [event["event_name"] for event in events_by_user(sandbox)["u1"]]
    assert names == ["Signed Up", "Logged In"]


def test_send_reports_lines_no_decoder_reads_or_out_of_years_and_stores_the_rest(
    sandbox: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "store.db", sandbox)
    file = tmp_path / "events.jsonl"
    deep = json.dumps(track("u1", "Deep", 1) | {"properties": {"x": "X"}})
    far = track("u1", "Far", 2) | {"timestamp": "9999-12-31T23:59:59Z", "sentAt": "2026-01-01"}
    lines = [
        deep.replace('"X"', "[" * 1_100 + "]" * 1_100),
        '{"type":"track","userId":"\\ud800","event":"E"}',
        json.dumps(far),
        json.dumps(track("u1", "Signed Up", 3)),
        '{"type":"track","userId":"u\udcff","event":"E"}',  # the byte 0xff
    ]
    file.write_bytes("\n".join(lines).encode(errors="surrogateescape"))

    result = run(env, "send", "--no-wait", str(file))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 1: json: nested deeper than 256 levels",
        "line 2: json: holds a lone UTF-16 surrogate (\\ud800), which is not text",
        "line 3: timestamp: too far from sentAt: corrected for clock skew, outside years 1-9999",
        "line 5: json: is not UTF-8: invalid start byte at byte 27",
        "1 stored for delivery; 4 invalid, 0 duplicate",
    ]


def test_sending_a_file_again_stores_none_of_its_events_twice(sandbox: str, tmp_path: Path) -> None:
    # The events have no messageId: the ones send derives from their content are the same.
    env = environment(tmp_path / "store.db", sandbox)
    file = write_jsonl(tmp_path / "events.jsonl", [identify("u1", "ada@example.com")])
    assert run(env, "send", str(file)).exit_code == 0

    again = run(env, "send", str(file))

    assert again.exit_code == 0
    assert "0 events: 0 delivered, 0 skipped, 0 waiting, 0 dead; 0 invalid, 1 duplicate" in (
        again.stderr.splitlines()
    )
    assert status(env)["outcomes"] == {"delivered": 1}


def test_a_track_whose_contact_never_comes_is_reported_waiting(
    sandbox: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "store.db", sandbox)
    file = write_jsonl(tmp_path / "events.jsonl", [track("u9", "Logged In", 0)])

    result = run(env, "send", str(file))

    assert result.exit_code == 0
    assert "1 events: 0 delivered, 0 skipped, 1 waiting, 0 dead; 0 invalid, 0 duplicate" in (
        result.stderr.splitlines()
    )
    assert status(env)["parked"] == 1


def test_without_a_token_or_a_sandbox_send_says_how_to_give_one_and_stores_nothing(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path / "store.db", None)
    file = write_jsonl(tmp_path / "events.jsonl", [identify("u1", "ada@example.com")])

    result = run(env, "send", str(file))

    assert result.exit_code == 1
    message = result.stderr
    assert "INTERCOM_ACCESS_TOKEN" in message
    assert "INTERCOM_API_URL=http://127.0.0.1:8090" in message
    assert "intercom-destination sandbox" in message
    assert not (tmp_path / "store.db").exists()
    assert run(env, "worker").stderr == message


@pytest.mark.slow
def test_send_no_wait_stores_and_a_worker_process_delivers(sandbox: str, tmp_path: Path) -> None:
    token = "tok-7c1e9a-secret"
    env = environment(tmp_path / "store.db", sandbox) | {"INTERCOM_ACCESS_TOKEN": token}
    events = [identify("u1", "ada@example.com"), identify("u2", "bob@example.com")]
    events += [track(user, "Signed Up", 1) for user in ("u1", "u2")]
    file = write_jsonl(tmp_path / "events.jsonl", events)

    stored = run(
        env | {"INTERCOM_ACCESS_TOKEN": None, "INTERCOM_API_URL": None},
        "send",
        "--no-wait",
        str(file),
    )

    assert stored.exit_code == 0, stored.output
    assert "4 stored for delivery; 0 invalid, 0 duplicate" in stored.stderr.splitlines()
    before = status(env)
    assert set(before) == {
        "store",
        "lanes",
        "in_flight",
        "backlog",
        "oldest_pending_age",
        "parked",
        "dead",
        "outcomes",
        "calls_per_event",
        "event_names",
        "attributes",
        "paused",
        "paused_until",
        "paused_reason",
    }
    assert (before["lanes"], before["backlog"], before["in_flight"]) == (2, 4, 0)
    assert before["oldest_pending_age"] >= 0
    assert before["outcomes"] == {}
    assert before["calls_per_event"] is None
    assert before["store"] == str(tmp_path / "store.db")
    assert (before["paused"], before["paused_until"], before["paused_reason"]) == (
        False,
        None,
        None,
    )
    assert httpx.get(f"{sandbox}/_sandbox/state").json()["contacts"] == []

    worker = run_worker_until_idle(env, tmp_path / "worker.log")

    assert {
        user: [e["event_name"] for e in events] for user, events in events_by_user(sandbox).items()
    } == {
        "u1": ["Signed Up"],
        "u2": ["Signed Up"],
    }
    after = status(env)
    assert (after["backlog"], after["lanes"], after["outcomes"]) == (0, 0, {"delivered": 4})
    assert after["calls_per_event"] > 0
    assert after["event_names"] == {"known": 1, "max": 120}
    messages = [line["message"] for line in worker.log_lines()]
    assert messages[0] == "worker started"
    assert messages[-1] == "worker stopped: the events in flight are finished"
    assert worker.log_lines()[-1]["signal"] == "SIGTERM"
    assert token not in worker.log.read_text()


def test_a_segment_archive_keeps_the_timestamps_segment_corrected(
    sandbox: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "store.db", sandbox)
    archived = {
        **track("u1", "Signed Up", 0),
        "messageId": "archived-1",
        # As Segment archives it: the device clock was 10 minutes fast; `timestamp` is corrected.
        "originalTimestamp": "2026-11-28T10:10:00Z",
        "sentAt": "2026-11-28T10:10:05Z",
        "receivedAt": "2026-11-28T10:00:05Z",
        "timestamp": "2026-11-28T10:00:00Z",
    }
    events = [identify("u1", "ada@example.com"), archived]

    result = run(env, "send", str(write_jsonl(tmp_path / "archive.jsonl", events)))

    assert result.exit_code == 0, result.stderr
    [event] = events_by_user(sandbox)["u1"]
    assert event["created_at"] == 1795860000  # 2026-11-28T10:00:00Z


@pytest.mark.slow
def test_send_stops_at_a_refused_token_and_keeps_the_events(
    start_sandbox: Callable[..., AbstractContextManager[str]], tmp_path: Path
) -> None:
    token = "tok-wrong-3f9b"
    events = [identify("u1", "ada@example.com"), identify("u2", "bob@example.com")]
    file = write_jsonl(tmp_path / "events.jsonl", events)
    with start_sandbox("--token", "tok-right") as url:
        env = environment(tmp_path / "store.db", url) | {"INTERCOM_ACCESS_TOKEN": token}

        result = run(env, "send", str(file))

        assert result.exit_code == 1
        [line] = result.stderr.splitlines()
        assert line.startswith(
            "stopped: Intercom refused the access token (401 unauthorized: Access Token Invalid"
        )
        assert "Check INTERCOM_ACCESS_TOKEN, and check INTERCOM_REGION too" in line
        assert line.endswith(
            "2 of 2 events wait in the store: run send again, or a worker, once that is fixed"
        )
        assert token not in result.output
        after = status(env)
        assert (after["backlog"], after["dead"], after["paused"]) == (2, 0, True)
        assert after["paused_reason"].startswith("Intercom refused the access token (401")
        assert sandbox_state(url)["contacts"] == []


def test_send_logs_json_lines_where_no_one_watches(sandbox: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "store.db", sandbox, max_event_names="1")
    events = [identify("u1", "ada@example.com"), track("u1", "A", 1), track("u1", "B", 2)]

    result = run(env, "send", str(write_jsonl(tmp_path / "events.jsonl", events)))

    assert result.exit_code == 1
    [logged, summary, advice] = result.stderr.splitlines()
    record = json.loads(logged)
    assert (record["level"], record["logger"]) == (
        "warning",
        "intercom_destination.delivery.worker",
    )
    assert record["message"].startswith("event ")
    assert "is dead: event 'B' was not sent" in record["message"]
    assert summary.startswith("3 events: 2 delivered, 0 skipped, 0 waiting, 1 dead")
    assert advice == "dead events are dead letters: `deadletter list` says why"
