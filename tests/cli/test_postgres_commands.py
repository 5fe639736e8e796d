"""`send`, `status` and `deadletter` on a PostgreSQL store, as an operator of a fleet runs them."""

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
from tests.cli.test_send_command import identify, track
from tests.store.helpers import query

pytestmark = pytest.mark.postgres


def test_send_status_and_dead_letters_work_on_postgres(
    sandbox: str, postgres_url: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "unused.db", sandbox)
    env["DATABASE_URL"] = postgres_url
    tight = tmp_path / "tight.toml"
    tight.write_text("max_event_names = 1\n")
    events = [identify("u1", "ada@example.com"), track("u1", "A", 1), track("u1", "B", 2)]

    sent = run(env, "send", "--config", str(tight), str(write_jsonl(tmp_path / "e.jsonl", events)))

    assert "3 events: 2 delivered, 0 skipped, 0 waiting, 1 dead; 0 invalid, 0 duplicate" in (
        sent.stderr.splitlines()
    )
    document = status(env)
    assert (document["backlog"], document["dead"]) == (0, 1)
    assert document["outcomes"] == {"delivered": 2, "dead": 1}
    [letter] = [
        json.loads(line) for line in run(env, "deadletter", "list", "--json").stdout.splitlines()
    ]
    assert (letter["type"], letter["lane"]) == ("track", "u1")

    assert run(env, "deadletter", "replay", "--all").exit_code == 0
    # The budget is the default again: a worker delivers the replayed event.
    run_worker_until_idle(env, tmp_path / "worker.log")

    assert [e["event_name"] for e in events_by_user(sandbox)["u1"]] == ["A", "B"]
    assert status(env)["dead"] == 0


def test_status_on_a_database_without_a_store_makes_none(postgres_url: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "unused.db", None) | {"DATABASE_URL": postgres_url}

    result = run(env, "status")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no store at {postgres_url} (DATABASE_URL)")
    assert run(env, "deadletter", "list").exit_code == 1
    assert query(postgres_url, "SELECT to_regclass('schema_version')") == [(None,)]
