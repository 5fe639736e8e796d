"""Coalescing a lane's plans leaves Intercom as sending them one by one would (hypothesis, on
a model of what Intercom keeps), in fewer contact calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from intercom_destination.mapping import (
    AttachCompany,
    CreateEvent,
    DetachCompany,
    Plan,
    Skip,
    UpsertCompany,
    UpsertContact,
    plan,
)
from intercom_destination.mapping.coalesce import Coalesced, RunItem, coalesce
from intercom_destination.settings import Settings
from intercom_destination.spec import Identify, InvalidEvent, decode_event

OPTIONS = Settings(send_nulls=True).mapping_options
START = datetime(2026, 11, 28, tzinfo=UTC)

traits = st.fixed_dictionaries(
    {},
    optional={
        "email": st.sampled_from(["ada@example.com", "ada@example.org"]),
        "name": st.sampled_from(["Ada", "Ada L."]),
        "plan": st.sampled_from(["free", "pro", None]),
        "logins": st.integers(0, 3),
        "beta": st.booleans(),
        "company": st.fixed_dictionaries({"id": st.sampled_from(["c1", "c2"])}),
    },
)
segment_events = st.one_of(
    st.builds(
        lambda t, anonymous, active: {
            "type": "identify",
            "userId": "u1",
            "traits": t,
            **({"anonymousId": anonymous} if anonymous else {}),
            **({} if active else {"context": {"active": False}}),
        },
        traits,
        st.sampled_from([None, None, "visitor-1", "visitor-2"]),
        st.booleans(),
    ),
    st.builds(
        lambda name: {"type": "track", "userId": "u1", "event": name},
        st.sampled_from(["Signed Up", "Logged In"]),
    ),
    st.builds(
        lambda company, remove: {
            "type": "identify",
            "userId": "u1",
            "traits": {"company": {"id": company, "remove": remove}},
        },
        st.sampled_from(["c1", "c2"]),
        st.booleans(),
    ),
)


def planned(objects: list[dict[str, Any]]) -> list[RunItem]:
    items = []
    for second, obj in enumerate(objects):
        at = (START + timedelta(minutes=second)).isoformat()
        event = decode_event({**obj, "timestamp": at}, received_at=START, make_message_id=str)
        assert not isinstance(event, InvalidEvent)
        visitor = event.anonymous_id if isinstance(event, Identify) else None
        items.append(RunItem(plan=plan(event, OPTIONS), visitor=visitor))
    return items


def intercom_after(plans: list[Plan | Skip]) -> dict[str, Any]:
    """What Intercom holds after the plans' operations, in order: contacts' fields (custom
    attributes merged key by key), events in order, attachments, companies' fields."""
    contacts: dict[Any, dict[str, Any]] = {}
    events: list[tuple[Any, str]] = []
    attached: dict[tuple[Any, str], bool] = {}
    companies: dict[str, dict[str, Any]] = {}
    for each in plans:
        if isinstance(each, Skip):
            continue
        for operation in each.operations:
            match operation:
                case UpsertContact():
                    key = operation.contact.identity
                    contacts[key] = updated(contacts.get(key, {}), operation.body)
                case CreateEvent():
                    events.append((operation.contact.identity, operation.body["event_name"]))
                case UpsertCompany():
                    companies[operation.company_id] = updated(
                        companies.get(operation.company_id, {}), operation.body
                    )
                case AttachCompany():
                    attached[(operation.contact.identity, operation.company_id)] = True
                case DetachCompany():
                    attached[(operation.contact.identity, operation.company_id)] = False
    return {
        "contacts": contacts,
        "events": events,
        "attached": attached,
        "companies": companies,
    }


def updated(held: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """What Intercom holds after a create or update with `body`: the fields it names are set,
    others left; custom attributes likewise, one by one (as the sandbox does)."""
    after = {**held, **body}
    after["custom_attributes"] = {
        **held.get("custom_attributes", {}),
        **body.get("custom_attributes", {}),
    }
    return after


def contact_calls(plans: tuple[Plan | Skip, ...] | list[Plan | Skip]) -> int:
    return sum(
        isinstance(operation, UpsertContact)
        for each in plans
        if isinstance(each, Plan)
        for operation in each.operations
    )


@given(st.lists(segment_events, max_size=12))
def test_a_coalesced_lane_leaves_intercom_as_one_by_one_would(objects: list[Any]) -> None:
    run = planned(objects)
    one_by_one = [item.plan for item in run]

    coalesced = coalesce(run)

    assert intercom_after(list(coalesced.plans)) == intercom_after(one_by_one)
    assert contact_calls(coalesced.plans) <= contact_calls(one_by_one)


@given(st.lists(segment_events, max_size=12))
def test_every_prefix_of_a_coalesced_lane_holds_at_least_what_it_says(objects: list[Any]) -> None:
    # A run can stop at any event (a failure, events put back in the lane): what was sent by
    # then holds each event's own values up to there, later ones possibly too, and the
    # events that were not finished are sent again afterwards, so the end state is right.
    run = planned(objects)
    coalesced = coalesce(run)
    for stop in range(len(run) + 1):
        resumed = list(coalesced.plans[:stop]) + [item.plan for item in run[stop:]]
        assert intercom_after(resumed) == intercom_after([item.plan for item in run])


def test_consecutive_identifies_become_one_upsert_carried_by_the_first() -> None:
    run = planned(
        [
            {"type": "identify", "userId": "u1", "traits": {"plan": "free", "logins": 1}},
            {"type": "track", "userId": "u1", "event": "Logged In"},
            {"type": "identify", "userId": "u1", "traits": {"logins": 2}},
            {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
        ]
    )

    coalesced = coalesce(run)

    assert isinstance(coalesced, Coalesced)
    assert contact_calls(coalesced.plans) == 1
    first = coalesced.plans[0]
    assert isinstance(first, Plan)
    [upsert] = first.operations
    assert isinstance(upsert, UpsertContact)
    assert upsert.body["custom_attributes"] == {"plan": "pro", "logins": 2}
    assert upsert.body["last_seen_at"] == int((START + timedelta(minutes=3)).timestamp())
    assert coalesced.folded_into == (None, None, 0, 0)
    assert coalesced.carries == (True, False, False, False)


def test_an_identify_linking_another_visitor_is_not_folded() -> None:
    run = planned(
        [
            {"type": "identify", "userId": "u1", "traits": {"plan": "free"}},
            {"type": "identify", "userId": "u1", "anonymousId": "v1", "traits": {"plan": "pro"}},
        ]
    )

    assert coalesce(run).folded_into == (None, None)
