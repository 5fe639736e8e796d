"""A custom mapping end to end: `send` delivers what the settings' mapping says, over HTTP to
the sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.cli.running import environment, events_by_user, run, sandbox_state, write_jsonl

SETTINGS = """
[actions.identify_contact.mapping]
name = { "@template" = "{{traits.first}} {{traits.last}}" }
phone = { "@if" = { exists = { "@path" = "$.traits.mobile" }, then = { "@path" = "$.traits.mobile" }, else = { "@path" = "$.traits.landline" } } }

[actions.track_event]
trigger = 'type = "track" and event != "Heartbeat"'

[[subscriptions]]
name = "orders"
action = "track_event"
trigger = 'type = "track" and event = "Order Completed" and properties.amount > 0'
mapping = { event_name = "purchase", price = { "@path" = "$.properties.amount" } }

[[filters]]
name = "no secrets"
drop_traits = ["ssn"]
"""


def test_send_delivers_what_a_custom_mapping_says(sandbox: str, tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(SETTINGS)
    env = environment(tmp_path / "store.db", sandbox)
    traits = {"first": "Grace", "last": "Hopper", "mobile": 35387, "ssn": "1", "plan": "pro"}
    events = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {"type": "identify", "userId": "u1", "traits": traits, "messageId": "m1"},
            {"type": "track", "userId": "u1", "event": "Heartbeat", "messageId": "m2"},
            {
                "type": "track",
                "userId": "u1",
                "event": "Order Completed",
                "properties": {"amount": 12.5, "currency": "EUR"},
                "messageId": "m3",
            },
        ],
    )

    result = run(env, "send", str(events), "--config", str(settings))

    assert result.exit_code == 0, result.output
    assert "3 events: 2 delivered, 1 skipped, 0 waiting, 0 dead" in result.stderr
    [contact] = sandbox_state(sandbox)["contacts"]
    assert (contact["name"], contact["phone"]) == ("Grace Hopper", "35387")
    # The traits the mapping reads are not repeated, and the filter dropped the ssn.
    assert contact["custom_attributes"] == {"plan": "pro"}
    delivered = events_by_user(sandbox)["u1"]
    assert [(event["event_name"], event.get("metadata")) for event in delivered] == [
        ("Order Completed", {"amount": 12.5, "currency": "EUR"}),
        ("purchase", {"price": {"amount": 1250, "currency": "eur"}}),
    ]
