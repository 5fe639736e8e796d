"""`status`, for people and for scripts."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import pytest

from intercom_destination.store import open_store
from tests.cli.running import environment, run, status, write_jsonl
from tests.cli.test_send_command import track
from tests.store.helpers import query


def test_status_shows_budgets_and_a_pause(sandbox: str, tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    env = environment(store, sandbox, max_event_names="7", max_custom_attributes="50")
    identify = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "a@example.com", "plan": "pro"},
    }
    events = [identify, track("u1", "Signed Up", 1), track("u2", "Logged In", 2)]
    assert run(env, "send", str(write_jsonl(tmp_path / "e.jsonl", events))).exit_code == 0
    pause_ends = time.time() + 600

    async def pause() -> None:
        async with await open_store(f"sqlite:///{store}") as opened:
            await opened.pause_until(pause_ends, "Intercom refused the access token (401)")

    asyncio.run(pause())

    document = status(env)
    # The parked event's name takes no slot until Intercom accepts an event with it.
    assert document["event_names"] == {"known": 1, "max": 7}
    assert document["attributes"] == {
        "contact": {"known": 1, "max": 50},
        "company": {"known": 0, "max": 50},
    }
    assert (document["parked"], document["dead"]) == (1, 0)
    assert document["outcomes"] == {"delivered": 2, "parked": 1}
    assert document["paused"] is True
    assert datetime.fromisoformat(document["paused_until"]).timestamp() == pytest.approx(
        pause_ends, abs=1e-5
    )

    text = run(env, "status").stdout.splitlines()
    assert "event names  1 of 7 (max_event_names)" in text
    assert "attributes   contact 1 of 50, company 0 of 50 (max_custom_attributes)" in text
    assert "parked       1 waiting for their contact" in text
    assert "outcomes     delivered 2, parked 1" in text
    assert document["paused_reason"] == "Intercom refused the access token (401)"
    assert (
        f"delivery     paused until {document['paused_until']} (10 min from now): "
        "Intercom refused the access token (401)"
    ) in text


def test_an_empty_store_has_nothing_pending_and_runs(tmp_path: Path) -> None:
    env = environment(tmp_path / "store.db", None)
    assert run(env, "migrate").exit_code == 0
    text = run(env, "status").stdout.splitlines()
    assert text == [
        f"store        {tmp_path / 'store.db'}",
        "lanes        0 with pending events, 0 in flight",
        "backlog      0 events",
        "parked       0 waiting for their contact",
        "dead         0 dead letters",
        "outcomes     none yet",
        "calls/event  none yet",
        "event names  0 of 120 (max_event_names)",
        "attributes   contact 0 of 200, company 0 of 200 (max_custom_attributes)",
        "delivery     running",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--json"],
        ["deadletter", "list"],
        ["deadletter", "show", "1"],
        ["deadletter", "replay", "--all"],
        ["deadletter", "purge", "1"],
    ],
)
def test_reading_where_no_store_is_names_the_place_and_makes_none(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # The default DATABASE_URL, relative to where the command runs.
    env = environment(tmp_path / "unused.db", None) | {"DATABASE_URL": None}

    result = run(env, *command)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no store at {tmp_path / 'intercom-destination.db'} (DATABASE_URL): this "
        "command reads a store and creates none; point DATABASE_URL at the one `serve`, "
        "`ingest`, `send` or `worker` use\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_holds_no_store_is_not_made_one(tmp_path: Path) -> None:
    (tmp_path / "notes.db").touch()
    result = run(environment(tmp_path / "notes.db", None), "status")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no store at {tmp_path / 'notes.db'} (DATABASE_URL)")
    assert query(f"sqlite:///{tmp_path / 'notes.db'}", "SELECT name FROM sqlite_master") == []
