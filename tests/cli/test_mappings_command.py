"""`mappings` prints the effective mappings; `plan` names the subscriptions and filters."""

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from intercom_destination.cli import main

SETTINGS = """
[actions.identify_contact.mapping]
name = { "@path" = "$.traits.full_name" }

[[subscriptions]]
name = "orders"
action = "track_event"
trigger = 'type = "track" and event = "Order Completed"'
mapping = { event_name = "order-completed" }

[[filters]]
name = "internal"
if = 'context.traits.internal = true'
drop = true
"""


def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS)
    return path


def test_mappings_prints_each_subscription_with_its_trigger_and_sources(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["mappings", "--json", "--config", str(settings_file(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    subscriptions = {each["name"]: each for each in document["subscriptions"]}
    assert list(subscriptions) == ["identify_contact", "track_event", "group_company", "orders"]
    assert subscriptions["orders"]["trigger"] == 'type = "track" and event = "Order Completed"'
    fields = {field["field"]: field for field in subscriptions["identify_contact"]["fields"]}
    assert fields["name"] == {
        "field": "name",
        "type": "string",
        "source": {"@path": "$.traits.full_name"},
        "default": False,
    }
    assert fields["email"]["source"] == "traits.email"
    assert document["filters"] == [
        {"name": "internal", "if": "context.traits.internal = true", "drop": True}
    ]


def test_mappings_as_text_marks_what_the_settings_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["mappings", "--config", str(settings_file(tmp_path))])
    lines = result.stdout.splitlines()
    assert "subscription orders (subscriptions[0])" in lines
    assert '  trigger  type = "track" and event = "Order Completed"' in lines
    assert any(
        line.split() == ["name", "string", '{"@path":', '"$.traits.full_name"}', "(set)"]
        for line in lines
    )
    assert "filter internal" in lines


def test_the_default_mappings_are_the_three_actions() -> None:
    result = CliRunner().invoke(
        main, ["mappings"], env={"INTERCOM_DESTINATION_PAGE_EVENTS": "true"}
    )
    triggers = [line.strip() for line in result.stdout.splitlines() if line.startswith("  trigger")]
    assert triggers == [
        'trigger  type = "identify"',
        'trigger  type = "track" or type = "page"',
        'trigger  type = "group"',
    ]


def test_a_bad_mapping_stops_the_command_with_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[actions.track_event]\ntrigger = 'type = '\n")
    result = CliRunner().invoke(main, ["mappings", "--config", str(path)])
    assert result.exit_code == 2
    assert f"settings: {path}: actions.track_event.trigger: expected a value" in result.stderr


def plan(tmp_path: Path, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(json.dumps(each) for each in events))
    result = CliRunner().invoke(main, ["plan", str(file), "--config", str(settings_file(tmp_path))])
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_plan_names_the_subscriptions_matched_and_the_filter_that_dropped(tmp_path: Path) -> None:
    order = {"type": "track", "userId": "u1", "event": "Order Completed"}
    documents = plan(
        tmp_path,
        [
            order,
            {**order, "event": "Signed Up"},
            {**order, "context": {"traits": {"internal": True}}},
        ],
    )
    assert [document["subscriptions"] for document in documents] == [
        ["track_event", "orders"],
        ["track_event"],
        [],
    ]
    assert [op["body"]["event_name"] for op in documents[0]["operations"]] == [
        "Order Completed",
        "order-completed",
    ]
    assert documents[2]["filter"] == "internal"
    assert "filter" not in documents[0]
