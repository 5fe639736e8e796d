"""Which anonymous visitor an event links to its user: the one decision both an alias and an
identify go through."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intercom_destination.delivery.visitors import named_visitor
from intercom_destination.spec import InvalidEvent, decode_event

RECEIVED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def event(**fields: Any) -> Any:
    decoded = decode_event(fields, received_at=RECEIVED, make_message_id=lambda: "m")
    assert not isinstance(decoded, InvalidEvent)
    return decoded


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"type": "alias", "previousId": "a1", "userId": "u1"}, ("a1", "u1")),
        ({"type": "identify", "anonymousId": "a1", "userId": "u1"}, ("a1", "u1")),
        ({"type": "identify", "anonymousId": "u1", "userId": "u1"}, None),
        ({"type": "identify", "userId": "u1"}, None),
        ({"type": "identify", "anonymousId": "a1"}, None),
        ({"type": "track", "event": "E", "anonymousId": "a1", "userId": "u1"}, None),
    ],
)
def test_an_alias_or_an_identify_names_the_visitor_it_links(
    fields: dict[str, Any], named: tuple[str, str] | None
) -> None:
    assert named_visitor(event(**fields)) == named
