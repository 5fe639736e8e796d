"""`deadletter list / show / replay / purge` on dead letters made by a full event-name budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.running import (
    environment,
    events_by_user,
    run,
    run_worker_until_idle,
    status,
    write_jsonl,
)
from tests.events import identify, track


@pytest.mark.slow
def test_dead_letters_are_listed_shown_purged_and_replayed_once_the_cause_is_fixed(
    sandbox: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "store.db", sandbox)
    tight = tmp_path / "tight.toml"
    tight.write_text("max_event_names = 1\n")
    events = [identify("u1", "ada@example.com")]
    events += [track("u1", name, second) for second, name in enumerate("ABCD", start=1)]
    file = write_jsonl(tmp_path / "events.jsonl", events)

    sent = run(env, "send", "--config", str(tight), str(file))

    assert sent.exit_code == 1
    assert "5 events: 2 delivered, 0 skipped, 0 waiting, 3 dead; 0 invalid, 0 duplicate" in (
        sent.stderr.splitlines()
    )
    listed = run(env, "deadletter", "list", "--json")
    assert listed.exit_code == 0
    assert listed.stderr == f"3 dead letters in {tmp_path / 'store.db'}\n"
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [letter["type"] for letter in letters] == ["track"] * 3
    assert {letter["lane"] for letter in letters} == {"u1"}
    assert [letter["reason"][:10] for letter in letters] == [
        "event 'B' ",
        "event 'C' ",
        "event 'D' ",
    ]
    assert all("max_event_names" in letter["reason"] for letter in letters)
    b, _, d = (letter["id"] for letter in letters)

    lines = run(env, "deadletter", "list").stdout.splitlines()
    assert [line.split("  ")[:4] for line in lines] == [
        [str(letter["id"]), letter["messageId"], "track", "u1"] for letter in letters
    ]

    shown = run(env, "deadletter", "show", str(b), "--json")
    document = json.loads(shown.stdout)
    assert document["event"]["event"] == "B"
    assert [attempt["outcome"] for attempt in document["attempts"]] == [letters[0]["reason"]]
    text = run(env, "deadletter", "show", str(b)).stdout
    assert f"dead letter {b}" in text
    assert '"event": "B"' in text
    assert "attempts (1):" in text
    missing = run(env, "deadletter", "show", "999")
    assert (missing.exit_code, missing.stderr.strip()) == (
        1,
        f"Error: no dead letter 999 in {tmp_path / 'store.db'}",
    )

    purged = run(env, "deadletter", "purge", str(d))
    assert (purged.exit_code, purged.stdout.strip()) == (0, "purged 1 dead letter")
    assert run(env, "deadletter", "replay").exit_code == 2

    replayed = run(env, "deadletter", "replay", "--all")

    assert (replayed.exit_code, replayed.stdout.strip()) == (0, "replayed 2 dead letters")
    assert run(env, "deadletter", "list").stdout == ""
    assert (status(env)["backlog"], status(env)["dead"]) == (2, 0)
    run_worker_until_idle(env, tmp_path / "worker.log")
    assert [event["event_name"] for event in events_by_user(sandbox)["u1"]] == ["A", "B", "C"]
    assert status(env)["outcomes"]["delivered"] == 4


def test_replay_and_purge_name_the_ids_that_are_no_dead_letters(
    sandbox: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "store.db", sandbox, unknown_contact="dead")
    file = write_jsonl(tmp_path / "events.jsonl", [track("u9", "Logged In", 0)])
    assert run(env, "send", str(file)).exit_code == 1
    [letter] = [
        json.loads(line) for line in run(env, "deadletter", "list", "--json").stdout.splitlines()
    ]

    purged = run(env, "deadletter", "purge", str(letter["id"]), "4242")

    assert purged.exit_code == 1
    assert purged.stdout.strip() == "purged 1 dead letter"
    assert purged.stderr.strip() == "no dead letter 4242"
    assert status(env)["dead"] == 0
    assert (
        run(env, "deadletter", "replay", str(letter["id"])).stdout.strip()
        == "replayed 0 dead letters"
    )
