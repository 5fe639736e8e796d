"""`delete`, `deletions` and `suppressions` from the command line, on a store file and the
sandbox."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.running import environment, run, write_jsonl
from tests.events import identify, track


@pytest.mark.slow
def test_delete_suppress_then_list_and_remove_the_suppression(sandbox: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "store.db", sandbox)
    events = [identify("u1", "ada@example.com"), identify("u2", "bob@example.com")]
    assert run(env, "send", str(write_jsonl(tmp_path / "events.jsonl", events))).exit_code == 0
    people = tmp_path / "people.txt"
    people.write_text('u1\n\n{"anonymousId": "a-never-seen"}\n')

    preview = run(env, "delete", "--file", str(people), "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert preview.stdout.startswith("userId u1: 1 stored event; Intercom contacts: ")
    assert "anonymousId a-never-seen: 0 stored events; Intercom contacts: none" in preview.stdout

    deleted = run(env, "delete", "--file", str(people), "--suppress")

    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout.splitlines()[-1] == (
        "deletion 1 done: 2 of 2 people deleted: 1 stored event and 1 Intercom contact; "
        "their future events are refused"
    )
    contacts = httpx.get(f"{sandbox}/_sandbox/state").json()["contacts"]
    assert [contact["external_id"] for contact in contacts] == ["u2"]
    audit = run(env, "deletions")
    assert audit.stdout.startswith("1  done  requested ")
    assert "people 2/2  events 1  contacts 1  suppressed yes  ids " in audit.stdout
    assert "u1" not in audit.stdout
    assert "a-never-seen" not in audit.stdout
    listed = run(env, "suppressions", "list")
    assert (len(listed.stdout.splitlines()), listed.stderr) == (2, "2 suppressed ids\n")

    again = run(env, "send", str(write_jsonl(tmp_path / "again.jsonl", [track("u1", "E", 1)])))
    assert "0 events: 0 delivered" in again.stderr
    assert "1 suppressed" in again.stderr

    assert run(env, "suppressions", "remove", "u1").exit_code == 0
    assert run(env, "suppressions", "remove", "u1").exit_code == 1
    assert run(env, "suppressions", "list").stderr == "1 suppressed id\n"
    resumed = run(env, "delete", "--resume")
    assert (resumed.exit_code, resumed.stdout) == (0, "0 unfinished deletions run\n")


def test_a_bad_line_of_the_file_is_named(tmp_path: Path) -> None:
    people = tmp_path / "people.jsonl"
    people.write_text('{"userId": "u1"}\n{"userId": 7}\n')

    result = run(environment(tmp_path / "store.db", None), "delete", "--file", str(people))

    assert result.exit_code == 2
    assert f"{people}: line 2: userId: an id must be a non-empty string" in result.stderr


def test_a_byte_order_mark_is_no_part_of_the_first_line(tmp_path: Path) -> None:
    people = tmp_path / "people.jsonl"
    people.write_text('{"userId": 7}\n', encoding="utf-8-sig")

    result = run(environment(tmp_path / "store.db", None), "delete", "--file", str(people))

    assert result.exit_code == 2
    assert f"{people}: line 1: userId: an id must be a non-empty string" in result.stderr


def test_a_dry_run_that_cannot_ask_intercom_says_so(tmp_path: Path) -> None:
    env = environment(tmp_path / "store.db", "ftp://127.0.0.1:1")

    result = run(env, "delete", "--user-id", "u1", "--dry-run")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: cannot look up the people's Intercom contacts: "
        "GET /contacts/find_by_external_id/u1: NonHttpUrlClientError"
    )


def test_delete_needs_someone(tmp_path: Path) -> None:
    result = run(environment(tmp_path / "store.db", None), "delete", "--suppress")

    assert result.exit_code == 2
    assert "name the people to delete" in result.stderr
