from __future__ import annotations

import pytest

from intercom_destination.store.shapes import of_shape, reason_shape


@pytest.mark.parametrize(
    ("reason", "shape"),
    [
        ("the identify of user 'd1' never came", "the identify of user '…' never came"),
        ('user "o\'brien" is not identified', "user '…' is not identified"),
        ("event 'a\\\\b\\'c\"' was not sent", "event '…' was not sent"),
        ('400 {"type": "error.list"}', "400 {'…': '…'}"),
        ("Intercom didn't answer for 'd1'", "Intercom didn't answer for '…'"),
        ("500 Internal Server Error", "500 Internal Server Error"),
        ("404 after 3 attempts", "404 after 3 attempts"),
    ],
)
def test_a_shape_replaces_each_quoted_value_and_keeps_numbers(reason: str, shape: str) -> None:
    assert reason_shape(reason) == shape


def test_of_shape_picks_the_distinct_reasons_of_a_shape() -> None:
    reasons = ["user 'b' gone", None, "user 'a' gone", "user 'a' gone", "404 user 'c'"]
    assert of_shape(reasons, "user '…' gone") == ["user 'a' gone", "user 'b' gone"]
