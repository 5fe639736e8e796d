"""The plain way of reading an event (`spec.plain`, `Arrival.decode_plain_for_storage`) gives
what the general way gives, or leaves the event to it."""

from typing import Any

import msgspec
import pytest

from intercom_destination.spec.decode import Arrival, StoredForm
from tests.spec.test_decode import INVALID, RECEIVED, STORABLE

SENT_AT = "2026-11-28T22:50:51.5Z"

PLAIN = [
    {
        "type": "track",
        "event": "Order Completed",
        "userId": "u",
        "messageId": "m1",
        "timestamp": "2026-11-28T22:50:50.250Z",
        "properties": {"revenue": 12.50, "items": [{"sku": "a"}], "note": None},
        "context": {"ip": "10.0.0.1", "library": {"name": "analytics-python"}},
        "integrations": {"All": True},
        "writeKey": "secret",
        "_metadata": {"nodeVersion": "20"},
        "custom": [1, 2.0, "three"],
    },
    {"type": "identify", "anonymousId": "a", "originalTimestamp": "2026-11-28T23:50:50+01:00"},
    {"type": "identify", "userId": "u", "traits": {}, "context": {"traits": {"plan": "pro"}}},
    {"type": "page", "userId": "", "anonymousId": "a", "name": "Home", "category": None},
    {"type": "screen", "userId": "u", "messageId": "", "properties": None},
    {"type": "group", "userId": "u", "groupId": "g", "traits": {"name": "G"}},
    {"type": "alias", "userId": "u", "previousId": "p", "messageId": "x" * 99},
    {
        "type": "track",
        "event": "E",
        "anonymousId": "a",
        "timestamp": "2026-11-28T22:50:50Z",
        "originalTimestamp": "2026-11-28T21:00:00Z",
    },
    # timestamps as `parse_timestamp` reads them, however lenient
    {"type": "identify", "userId": "u", "timestamp": " 2015-2-02T00:30:08.276Z"},
    {"type": "identify", "userId": "u", "timestamp": "1764370250"},
]

NOT_PLAIN = [
    # valid, but read the general way
    {"type": "Track", "event": "E", "userId": "u"},
    {"type": "identify", "userId": 42},
    {"type": "group", "userId": "u", "groupId": 5},
    {"type": "identify", "userId": "u", "timestamp": None},
    {"type": "identify", "userId": "u", "timestamp": 1764370250},
    {"type": "identify", "userId": "u", "sentAt": "2026-11-28T22:50:51Z"},
    {"type": "identify", "userId": "u", "receivedAt": "2026-11-28T22:50:51Z"},
    # invalid: the general way names the problem
    *(obj for obj, _ in INVALID),
    {"type": "track", "userId": "u", "event": ""},
    {"type": "identify", "userId": "u", "originalTimestamp": "later"},
    # corrected with SENT_AT, later than the year 9999
    {"type": "identify", "userId": "u", "timestamp": "9999-12-31T23:59:59.9Z"},
    {"type": "page", "userId": "u", "properties": "none"},
    {"type": "alias", "userId": "", "anonymousId": "a", "previousId": "p"},
]


def arrival() -> Arrival:
    return Arrival(RECEIVED, lambda: "generated", SENT_AT)


@pytest.mark.parametrize("obj", [*PLAIN, *STORABLE])
def test_a_plain_event_is_stored_as_the_general_way_stores_it(obj: dict[str, Any]) -> None:
    general = arrival().decode_for_storage(dict(obj))
    assert isinstance(general, StoredForm)

    plain = arrival().decode_plain_for_storage(msgspec.json.encode(obj))

    if plain is None:
        return  # left to the general way, which NOT_PLAIN's test holds to
    assert msgspec.structs.replace(plain, document={}) == msgspec.structs.replace(
        general, document={}
    )
    # The same document, keys in the same order, its values as they came.
    document = msgspec.json.decode(msgspec.json.encode(plain.document))
    assert document == general.document
    assert list(document) == list(general.document)


def test_plain_events_are_read_the_plain_way() -> None:
    read = [arrival().decode_plain_for_storage(msgspec.json.encode(obj)) for obj in PLAIN]
    assert None not in read


@pytest.mark.parametrize("obj", NOT_PLAIN)
def test_other_events_are_left_to_the_general_way(obj: dict[str, Any]) -> None:
    assert arrival().decode_plain_for_storage(msgspec.json.encode(obj)) is None


def test_values_are_stored_as_they_came() -> None:
    event = b'{"type":"track","event":"E","userId":"u","properties":{"price": 1.50}}'

    plain = arrival().decode_plain_for_storage(event)

    assert plain is not None
    assert b'"properties":{"price": 1.50}' in msgspec.json.encode(plain.document)


def test_a_json_that_is_not_an_object_is_left_to_the_general_way() -> None:
    assert arrival().decode_plain_for_storage(b"[1, 2]") is None
    assert arrival().decode_plain_for_storage(b'{"type": "track",') is None
