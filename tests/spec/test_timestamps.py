from datetime import UTC, datetime, timedelta, timezone

import pytest

from intercom_destination.spec.timestamps import (
    corrected_timestamp,
    isoformat,
    parse_timestamp,
    unix_seconds,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # analytics-python: milliseconds and an explicit offset
        ("2026-11-28T22:50:51.322+00:00", datetime(2026, 11, 28, 22, 50, 51, 322000, UTC)),
        # analytics-python sentAt: microseconds
        ("2026-11-28T22:50:51.522992+00:00", datetime(2026, 11, 28, 22, 50, 51, 522992, UTC)),
        # node and analytics.js: Z
        ("2026-11-28T22:52:40.165Z", datetime(2026, 11, 28, 22, 52, 40, 165000, UTC)),
        # no offset at all: UTC, as the spec says every timestamp is
        ("2026-11-28T22:52:40", datetime(2026, 11, 28, 22, 52, 40, tzinfo=UTC)),
        # another offset is converted to UTC
        ("2026-11-28T23:52:40+01:00", datetime(2026, 11, 28, 22, 52, 40, tzinfo=UTC)),
        # Segment's own batch example has an unpadded month
        ("2015-2-02T00:30:08.276Z", datetime(2015, 2, 2, 0, 30, 8, 276000, UTC)),
        ("2015-2-2 00:30:08+0130", datetime(2015, 2, 1, 23, 0, 8, tzinfo=UTC)),
        # a date alone
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        # Unix seconds and milliseconds, as numbers or digit strings
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1700000000.5, datetime(2023, 11, 14, 22, 13, 20, 500000, UTC)),
        (1700000000123, datetime(2023, 11, 14, 22, 13, 20, 123000, UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_parses_every_form_clients_send(text: object, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Mon Mar 26 2018 17:44:51 GMT+0000",
        "",
        "soon",
        True,
        None,
        {},
        "2026-13-40",
        "²",
        # in UTC, after the year 9999 or before the year 1: no datetime holds them
        "9999-12-31T23:59:59-01:00",
        "9999-12-31 23:59:59 -0100",
        "0001-01-01T00:00:00+01:00",
        "0001-1-1 00:00+01",
        # Unix numbers no float holds, and digits past what Python converts to an int
        10**400,
        "1" * 400,
        "1" * 5_000,
    ],
)
def test_unreadable_values_are_none(value: object) -> None:
    assert parse_timestamp(value) is None


def test_skew_correction_uses_sent_at_and_received_at() -> None:
    # The device clock runs 10 minutes fast: it stamped the event 2 s before sending it.
    original = datetime(2026, 11, 28, 12, 10, 0, tzinfo=UTC)
    sent_at = original + timedelta(seconds=2)
    received_at = datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC)
    assert corrected_timestamp(original, sent_at, received_at) == datetime(
        2026, 11, 28, 12, 0, 3, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("original", "sent_at"),
    [
        (datetime(9999, 12, 31, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)),
        (datetime(1, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)),
    ],
)
def test_a_correction_outside_the_years_datetime_holds_is_none(
    original: datetime, sent_at: datetime
) -> None:
    assert corrected_timestamp(original, sent_at, datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_without_sent_at_the_client_timestamp_stands() -> None:
    original = datetime(2012, 1, 1, tzinfo=UTC)
    assert corrected_timestamp(original, None, datetime(2026, 1, 1, tzinfo=UTC)) == original


def test_without_any_timestamp_the_event_happened_on_arrival() -> None:
    received_at = datetime(2026, 1, 1, tzinfo=UTC)
    assert corrected_timestamp(None, None, received_at) == received_at


def test_unix_seconds_are_whole_and_floor() -> None:
    assert unix_seconds(datetime(2023, 11, 14, 22, 13, 20, 999999, UTC)) == 1700000000
    assert unix_seconds(datetime(1969, 12, 31, 23, 59, 59, 500000, UTC)) == -1


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 28, 22, 50, 51, 322000, UTC),
        datetime(2026, 11, 28, 22, 50, 51, 1, UTC),
        # no fraction at all when there are no microseconds
        datetime(2026, 11, 28, 22, 50, 51, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, UTC),
        datetime(2026, 11, 28, 23, 50, 51, 5, timezone(timedelta(hours=1))),
        datetime(2026, 11, 28, 22, 50, 51),
    ],
)
def test_isoformat_writes_what_datetime_isoformat_writes(moment: datetime) -> None:
    assert isoformat(moment) == moment.isoformat()
