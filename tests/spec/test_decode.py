from datetime import UTC, datetime
from itertools import count
from typing import Any

import msgspec
import pytest

from intercom_destination.spec import (
    Alias,
    Group,
    Identify,
    InvalidEvent,
    Page,
    Screen,
    Track,
    decode_event,
    stored_form,
)
from intercom_destination.spec.decode import Arrival, StoredForm
from tests.captures import event_captures
from tests.spec.batches import Batch, decode_batch

RECEIVED = datetime(2026, 11, 28, 22, 50, 52, tzinfo=UTC)
_ids = count(1)


def decode(obj: dict[str, Any], **kwargs: Any) -> Any:
    return decode_event(
        obj, received_at=RECEIVED, make_message_id=lambda: f"generated-{next(_ids)}", **kwargs
    )


def test_every_type_decodes_to_its_class() -> None:
    base = {"userId": "u1", "messageId": "m"}
    assert isinstance(decode({**base, "type": "identify", "traits": {"a": 1}}), Identify)
    assert decode({**base, "type": "track", "event": "Signed Up"}).event == "Signed Up"
    assert decode({**base, "type": "page", "name": "Home"}).name == "Home"
    assert isinstance(decode({**base, "type": "screen"}), Screen)
    assert decode({**base, "type": "group", "groupId": "g"}).group_id == "g"
    assert decode({**base, "type": "alias", "previousId": "p"}).previous_id == "p"


def test_unknown_fields_are_kept_in_raw_and_transport_fields_are_not() -> None:
    event = decode(
        {
            "type": "track",
            "event": "E",
            "userId": "u",
            "writeKey": "secret",
            "sentAt": "2026-11-28T22:50:51Z",
            "_metadata": {"bundled": []},
            "version": 2,
            "category": "custom",
        }
    )
    assert event.raw["version"] == 2
    assert event.raw["category"] == "custom"
    assert "writeKey" not in event.raw
    assert "_metadata" not in event.raw


INVALID = [
    ({"type": "track", "userId": "u"}, "track.event: missing"),
    ({"type": "track", "userId": "u", "event": 5}, "track.event: must be a string"),
    ({"type": "identify", "traits": {}}, "identify: needs userId or anonymousId"),
    (
        {"type": "identify", "userId": None, "anonymousId": ""},
        "identify: needs userId or anonymousId",
    ),
    ({"type": "group", "userId": "u"}, "group.groupId: missing"),
    ({"type": "alias", "userId": "u"}, "alias.previousId: missing"),
    ({"type": "alias", "anonymousId": "a", "previousId": "p"}, "alias.userId: missing"),
    ({"userId": "u"}, "type: missing"),
    (
        {"type": "purchase", "userId": "u"},
        "type: must be one of identify, track, page, screen, group, alias",
    ),
    (
        {"type": "identify", "userId": "u", "messageId": "x" * 100},
        "messageId: longer than 99 characters",
    ),
    ({"type": "identify", "userId": {"id": 1}}, "userId: must be a string"),
    ({"type": "identify", "userId": "u", "traits": []}, "traits: must be an object"),
    (
        {"type": "identify", "userId": "u", "timestamp": "yesterday"},
        "timestamp: not a timestamp (ISO-8601 or Unix seconds)",
    ),
    # Corrected for clock skew, the time falls outside the years 1-9999: the one far from
    # the moment of arrival is named.
    (
        {
            "type": "identify",
            "userId": "u",
            "timestamp": "9999-12-31T23:59:59Z",
            "sentAt": "2026-11-28T22:50:51Z",
        },
        "timestamp: too far from sentAt: corrected for clock skew, outside years 1-9999",
    ),
    (
        {
            "type": "identify",
            "userId": "u",
            "originalTimestamp": "2026-11-28T22:50:50Z",
            "sentAt": "9999-12-31T23:59:59Z",
        },
        "sentAt: too far from originalTimestamp: corrected for clock skew, outside years 1-9999",
    ),
]


@pytest.mark.parametrize(("obj", "message"), INVALID)
def test_invalid_events_name_the_field_and_the_reason(obj: dict[str, Any], message: str) -> None:
    error = decode(obj)
    assert isinstance(error, InvalidEvent)
    assert str(error) == message


def test_the_path_type_is_used_and_must_agree() -> None:
    assert isinstance(decode({"userId": "u", "event": "E"}, type_hint="track"), Track)
    error = decode({"type": "identify", "userId": "u"}, type_hint="track")
    assert str(error) == "type: is 'identify' but the path is for 'track' events"


def test_numeric_ids_become_strings_and_a_message_id_is_generated() -> None:
    event = decode({"type": "identify", "userId": 42})
    assert event.user_id == "42"
    assert event.message_id.startswith("generated-")


def test_identify_traits_fall_back_to_context_traits() -> None:
    event = decode({"type": "identify", "userId": "u", "context": {"traits": {"plan": "pro"}}})
    assert event.traits == {"plan": "pro"}


def test_timestamp_is_corrected_with_sent_at() -> None:
    # sent 1 s after the event by a clock 1 hour fast; received at RECEIVED
    event = decode(
        {
            "type": "identify",
            "userId": "u",
            "timestamp": "2026-11-28T23:50:50Z",
            "sentAt": "2026-11-28T23:50:51Z",
        }
    )
    assert event.timestamp == datetime(2026, 11, 28, 22, 50, 51, tzinfo=UTC)


def test_an_archived_event_keeps_its_already_corrected_timestamp() -> None:
    event = decode(
        {
            "type": "track",
            "event": "E",
            "userId": "u",
            "timestamp": "2020-01-01T00:00:00Z",
            "originalTimestamp": "2020-01-01T01:00:00Z",
            "sentAt": "2020-01-01T01:00:01Z",
            "receivedAt": "2020-01-01T00:00:01Z",
        }
    )
    assert event.timestamp == datetime(2020, 1, 1, tzinfo=UTC)


def test_batch_merges_the_envelope_into_items_with_the_item_winning() -> None:
    batch = decode_batch(
        {
            "batch": [
                {
                    "type": "track",
                    "event": "E",
                    "userId": "u",
                    "context": {"ip": "1.2.3.4"},
                    "integrations": {"Intercom": {"user_hash": "h"}},
                },
                {"type": "track", "userId": "u"},
                "not an object",
                {"type": "identify", "anonymousId": "a", "timestamp": "2026-11-28T22:50:50Z"},
            ],
            "context": {"ip": "9.9.9.9", "library": {"name": "x"}},
            "integrations": {"All": False, "Intercom": True},
            "sentAt": "2026-11-28T22:50:51Z",
        },
        received_at=RECEIVED,
        make_message_id=lambda: "m",
    )
    assert isinstance(batch, Batch)
    first, second = batch.events
    assert first.context == {"ip": "1.2.3.4", "library": {"name": "x"}}
    assert first.integrations == {"All": False, "Intercom": {"user_hash": "h"}}
    assert second.timestamp == datetime(2026, 11, 28, 22, 50, 51, tzinfo=UTC)
    assert [(r.index, str(r.error)) for r in batch.rejected] == [
        (1, "track.event: missing"),
        (2, "batch[2]: must be an object"),
    ]


def test_an_envelope_sent_at_too_far_to_correct_rejects_only_the_events_it_corrects() -> None:
    # The envelope's sentAt is each event's, as Segment defines it: an event with a
    # timestamp cannot be corrected with it, one without happened when it arrived.
    batch = decode_batch(
        {
            "batch": [
                {"type": "identify", "userId": "u", "timestamp": "2026-11-28T22:50:50Z"},
                {"type": "identify", "userId": "u"},
            ],
            "sentAt": "9999-12-31T23:59:59Z",
        },
        received_at=RECEIVED,
        make_message_id=lambda: "m",
    )
    assert isinstance(batch, Batch)
    assert [event.timestamp for event in batch.events] == [RECEIVED]
    assert [(r.index, str(r.error)) for r in batch.rejected] == [
        (0, "sentAt: too far from timestamp: corrected for clock skew, outside years 1-9999")
    ]


@pytest.mark.parametrize("envelope", [{}, {"batch": {}}])
def test_a_batch_without_an_array_is_invalid(envelope: dict[str, Any]) -> None:
    result = decode_batch(envelope, received_at=RECEIVED, make_message_id=lambda: "m")
    assert isinstance(result, InvalidEvent)
    assert result.field == "batch"


KINDS = {
    "identify": Identify,
    "track": Track,
    "page": Page,
    "screen": Screen,
    "group": Group,
    "alias": Alias,
}


@pytest.mark.parametrize(("name", "capture"), event_captures())
def test_every_recorded_client_request_decodes(name: str, capture: dict[str, Any]) -> None:
    body = capture["body"]
    items = body.get("batch", [body])
    batch = decode_batch(
        {**body, "batch": items}, received_at=RECEIVED, make_message_id=lambda: "generated"
    )
    assert isinstance(batch, Batch)
    assert batch.rejected == []
    for item, event in zip(items, batch.events, strict=True):
        assert isinstance(event, KINDS[item["type"]])
        assert event.message_id == item["messageId"]
        assert event.user_id == item.get("userId")
        assert event.anonymous_id == item.get("anonymousId")


def test_the_stored_form_decodes_to_the_same_event_later() -> None:
    sent = {
        "type": "track",
        "event": "E",
        "userId": "u",
        "timestamp": "2026-11-28T23:50:50Z",
        "sentAt": "2026-11-28T23:50:51Z",
        "writeKey": "secret",
        "properties": {"a": 1},
    }
    event = decode(sent)
    form = stored_form(event)
    assert "writeKey" not in form
    assert form["originalTimestamp"] == "2026-11-28T23:50:50Z"
    later = decode_event(form, received_at=event.received_at, make_message_id=lambda: "other")
    assert isinstance(later, Track)
    # the same event in every field but the raw form it was read from
    assert msgspec.structs.replace(later, raw=event.raw) == event
    assert later.timestamp == datetime(2026, 11, 28, 22, 50, 51, tzinfo=UTC)


def for_storage(obj: dict[str, Any], sent_at: object = None) -> Any:
    return Arrival(RECEIVED, lambda: "generated", sent_at).decode_for_storage(obj)


STORABLE = [
    *(
        item
        for _, capture in event_captures()
        for item in capture["body"].get("batch", [capture["body"]])
    ),
    {"type": "Track", "event": "E", "userId": 7, "timestamp": None, "writeKey": "k"},
    {"type": "identify", "anonymousId": "a", "originalTimestamp": "2026-11-28T23:50:50+01:00"},
    {
        "type": "page",
        "userId": "u",
        "timestamp": "2020-01-01T00:00:00Z",
        "receivedAt": "2020-01-01T00:00:01Z",
        "_metadata": {"bundled": []},
    },
    {"type": "group", "userId": "u", "groupId": 5, "traits": {"name": "G"}},
    {"type": "alias", "userId": "u", "previousId": "p", "messageId": "m"},
]


@pytest.mark.parametrize("obj", STORABLE)
def test_decoding_for_storage_gives_the_stored_form_of_the_decoded_event(
    obj: dict[str, Any],
) -> None:
    # a batch's sentAt, which an event's own overrides
    sent_at = "2026-11-28T22:50:51.5Z"
    event = decode_event(
        obj, received_at=RECEIVED, make_message_id=lambda: "generated", sent_at=sent_at
    )
    assert not isinstance(event, InvalidEvent)

    stored = for_storage(dict(obj), sent_at=sent_at)

    assert stored == StoredForm(
        event.type, event.message_id, event.user_id, event.anonymous_id, stored_form(event)
    )
    # the same text, keys in the same order
    assert msgspec.json.encode(stored.document) == msgspec.json.encode(stored_form(event))


@pytest.mark.parametrize(("obj", "message"), INVALID)
def test_decoding_for_storage_refuses_what_decoding_refuses(
    obj: dict[str, Any], message: str
) -> None:
    sent = dict(obj)

    error = for_storage(sent)

    assert error == decode(obj)
    assert str(error) == message
    assert sent == obj


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "track", "event": "E", "userId": "u\x001"}, "userId"),
        ({"type": "track", "event": "E", "anonymousId": "\x00"}, "anonymousId"),
        ({"type": "track", "event": "E", "userId": "u", "messageId": "m\x00"}, "messageId"),
        ({"type": "track", "event": "E\x00", "userId": "u"}, "track.event"),
        ({"type": "page", "category": "C\x00", "userId": "u"}, "page.category"),
        ({"type": "group", "groupId": "g\x00", "userId": "u"}, "group.groupId"),
        ({"type": "alias", "previousId": "p\x00", "userId": "u"}, "alias.previousId"),
    ],
)
def test_a_nul_in_an_id_or_a_name_rejects_the_event(fields: dict[str, Any], field: str) -> None:
    # The ids and names are columns of the store, and PostgreSQL's text holds no NUL: every
    # store refuses them alike, here, rather than PostgreSQL alone failing the whole batch.
    assert decode(fields) == InvalidEvent(field, "must not contain NUL (\\u0000)")
    arrival = Arrival(RECEIVED, lambda: "generated")
    assert arrival.decode_for_storage(dict(fields)) == decode(fields)
    assert arrival.decode_plain_for_storage(msgspec.json.encode(fields)) is None


def test_a_nul_in_properties_or_traits_is_kept() -> None:
    properties = {"note\x00": "a\x00b", "nested": {"k": ["\x00"]}}
    event = decode({"type": "track", "event": "E", "userId": "u", "properties": properties})

    assert event.properties == properties
    assert msgspec.json.decode(msgspec.json.encode(stored_form(event)))["properties"] == properties
