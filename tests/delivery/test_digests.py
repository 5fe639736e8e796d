"""What of an identify's body a contact Intercom holds lacks."""

from __future__ import annotations

from intercom_destination.delivery.digests import changes

HELD = {
    "role": "user",
    "external_id": "u1",
    "name": "Ada",
    "last_seen_at": 7200,
    "custom_attributes": {"plan": "free", "logins": 1, "beta": True},
}


def test_only_values_that_differ_are_changes_custom_attributes_key_by_key() -> None:
    body = {
        "role": "user",
        "external_id": "u1",
        "name": "Ada",
        "custom_attributes": {"plan": "pro", "logins": 1, "seats": None},
    }

    assert changes(HELD, body, 3600) == {"custom_attributes": {"plan": "pro", "seats": None}}


def test_a_value_of_another_type_is_a_change() -> None:
    body = {"custom_attributes": {"logins": 1.0, "beta": 1}}

    assert changes(HELD, body, 3600) == body


def test_last_seen_at_counts_beyond_its_precision_and_rides_along_otherwise() -> None:
    assert changes(HELD, {"last_seen_at": 7200 + 3599}, 3600) == {}
    assert changes(HELD, {"last_seen_at": 7200 + 3600}, 3600) == {"last_seen_at": 10800}
    assert changes(HELD, {"name": "Ada L.", "last_seen_at": 7300}, 3600) == {
        "name": "Ada L.",
        "last_seen_at": 7300,
    }
    assert changes(HELD, {"name": "Ada L.", "last_seen_at": 7200}, 3600) == {"name": "Ada L."}
