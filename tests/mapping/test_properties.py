"""Properties of the planner over arbitrary JSON-like events (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intercom_destination.intercom.schema import validate_request
from intercom_destination.mapping import (
    AttachCompany,
    CreateEvent,
    DetachCompany,
    Operation,
    Plan,
    Skip,
    UpsertCompany,
    UpsertContact,
    plan,
)
from intercom_destination.settings import Settings
from intercom_destination.spec import InvalidEvent, decode_event

RECEIVED = datetime(2026, 11, 28, tzinfo=UTC)
# Keys the mapping treats specially, so generated events hit every rule, not only custom values.
SPECIAL_KEYS = [
    "email",
    "name",
    "firstName",
    "lastName",
    "first_name",
    "phone",
    "avatar",
    "createdAt",
    "created_at",
    "signedUpAt",
    "company",
    "companies",
    "userId",
    "id",
    "anonymousId",
    "plan",
    "monthly_spend",
    "monthlySpend",
    "employees",
    "industry",
    "website",
    "revenue",
    "total",
    "currency",
    "remove",
    "url",
    "value",
    "amount",
    "price",
    "a.b",
    "$x",
    "",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300)
    | st.sampled_from(["19.99", "2023-11-14T22:13:20Z", "1700000000", "$5", "usd"])
)
keys = st.sampled_from(SPECIAL_KEYS) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=12,
)
objects = st.dictionaries(keys, json_values, max_size=14)
identifiers = st.none() | st.text(max_size=20) | st.integers() | st.sampled_from(["u1", "a1"])
events = st.fixed_dictionaries(
    {"type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias"])},
    optional={
        "userId": identifiers,
        "anonymousId": identifiers,
        "event": st.text(max_size=20) | st.integers(),
        "name": st.text(max_size=10),
        "groupId": identifiers,
        "previousId": identifiers,
        "traits": objects | json_values,
        "properties": objects | json_values,
        "timestamp": scalars,
        "context": st.fixed_dictionaries(
            {},
            optional={
                "active": st.booleans(),
                "traits": objects,
                "device": objects,
                "os": objects,
                "app": objects,
                "Intercom": objects,
            },
        )
        | json_values,
        "integrations": st.dictionaries(
            st.sampled_from(["All", "Intercom", "intercom", "Segment.io"]),
            st.booleans() | objects,
        ),
    },
)
all_settings = st.builds(
    Settings,
    collect_context=st.booleans(),
    nested=st.sampled_from(["drop", "flatten", "stringify"]),
    max_metadata_keys=st.integers(min_value=1, max_value=10),
    unidentified=st.sampled_from(["skip", "lead"]),
    anonymous=st.sampled_from(["wait", "lead", "skip"]),
    page_events=st.booleans(),
    screen_events=st.booleans(),
    send_nulls=st.booleans(),
    language_override_attribute=st.none() | st.just("language"),
)


def requests(operation: Operation) -> list[tuple[str, str, Any]]:
    """The HTTP requests an operation can become, with placeholders resolved."""
    match operation:
        case UpsertContact():
            return [
                ("POST", "/contacts", operation.body),
                ("PUT", "/contacts/5f1a", operation.body),
            ]
        case CreateEvent():
            body = {k: ("5f1a" if v == "{contact_id}" else v) for k, v in operation.body.items()}
            return [("POST", "/events", body)]
        case UpsertCompany():
            return [("POST", "/companies", operation.body)]
        case AttachCompany():
            return [("POST", "/contacts/5f1a/companies", {"id": "6b2c"})]
        case DetachCompany():
            return [("DELETE", "/contacts/5f1a/companies/6b2c", None)]


@pytest.mark.slow
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(obj=events, config=all_settings)
def test_every_event_plans_skips_or_errors_and_every_body_validates(
    obj: dict[str, Any], config: Settings
) -> None:
    event = decode_event(obj, received_at=RECEIVED, make_message_id=lambda: "m")
    if isinstance(event, InvalidEvent):
        assert event.field
        assert event.reason
        return
    result = plan(event, config.mapping_options)
    assert isinstance(result, Plan | Skip)
    if isinstance(result, Skip):
        assert result.reason
        return
    for operation in result.operations:
        for method, path, body in requests(operation):
            assert validate_request(method, path, body) == [], (method, path, body)
        if isinstance(operation, CreateEvent):
            metadata = operation.body.get("metadata", {})
            assert len(metadata) <= config.max_metadata_keys
            price = metadata.get("price")
            if isinstance(price, dict) and "amount" in price:
                assert type(price["amount"]) is int


@given(revenue=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False))
def test_two_decimal_revenue_is_exactly_its_cents(revenue: Any) -> None:
    event = decode_event(
        {"type": "track", "userId": "u", "event": "E", "properties": {"revenue": float(revenue)}},
        received_at=RECEIVED,
        make_message_id=lambda: "m",
    )
    assert not isinstance(event, InvalidEvent)
    result = plan(event, Settings().mapping_options)
    assert isinstance(result, Plan)
    [operation] = result.operations
    assert operation.body["metadata"]["price"]["amount"] == int(revenue * 100)
