import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from intercom_destination.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "events.jsonl"


def run(args: list[str], stdin: str | None = None) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(main, ["plan", *args], input=stdin)
    documents = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, documents, result.stderr


def test_json_lines_report_each_event_with_its_line_number() -> None:
    text = "\n".join(
        [
            '{"type":"track","userId":"u1","event":"Signed Up","messageId":"m1","timestamp":"2026-01-01T00:00:00Z"}',
            "",
            '{"type":"track","userId":"u1"}',
            "{not json",
            '{"type":"alias","userId":"u1","previousId":"a1","messageId":"m4"}',
        ]
    )
    code, documents, stderr = run(["-"], text)
    assert code == 1
    assert documents == [
        {
            "line": 1,
            "messageId": "m1",
            "type": "track",
            "operations": [
                {
                    "op": "create_event",
                    "method": "POST",
                    "path": "/events",
                    "contact": {"role": "user", "external_id": "u1"},
                    "body": {"event_name": "Signed Up", "created_at": 1767225600, "user_id": "u1"},
                }
            ],
            "warnings": [],
        },
        {"line": 3, "error": "track.event: missing"},
        {"line": 4, "error": documents[2]["error"]},
        {
            "line": 5,
            "messageId": "m4",
            "type": "alias",
            "skipped": "alias: Intercom has no alias operation; the userId's own identify updates the contact",
            "warnings": [],
        },
    ]
    assert documents[2]["error"].startswith("json: ")
    assert stderr.strip() == "1 planned, 1 skipped, 2 invalid"


def test_a_batch_envelope_applies_its_context_and_integrations(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_text(
        json.dumps(
            {
                "integrations": {"Intercom": False},
                "batch": [
                    {"type": "track", "userId": "u1", "event": "A"},
                    {
                        "type": "track",
                        "userId": "u1",
                        "event": "B",
                        "integrations": {"Intercom": True},
                    },
                ],
            }
        )
    )
    code, documents, _ = run([str(path)])
    assert code == 0
    assert documents[0]["skipped"] == "integrations: Intercom is switched off for this event"
    assert documents[1]["operations"][0]["body"]["event_name"] == "B"


def test_a_json_array_and_a_settings_file(tmp_path: Path) -> None:
    events = tmp_path / "events.json"
    events.write_text(json.dumps([{"type": "page", "userId": "u1", "name": "Home"}]))
    settings = tmp_path / "settings.toml"
    settings.write_text("page_events = true\n")
    code, documents, _ = run([str(events), "--settings", str(settings)])
    assert code == 0
    assert documents[0]["operations"][0]["body"]["event_name"] == "Viewed Home Page"


def test_a_file_that_starts_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "track", "userId": "u1", "event": "E"}\n', encoding="utf-8-sig")
    code, documents, _ = run([str(events)])
    assert code == 0
    assert documents[0]["operations"][0]["body"]["event_name"] == "E"


def test_a_bad_settings_file_is_a_usage_error(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('nested = "explode"\n')
    result = CliRunner().invoke(main, ["plan", str(EXAMPLES), "--config", str(settings)])
    assert result.exit_code == 2
    assert f"settings: {settings}: nested: 'explode' is not one of drop, flatten, stringify" in (
        result.stderr
    )


@pytest.mark.slow
def test_the_bundled_example_runs_as_the_readme_says() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "intercom_destination", "plan", str(EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
    )
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["type"] for d in documents] == [
        "identify",
        "track",
        "group",
        "page",
        "track",
        "track",
    ]
    assert result.returncode == 0, result.stderr


def test_lines_no_decoder_reads_whole_or_out_of_years_are_reported_and_the_rest_planned() -> None:
    deep = "[" * 1_100 + "]" * 1_100
    text = "\n".join(
        [
            f'{{"type":"track","userId":"u1","event":"E","properties":{{"x":{deep}}}}}',
            '{"type":"track","userId":"\\ud800","event":"E"}',
            '{"type":"track","userId":"u1","event":"E","timestamp":"9999-12-31T23:59:59Z","sentAt":"2026-01-01T00:00:00Z"}',
            '{"type":"track","userId":"u1","event":"E","messageId":"m4"}',
        ]
    )
    code, documents, stderr = run(["-"], text)
    assert code == 1
    assert [document.get("error", document.get("messageId")) for document in documents] == [
        "json: nested deeper than 256 levels",
        "json: holds a lone UTF-16 surrogate (\\ud800), which is not text",
        "timestamp: too far from sentAt: corrected for clock skew, outside years 1-9999",
        "m4",
    ]
    assert [document["line"] for document in documents] == [1, 2, 3, 4]
    assert stderr.strip() == "1 planned, 0 skipped, 3 invalid"


def test_a_line_that_is_not_utf_8_is_reported_and_the_rest_planned(tmp_path: Path) -> None:
    file = tmp_path / "events.jsonl"
    file.write_bytes(
        b'{"type":"track","userId":"u\xff","event":"E"}\n'
        b'{"type":"track","userId":"u1","event":"E","messageId":"m2"}\n'
    )
    code, documents, stderr = run([str(file)])
    assert code == 1
    assert documents[0] == {"line": 1, "error": "json: is not UTF-8: invalid start byte at byte 27"}
    assert documents[1]["messageId"] == "m2"
    assert stderr.strip() == "1 planned, 0 skipped, 1 invalid"
