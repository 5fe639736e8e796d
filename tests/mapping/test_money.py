"""Amounts no price can hold are plain metadata, not a planner crash."""

from typing import Any

import pytest

from intercom_destination.mapping.money import cents
from tests.mapping.cases import operations, warnings

BASE = {"type": "track", "userId": "u1", "event": "Order Completed"}


@pytest.mark.parametrize("revenue", [1e300, "1e40", 10**30])
def test_an_amount_past_decimal_precision_stays_plain_metadata(revenue: Any) -> None:
    obj = {**BASE, "properties": {"revenue": revenue}}
    [op] = operations(obj)
    assert op["body"]["metadata"] == {"revenue": revenue}
    assert warnings(obj) == [
        f"revenue {revenue!r} sent as plain metadata: Intercom's price needs an amount of "
        "zero or more"
    ]


def test_the_largest_amount_that_rounds_is_still_cents() -> None:
    assert cents("9" * 26) == int("9" * 26) * 100
