"""Search filters by field type: operators, values, and timestamps matched by UTC day."""

from __future__ import annotations

from typing import Any

import pytest

from intercom_destination.sandbox.errors import ApiError
from intercom_destination.sandbox.search import compile_query

DAY = 86_400
MIDNIGHT = 1_700_006_400  # 2023-11-15 00:00 UTC: a day starts here
ROW = {
    "email": "ada@example.com",
    "name": None,
    "owner_id": 7,
    "created_at": MIDNIGHT + 3_600,
    "unsubscribed_from_emails": False,
    "custom_attributes.seats": 12,
    "custom_attributes.ratio": 0.5,
    "custom_attributes.renews": MIDNIGHT,
}
CUSTOM = {"seats": "integer", "ratio": "float", "renews": "date", "tier": "options"}


def matches(field: str, operator: str, value: Any) -> bool:
    query = {"field": field, "operator": operator, "value": value}
    return compile_query(query, CUSTOM)(ROW)


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("email", "=", "ada@example.com", True),
        ("email", "=", "ADA@example.com", False),
        ("email", "!=", "bob@example.com", True),
        ("email", "IN", ["bob@example.com", "ada@example.com"], True),
        ("email", "NIN", ["ada@example.com"], False),
        ("email", "~", "@example", True),
        ("email", "!~", "@example", False),
        ("email", "^", "ada", True),
        ("email", "$", ".org", False),
        ("name", "=", None, True),
        ("name", "!=", None, False),
        ("name", "~", "a", False),
        ("name", "!~", "a", True),
        ("owner_id", ">", 6, True),
        ("owner_id", ">=", 7, True),
        ("owner_id", "<", 7, False),
        ("owner_id", "<=", 7, True),
        ("unsubscribed_from_emails", "=", False, True),
        ("custom_attributes.seats", "IN", [11, 12], True),
        ("custom_attributes.ratio", "<", 1, True),
        ("custom_attributes.renews", "=", MIDNIGHT + DAY - 1, True),
        ("created_at", "=", MIDNIGHT, True),
        ("created_at", "=", str(MIDNIGHT + 60), True),
        ("created_at", ">", MIDNIGHT - 1, True),
        ("created_at", ">", MIDNIGHT + 7_200, False),
        ("created_at", "<", MIDNIGHT + DAY, True),
        ("created_at", "<", MIDNIGHT + 7_200, False),
    ],
)
def test_filters(field: str, operator: str, value: Any, expected: bool) -> None:
    assert matches(field, operator, value) is expected


@pytest.mark.parametrize(
    ("field", "operator", "value"),
    [
        ("created_at", ">=", MIDNIGHT),
        ("created_at", "IN", [MIDNIGHT]),
        ("email", ">", "a"),
        ("owner_id", "~", "7"),
        ("owner_id", "=", "seven"),
        ("unsubscribed_from_emails", "=", "no"),
        ("email", "IN", "ada@example.com"),
        ("custom_attributes.unknown", "=", "x"),
        ("custom_attributes.tier", "<", "x"),
        ("last_request_at", "=", 1),
    ],
)
def test_filters_intercom_refuses(field: str, operator: str, value: Any) -> None:
    with pytest.raises(ApiError) as raised:
        matches(field, operator, value)
    assert (raised.value.status, raised.value.errors[0].code) == (400, "parameter_invalid")
