"""The merged state of a company: per field, the newest event that set it."""

from __future__ import annotations

import itertools
from typing import Any

from intercom_destination.delivery.company_state import (
    CompanyState,
    body,
    changes,
    decode,
    encode,
    merge,
    values_differ,
    withdraw,
)

UPSERTS: list[tuple[float, dict[str, Any]]] = [
    (10.0, {"company_id": "c-1", "plan": "free", "size": 10, "industry": "Retail"}),
    (20.0, {"company_id": "c-1", "plan": "team", "custom_attributes": {"seats": 3, "tier": "b"}}),
    (30.0, {"company_id": "c-1", "size": 50, "custom_attributes": {"seats": 9}}),
]


def merged(upserts: list[tuple[float, dict[str, Any]]]) -> CompanyState:
    state = CompanyState()
    for at, sent in upserts:
        state = merge(state, at, sent)
    return state


def test_each_field_ends_as_the_newest_event_that_set_it_in_any_order() -> None:
    for order in itertools.permutations(UPSERTS):
        assert body("c-1", merged(list(order))) == {
            "company_id": "c-1",
            "plan": "team",
            "size": 50,
            "industry": "Retail",
            "custom_attributes": {"seats": 9, "tier": "b"},
        }


def test_an_older_event_changes_nothing_a_newer_one_set() -> None:
    newest = merged(UPSERTS)

    assert merge(newest, 5.0, {"company_id": "c-1", "plan": "free", "size": 1}) == newest


def test_the_same_value_from_a_newer_event_moves_only_its_time() -> None:
    # An event at 25 says plan "team" again: a later-delivered event at 22 must not win.
    state = merge(merged(UPSERTS), 25.0, {"company_id": "c-1", "plan": "team"})

    assert not values_differ(merged(UPSERTS), state)
    assert body("c-1", merge(state, 22.0, {"plan": "business"}))["plan"] == "team"


def test_at_equal_times_the_event_merged_later_wins() -> None:
    state = merge(merged(UPSERTS), 20.0, {"plan": "business"})

    assert body("c-1", state)["plan"] == "business"
    assert values_differ(merged(UPSERTS), state)


def test_withdrawing_an_event_removes_only_the_values_it_set() -> None:
    refused = {"company_id": "c-1", "plan": "team", "size": 7, "custom_attributes": {"tier": "b"}}

    # The event at 20 set plan and tier; size 7 was never its value in the state.
    assert body("c-1", withdraw(merged(UPSERTS), 20.0, refused)) == {
        "company_id": "c-1",
        "size": 50,
        "industry": "Retail",
        "custom_attributes": {"seats": 9},
    }


def test_a_state_survives_its_bytes() -> None:
    state = merged(UPSERTS)

    assert decode(encode(state)) == state
    assert decode(encode(CompanyState())) == CompanyState()


def test_changes_name_what_differs_from_what_intercom_holds_and_what_they_cover() -> None:
    held = merged(UPSERTS[:2])
    state = merged([*UPSERTS, (40.0, {"company_id": "c-1", "custom_attributes": {"tier": 1}})])

    assert changes("c-1", state, None, covering={}) == body("c-1", state)
    assert changes("c-1", state, held, covering={}) == {
        "company_id": "c-1",
        "size": 50,
        "custom_attributes": {"seats": 9, "tier": 1},
    }
    covering = {"company_id": "c-1", "plan": "x", "custom_attributes": {"tier": "x"}}
    assert changes("c-1", merged(UPSERTS[:2]), held, covering=covering) == {
        "company_id": "c-1",
        "plan": "team",
        "custom_attributes": {"tier": "b"},
    }
    assert changes("c-1", held, held, covering={}) == {"company_id": "c-1"}
