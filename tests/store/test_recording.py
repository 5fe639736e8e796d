"""Whom an outcome row is about, read from the event's JSON."""

from __future__ import annotations

import msgspec

from intercom_destination.store.recording import who


def test_who_reads_the_ids_email_and_event_name() -> None:
    body = {
        "type": "track",
        "userId": "u1",
        "anonymousId": "a1",
        "event": "Order Completed",
        "context": {"traits": {"email": " Ada@Example.com "}},
    }
    assert who(msgspec.json.encode(body)) == {
        "user_id": "u1",
        "anonymous_id": "a1",
        "email": "ada@example.com",
        "event": "Order Completed",
    }


def test_an_identifys_own_email_wins_over_its_contexts() -> None:
    body = {"traits": {"email": "a@x.io"}, "context": {"traits": {"email": "b@x.io"}}}
    assert who(msgspec.json.encode(body))["email"] == "a@x.io"


def test_numbers_are_ids_and_what_is_not_text_is_left_out() -> None:
    body = {"userId": 42, "anonymousId": True, "event": {"name": "x"}, "traits": {"email": 7}}
    assert who(msgspec.json.encode(body)) == {
        "user_id": "42",
        "anonymous_id": None,
        "email": None,
        "event": None,
    }


def test_a_body_that_does_not_decode_is_about_nobody() -> None:
    assert who(b'{"traits": "not an object"}') == dict.fromkeys(
        ("user_id", "anonymous_id", "email", "event")
    )
