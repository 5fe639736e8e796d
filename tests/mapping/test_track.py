"""track: data events, revenue in cents, metadata rules; page and screen as events."""

from typing import Any

import pytest

from intercom_destination.mapping import Skip
from tests.mapping.cases import T, create_event, operations, outcome, user, warnings

BASE = {"type": "track", "userId": "u1", "event": "Order Completed"}


def metadata(properties: dict[str, Any], **settings: Any) -> dict[str, Any] | None:
    [op] = operations({**BASE, "properties": properties}, **settings)
    return op["body"].get("metadata")


def test_track_becomes_a_data_event_for_the_user() -> None:
    assert operations({**BASE, "properties": {"order_id": "o1"}}) == [
        create_event(
            user("u1"),
            {
                "event_name": "Order Completed",
                "created_at": T,
                "user_id": "u1",
                "metadata": {"order_id": "o1"},
            },
        )
    ]


@pytest.mark.parametrize(
    ("revenue", "cents"),
    [
        (19.99, 1999),
        (0.29, 29),
        (1.005, 101),  # half a cent rounds up, from the decimal the client wrote, not the float
        (14.99, 1499),
        (100, 10000),
        ("12.50", 1250),
        (0, 0),
        (1e-3, 0),
    ],
)
def test_revenue_becomes_an_exact_integer_price_in_cents(revenue: Any, cents: int) -> None:
    price = metadata({"revenue": revenue})
    assert price == {"price": {"amount": cents, "currency": "usd"}}
    assert isinstance(price["price"]["amount"], int)


def test_currency_is_carried_in_lower_case_and_not_repeated() -> None:
    assert metadata({"revenue": 10, "currency": "EUR", "sku": "s"}) == {
        "price": {"amount": 1000, "currency": "eur"},
        "sku": "s",
    }


def test_total_is_the_price_when_revenue_is_absent() -> None:
    assert metadata({"total": 5.5, "currency": "gbp"}) == {
        "price": {"amount": 550, "currency": "gbp"}
    }


def test_revenue_wins_over_total_and_total_stays_as_metadata() -> None:
    assert metadata({"total": 20, "revenue": 14.99}) == {
        "price": {"amount": 1499, "currency": "usd"},
        "total": 20,
    }


def test_currency_alone_is_plain_metadata() -> None:
    assert metadata({"currency": "usd"}) == {"currency": "usd"}


@pytest.mark.parametrize("revenue", ["$12.50", -5, "abc"])
def test_revenue_that_is_not_an_amount_stays_plain_metadata_with_a_warning(revenue: Any) -> None:
    obj = {**BASE, "properties": {"revenue": revenue}}
    [op] = operations(obj)
    assert op["body"]["metadata"] == {"revenue": revenue}
    assert warnings(obj) == [
        f"revenue {revenue!r} sent as plain metadata: Intercom's price needs an amount of zero or more"
    ]


def test_price_comes_first_and_metadata_keeps_at_most_ten_keys() -> None:
    properties = {f"k{i}": i for i in range(12)} | {"revenue": 1}
    obj = {**BASE, "properties": properties}
    assert list(metadata(properties) or {}) == ["price", *[f"k{i}" for i in range(9)]]
    assert warnings(obj) == [
        "metadata keys 'k9', 'k10', 'k11' dropped: Intercom keeps only the first 10"
    ]


def test_the_metadata_key_limit_is_a_setting() -> None:
    assert metadata({"a": 1, "b": 2, "c": 3}, max_metadata_keys=2) == {"a": 1, "b": 2}


def test_metadata_keeps_scalars_and_rich_objects_and_drops_other_nested_values() -> None:
    properties = {
        "flag": True,
        "count": 3,
        "ratio": 0.5,
        "article": {"url": "https://example.org/a", "value": "An article"},
        "refund": {"amount": 500, "currency": "usd"},
        "products": [{"sku": "a"}],
        "shipping": {"method": "air"},
        "note": None,
    }
    obj = {**BASE, "properties": properties}
    assert metadata(properties) == {
        "flag": True,
        "count": 3,
        "ratio": 0.5,
        "article": {"url": "https://example.org/a", "value": "An article"},
        "refund": {"amount": 500, "currency": "usd"},
    }
    assert warnings(obj) == [
        "metadata key 'products' dropped: Intercom cannot store an array "
        '(set nested = "flatten" or "stringify" to keep it)',
        "metadata key 'shipping' dropped: Intercom cannot store an object "
        '(set nested = "flatten" or "stringify" to keep it)',
    ]


def test_flattened_metadata_uses_underscores_never_dots() -> None:
    assert metadata({"shipping": {"method": "air", "cost": 5}}, nested="flatten") == {
        "shipping_method": "air",
        "shipping_cost": 5,
    }


def test_a_money_object_with_a_float_amount_is_not_a_rich_object() -> None:
    assert metadata({"refund": {"amount": 5.5, "currency": "usd"}}, nested="flatten") == {
        "refund_amount": 5.5,
        "refund_currency": "usd",
    }


def test_track_by_email_when_there_is_no_user_id() -> None:
    obj = {
        "type": "track",
        "anonymousId": "a1",
        "event": "Viewed",
        "properties": {"email": "e@x.io", "plan": "pro"},
    }
    assert operations(obj) == [
        create_event(
            {"role": "user", "email": "e@x.io"},
            {
                "event_name": "Viewed",
                "created_at": T,
                "email": "e@x.io",
                "metadata": {"plan": "pro"},
            },
        )
    ]


def test_track_by_context_traits_email() -> None:
    obj = {
        "type": "track",
        "anonymousId": "a1",
        "event": "E",
        "context": {"traits": {"email": "e@x.io"}},
    }
    [op] = operations(obj)
    assert op["body"] == {"event_name": "E", "created_at": T, "email": "e@x.io"}


ANONYMOUS = {"type": "track", "anonymousId": "a1", "event": "Viewed Pricing"}


def test_anonymous_track_waits_for_its_user_by_default() -> None:
    assert operations(ANONYMOUS) == [
        create_event(
            {"role": "user", "anonymous_id": "a1"},
            {"event_name": "Viewed Pricing", "created_at": T, "id": "{contact_id}"},
        )
    ]


def test_anonymous_track_can_go_to_a_lead() -> None:
    [op] = operations(ANONYMOUS, anonymous="lead")
    assert op["contact"] == {"role": "lead", "anonymous_id": "a1"}


def test_anonymous_track_can_be_skipped() -> None:
    result = outcome(ANONYMOUS, anonymous="skip")
    assert isinstance(result, Skip)
    assert result.reason.startswith(
        "track without userId or email: Intercom cannot tell whose it is"
    )


def test_the_user_id_wins_and_the_email_property_stays_metadata() -> None:
    [op] = operations({**BASE, "properties": {"email": "e@x.io"}})
    assert op["body"] == {
        "event_name": "Order Completed",
        "created_at": T,
        "user_id": "u1",
        "metadata": {"email": "e@x.io"},
    }
    assert op["contact"] == user("u1", "e@x.io")


@pytest.mark.parametrize(
    ("kind", "setting", "name", "event_name"),
    [
        ("page", "page_events", "Pricing", "Viewed Pricing Page"),
        ("page", "page_events", None, "Viewed Page"),
        ("screen", "screen_events", "Profile", "Viewed Profile Screen"),
        ("screen", "screen_events", None, "Viewed Screen"),
    ],
)
def test_page_and_screen_are_events_when_switched_on(
    kind: str, setting: str, name: str | None, event_name: str
) -> None:
    obj = {"type": kind, "userId": "u1", "name": name, "properties": {"url": "https://x.io/p"}}
    assert operations(obj, **{setting: True}) == [
        create_event(
            user("u1"),
            {
                "event_name": event_name,
                "created_at": T,
                "user_id": "u1",
                "metadata": {"url": "https://x.io/p"},
            },
        )
    ]


@pytest.mark.parametrize("kind", ["page", "screen"])
def test_page_and_screen_are_skipped_by_default(kind: str) -> None:
    result = outcome({"type": kind, "userId": "u1", "name": "Home"})
    assert isinstance(result, Skip)
    assert result.reason == (
        f"{kind}: not sent to Intercom (set {kind}_events = true to send it as a "
        f"'Viewed … {kind.capitalize()}' event)"
    )
