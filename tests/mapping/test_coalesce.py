"""Coalescing a lane's plans leaves Intercom as sending them one by one would (hypothesis, on
a model of what Intercom keeps), in fewer contact and company calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from intercom_destination.delivery import company_state
from intercom_destination.delivery.company_state import CompanyState
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
from intercom_destination.mapping.coalesce import Coalesced, Fold, RunItem, coalesce
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
        "company": st.fixed_dictionaries(
            {"id": st.sampled_from(["c1", "c2"])},
            optional={"plan": st.sampled_from(["free", "pro"]), "employees": st.integers(1, 3)},
        ),
    },
)
company_traits = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["Initech", "Initrode"]),
        "plan": st.sampled_from(["free", "pro"]),
        "tier": st.sampled_from(["gold", "silver"]),
        "seats": st.integers(1, 3),
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
    st.builds(
        lambda company, t: {"type": "group", "userId": "u1", "groupId": company, "traits": t},
        st.sampled_from(["c1", "c1", "c2"]),
        company_traits,
    ),
)
#: Events with the minute (after START) of their timestamp: a lane's events are in the order
#: they arrived, which their timestamps need not follow.
timed_events = st.lists(st.tuples(segment_events, st.integers(0, 4)), max_size=12)


def planned(objects: list[dict[str, Any]], minutes: list[int] | None = None) -> list[RunItem]:
    items = []
    for index, obj in enumerate(objects):
        when = START + timedelta(minutes=index if minutes is None else minutes[index])
        event = decode_event(
            {**obj, "timestamp": when.isoformat()}, received_at=START, make_message_id=str
        )
        assert not isinstance(event, InvalidEvent)
        visitor = event.anonymous_id if isinstance(event, Identify) else None
        items.append(RunItem(plan=plan(event, OPTIONS), visitor=visitor, at=when.timestamp()))
    return items


def intercom_after(plans: list[Plan | Skip], run: list[RunItem]) -> dict[str, Any]:
    """What Intercom holds after the plans (of the run's events) are executed in order:
    contacts' fields (custom attributes merged key by key), events in order, attachments,
    and companies as the executor leaves them, each upsert merged into the company's state
    at its event's time."""
    contacts: dict[Any, dict[str, Any]] = {}
    events: list[tuple[Any, str]] = []
    attached: dict[tuple[Any, str], bool] = {}
    companies: dict[str, CompanyState] = {}
    for each, item in zip(plans, run, strict=True):
        if isinstance(each, Skip):
            continue
        for operation in each.operations:
            match operation:
                case UpsertContact():
                    key = operation.contact.identity
                    for body in (operation.body, *operation.folded):
                        contacts[key] = updated(contacts.get(key, {}), body)
                case CreateEvent():
                    events.append((operation.contact.identity, operation.body["event_name"]))
                case UpsertCompany():
                    state = companies.get(operation.company_id, CompanyState())
                    state = company_state.merge(state, item.at, operation.body)
                    for folded in operation.folded:
                        state = company_state.merge(state, folded.at, folded.body)
                    companies[operation.company_id] = state
                case AttachCompany():
                    attached[(operation.contact.identity, operation.company_id)] = True
                case DetachCompany():
                    attached[(operation.contact.identity, operation.company_id)] = False
    return {
        "contacts": contacts,
        "events": events,
        "attached": attached,
        "companies": {
            company_id: company_state.body(company_id, state)
            for company_id, state in companies.items()
        },
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


def upserts(plans: tuple[Plan | Skip, ...] | list[Plan | Skip], kind: type) -> int:
    return sum(
        isinstance(operation, kind)
        for each in plans
        if isinstance(each, Plan)
        for operation in each.operations
    )


def contact_calls(plans: tuple[Plan | Skip, ...] | list[Plan | Skip]) -> int:
    return upserts(plans, UpsertContact)


@given(timed_events)
def test_a_coalesced_lane_leaves_intercom_as_one_by_one_would(
    timed: list[tuple[dict[str, Any], int]],
) -> None:
    run = planned([obj for obj, _ in timed], [minute for _, minute in timed])
    one_by_one = [item.plan for item in run]

    coalesced = coalesce(run)

    assert intercom_after(list(coalesced.plans), run) == intercom_after(one_by_one, run)
    assert contact_calls(coalesced.plans) <= contact_calls(one_by_one)
    assert upserts(coalesced.plans, UpsertCompany) <= upserts(one_by_one, UpsertCompany)


@given(timed_events)
def test_every_prefix_of_a_coalesced_lane_holds_at_least_what_it_says(
    timed: list[tuple[dict[str, Any], int]],
) -> None:
    # A run can stop at any event (a failure, events put back in the lane): what was sent by
    # then holds each event's own values up to there, later ones possibly too, and the
    # events that were not finished are sent again afterwards, so the end state is right.
    run = planned([obj for obj, _ in timed], [minute for _, minute in timed])
    coalesced = coalesce(run)
    one_by_one = intercom_after([item.plan for item in run], run)
    for stop in range(len(run) + 1):
        resumed = list(coalesced.plans[:stop]) + [item.plan for item in run[stop:]]
        assert intercom_after(resumed, run) == one_by_one


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
    assert upsert.body["custom_attributes"] == {"plan": "free", "logins": 1}
    assert [body["custom_attributes"] for body in upsert.folded] == [
        {"logins": 2},
        {"plan": "pro"},
    ]
    assert upsert.folded[-1]["last_seen_at"] == int((START + timedelta(minutes=3)).timestamp())
    assert coalesced.folded_into == ((), (), (Fold("contact", 0),), (Fold("contact", 0),))
    assert coalesced.carries == (True, False, False, False)


def test_a_companys_consecutive_upserts_go_with_the_first_each_at_its_time() -> None:
    run = planned(
        [
            {"type": "group", "userId": "u1", "groupId": "c1", "traits": {"plan": "free"}},
            {"type": "track", "userId": "u1", "event": "Logged In"},
            {"type": "group", "userId": "u1", "groupId": "c1", "traits": {"plan": "pro"}},
            {"type": "group", "userId": "u1", "groupId": "c2", "traits": {"plan": "team"}},
            {"type": "group", "userId": "u1", "groupId": "c1", "traits": {"seats": 3}},
        ],
        [3, 4, 1, 5, 6],
    )

    coalesced = coalesce(run)

    assert upserts(coalesced.plans, UpsertCompany) == 3
    first = coalesced.plans[0]
    assert isinstance(first, Plan)
    upsert, attach = first.operations
    assert isinstance(upsert, UpsertCompany)
    assert isinstance(attach, AttachCompany)
    [folded] = upsert.folded
    assert (folded.at, folded.body["plan"]) == (run[2].at, "pro")
    # Its attachment stays where it was; an upsert of another company ends the stretch.
    third = coalesced.plans[2]
    assert isinstance(third, Plan)
    assert [type(o) for o in third.operations] == [AttachCompany]
    assert coalesced.folded_into == ((), (), (Fold("company", 0),), (), ())
    assert coalesced.carries == (True, False, False, False, False)
    # The older event's plan does not win though merged later.
    assert intercom_after(list(coalesced.plans), run)["companies"]["c1"]["plan"] == "free"


def test_an_identify_linking_another_visitor_is_not_folded() -> None:
    run = planned(
        [
            {"type": "identify", "userId": "u1", "traits": {"plan": "free"}},
            {"type": "identify", "userId": "u1", "anonymousId": "v1", "traits": {"plan": "pro"}},
        ]
    )

    assert coalesce(run).folded_into == ((), ())
