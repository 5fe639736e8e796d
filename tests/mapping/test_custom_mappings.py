"""Mappings the settings change: field sources, triggers, more subscriptions, filters."""

from typing import Any

from intercom_destination.mapping import Plan, Skip, route
from tests.mapping.cases import (
    T,
    create_event,
    event,
    operations,
    outcome,
    settings,
    user,
    warnings,
)

IDENTIFY = {"type": "identify", "userId": "u1"}
ORDER = {"type": "track", "userId": "u1", "event": "Order Completed"}


def identify_body(traits: dict[str, Any], **values: Any) -> dict[str, Any]:
    [upsert, *_] = operations({**IDENTIFY, "traits": traits}, **values)
    body: dict[str, Any] = upsert["body"]
    return body


def test_a_field_from_another_trait_is_not_repeated_as_a_custom_attribute() -> None:
    actions = {"identify_contact": {"mapping": {"name": {"@path": "$.traits.full_name"}}}}
    body = identify_body({"full_name": "Ada L", "name": "ignored", "plan": "pro"}, actions=actions)
    assert body["name"] == "Ada L"
    # name stays a standard trait: never a custom attribute, even when not mapped
    assert body["custom_attributes"] == {"plan": "pro"}


def test_a_directive_value_goes_through_the_fields_conversion() -> None:
    actions = {
        "identify_contact": {
            "mapping": {
                "signed_up_at": {"@path": "$.traits.joined"},
                "phone": {"@path": "$.traits.mobile"},
                "email": {"@path": "$.traits.contact"},
            }
        }
    }
    traits = {"joined": "2023-11-14T22:13:20Z", "mobile": 353871234567, "contact": {"a": 1}}
    body = identify_body(traits, actions=actions)
    assert (body["signed_up_at"], body["phone"]) == (1700000000, "353871234567")
    assert "email" not in body
    assert warnings({**IDENTIFY, "traits": traits}, actions=actions) == [
        "email {'a': 1} dropped: expected a string"
    ]


def test_external_id_from_a_trait_keys_the_contact() -> None:
    actions = {"identify_contact": {"mapping": {"external_id": {"@path": "$.traits.account"}}}}
    [upsert] = operations({**IDENTIFY, "traits": {"account": "acc-9"}}, actions=actions)
    assert upsert["contact"] == user("acc-9")
    assert upsert["body"]["external_id"] == "acc-9"


def test_custom_attributes_from_an_object_trait() -> None:
    actions = {"identify_contact": {"mapping": {"custom_attributes": {"@path": "$.traits.extra"}}}}
    body = identify_body({"extra": {"tier": 2, "deep": {"x": 1}}, "plan": "pro"}, actions=actions)
    assert body["custom_attributes"] == {"tier": 2}


def test_a_template_event_name_and_a_price_from_another_property() -> None:
    subscription = {
        "action": "track_event",
        "trigger": 'type = "track" and event = "Order Completed"',
        "mapping": {
            "event_name": {"@template": "order-{{properties.channel}}"},
            "price": {"@path": "$.properties.amount"},
        },
    }
    obj = {
        **ORDER,
        "properties": {"channel": "web", "amount": "12.50", "currency": "EUR", "revenue": 3},
    }
    actions = {"track_event": {"enabled": False}}
    assert operations(obj, actions=actions, subscriptions=[subscription]) == [
        create_event(
            user("u1"),
            {
                "event_name": "order-web",
                "created_at": T,
                "user_id": "u1",
                "metadata": {
                    "price": {"amount": 1250, "currency": "eur"},
                    "channel": "web",
                    "revenue": 3,
                },
            },
        )
    ]


def test_a_replaced_trigger_takes_only_the_events_it_names() -> None:
    actions = {"track_event": {"trigger": 'type = "track" and event != "Heartbeat"'}}
    skipped = outcome({**ORDER, "event": "Heartbeat"}, actions=actions)
    assert skipped == Skip(
        reason="track: no subscription's trigger matches it (see `intercom-destination mappings`)"
    )
    assert isinstance(outcome(ORDER, actions=actions), Plan)


def test_page_events_widen_the_default_trigger_but_not_a_replaced_one() -> None:
    page = {"type": "page", "userId": "u1", "name": "Home"}
    [op] = operations(page, page_events=True)
    assert op["body"]["event_name"] == "Viewed Home Page"
    replaced = outcome(
        page, page_events=True, actions={"track_event": {"trigger": 'type = "track"'}}
    )
    assert isinstance(replaced, Skip)
    assert replaced.reason.startswith("page: no subscription's trigger matches it")


def test_an_action_can_be_switched_off() -> None:
    skipped = outcome(
        {"type": "group", "userId": "u1", "groupId": "g1"},
        actions={"group_company": {"enabled": False}},
    )
    assert isinstance(skipped, Skip)


def test_every_matching_subscription_runs_in_order() -> None:
    subscriptions = [
        {
            "name": "signups",
            "action": "track_event",
            "trigger": "traits.plan exists",
            "mapping": {"event_name": "identified"},
        },
    ]
    obj = {**IDENTIFY, "traits": {"plan": "pro"}}
    ops = operations(obj, subscriptions=subscriptions)
    assert [op["op"] for op in ops] == ["upsert_contact", "create_event"]
    assert ops[1]["body"] == {"event_name": "identified", "created_at": T, "user_id": "u1"}
    way = route(event(obj), settings(subscriptions=subscriptions).mapping_options)
    assert [each.name for each in way.subscriptions] == ["identify_contact", "signups"]


def test_a_subscription_that_skips_beside_one_that_plans_is_a_warning() -> None:
    subscriptions = [{"name": "events", "action": "track_event", "trigger": 'type = "identify"'}]
    result = outcome(IDENTIFY, subscriptions=subscriptions)
    assert isinstance(result, Plan)
    assert [type(op).__name__ for op in result.operations] == ["UpsertContact"]
    assert result.warnings == (
        "subscription events: identify: event_name has no value from its source",
    )


def test_a_required_field_without_a_value_skips_the_event() -> None:
    actions = {"group_company": {"mapping": {"company_id": {"@path": "$.traits.account"}}}}
    result = outcome({"type": "group", "userId": "u1", "groupId": "g1"}, actions=actions)
    assert result == Skip(reason="group: company_id has no value from its source")


def test_group_fields_from_other_traits() -> None:
    actions = {
        "group_company": {
            "mapping": {
                "company_id": {"@path": "$.traits.account"},
                "size": {"@path": "$.traits.headcount"},
                "monthly_spend": {"@literal": -1},
            }
        }
    }
    obj = {
        "type": "group",
        "userId": "u1",
        "groupId": "g1",
        "traits": {"account": 7, "headcount": "12", "tier": "a"},
    }
    [upsert, attach] = operations(obj, actions=actions)
    assert upsert["body"] == {"company_id": "7", "size": 12, "custom_attributes": {"tier": "a"}}
    assert attach["company_id"] == "7"
    assert warnings(obj, actions=actions) == [
        "company monthly_spend -1 dropped: not a number Intercom takes"
    ]


def test_a_filter_drops_the_events_it_matches_and_names_itself() -> None:
    filters = [{"name": "internal", "if": "context.traits.internal = true", "drop": True}]
    obj = {**ORDER, "context": {"traits": {"internal": True}}}
    assert outcome(obj, filters=filters) == Skip(
        reason="filter internal: dropped, it matches 'context.traits.internal = true'"
    )
    way = route(event(obj), settings(filters=filters).mapping_options)
    assert way.dropped_by == "internal"
    assert isinstance(outcome(ORDER, filters=filters), Plan)


def test_filters_drop_or_allow_list_properties_and_traits() -> None:
    filters = [
        {"drop_properties": ["card"]},
        {"if": 'type = "identify"', "allow_traits": ["email", "plan"]},
    ]
    [op] = operations({**ORDER, "properties": {"card": "4242", "sku": "s1"}}, filters=filters)
    assert op["body"]["metadata"] == {"sku": "s1"}
    body = identify_body(
        {"email": "a@x.io", "plan": "pro", "ssn": "1", "name": "Ada"}, filters=filters
    )
    assert body["custom_attributes"] == {"plan": "pro"}
    assert "name" not in body
    assert warnings({**IDENTIFY, "traits": {"ssn": "1", "plan": "pro"}}, filters=filters) == [
        "filter filters[1]: traits 'ssn' dropped"
    ]
