"""Segment revenue (decimal dollars) as Intercom's monetary amount (integer cents)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

DEFAULT_CURRENCY = "usd"
_CENT = Decimal(1)


def cents(value: Any) -> int | None:
    """Exact integer cents for an amount in major units, or None if it is not an amount.

    Decimal arithmetic on the shortest repr of the float, so 19.99 is 1999 and never
    1998.9999999999998; numeric strings ("12.50") are accepted as clients send them.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value).strip())
        if not amount.is_finite():
            return None
        # Past 28 digits of cents the context's precision refuses to round: not an amount.
        return int((amount * 100).quantize(_CENT, rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return None


def currency_code(value: Any) -> str:
    """An ISO-4217 code in Intercom's lower case, `usd` when none is given."""
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    return DEFAULT_CURRENCY
