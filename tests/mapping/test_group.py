"""group: the seed's group table; alias; the integrations object."""

from typing import Any

import pytest

from intercom_destination.mapping import Skip
from tests.mapping.cases import attach, operations, outcome, upsert_company, user, warnings

BASE = {"type": "group", "userId": "u1", "groupId": "g1"}


@pytest.mark.parametrize(
    ("traits", "body"),
    [
        # seed row: groupId → company_id
        ({}, {"company_id": "g1"}),
        # seed rows: traits.name → name, traits.plan → plan
        (
            {"name": "Initech", "plan": "enterprise"},
            {"company_id": "g1", "name": "Initech", "plan": "enterprise"},
        ),
        # seed row: traits.monthly_spend → monthly_spend, an integer (Intercom truncates)
        ({"monthly_spend": 155.98}, {"company_id": "g1", "monthly_spend": 155}),
        ({"monthlySpend": "42"}, {"company_id": "g1", "monthly_spend": 42}),
        # seed row: traits.createdAt → remote_created_at, Unix seconds
        (
            {"createdAt": "2023-11-14T22:13:20Z"},
            {"company_id": "g1", "remote_created_at": 1700000000},
        ),
        ({"created_at": 1700000000}, {"company_id": "g1", "remote_created_at": 1700000000}),
        # traits.employees → size; website; industry
        (
            {"employees": 420, "website": "https://i.example", "industry": "Software"},
            {
                "company_id": "g1",
                "website": "https://i.example",
                "industry": "Software",
                "size": 420,
            },
        ),
        # seed row: remaining traits → custom attributes; the id trait is not repeated
        (
            {"id": "g1", "region": "EMEA", "seats": 10, "address": {"city": "Austin"}},
            {"company_id": "g1", "custom_attributes": {"region": "EMEA", "seats": 10}},
        ),
    ],
)
def test_group_traits_map_to_the_company_body(traits: dict[str, Any], body: dict[str, Any]) -> None:
    assert operations({**BASE, "traits": traits}) == [
        upsert_company(body),
        attach(user("u1"), "g1"),
    ]


def test_values_intercom_cannot_take_are_dropped_with_warnings() -> None:
    obj = {**BASE, "traits": {"monthly_spend": 2**40, "employees": "many", "createdAt": "soon"}}
    assert operations(obj)[0]["body"] == {"company_id": "g1"}
    assert warnings(obj) == [
        f"company monthly_spend {2**40} dropped: not a number Intercom takes",
        "company size 'many' dropped: not a whole number of employees",
        "company createdAt 'soon' dropped: not a timestamp",
    ]


def test_group_by_email_of_the_user() -> None:
    obj = {
        "type": "group",
        "anonymousId": "a1",
        "groupId": "g1",
        "context": {"traits": {"email": "e@x.io"}},
    }
    assert operations(obj)[1] == attach({"role": "user", "email": "e@x.io"}, "g1")


def test_anonymous_group_follows_the_anonymous_policy() -> None:
    obj = {"type": "group", "anonymousId": "a1", "groupId": "g1"}
    assert operations(obj)[1] == attach({"role": "user", "anonymous_id": "a1"}, "g1")
    assert isinstance(outcome(obj, anonymous="skip"), Skip)


def test_alias_is_skipped_with_a_reason() -> None:
    result = outcome({"type": "alias", "userId": "u1", "previousId": "a1"})
    assert isinstance(result, Skip)
    assert result.reason.startswith("alias: Intercom has no alias operation")


@pytest.mark.parametrize(
    ("integrations", "sent"),
    [
        ({}, True),
        ({"All": True}, True),
        ({"All": False}, False),
        ({"All": False, "Intercom": True}, True),
        ({"All": False, "Intercom": {"user_hash": "h"}}, True),
        ({"Intercom": False}, False),
        ({"All": True, "Intercom": False}, False),
        # keys are case-sensitive: a lowercase key does not switch Intercom on or off
        ({"All": False, "intercom": True}, False),
        ({"intercom": False}, True),
        ({"Segment.io": True}, True),
    ],
)
def test_the_integrations_object_switches_intercom(
    integrations: dict[str, Any], sent: bool
) -> None:
    result = outcome({"type": "track", "userId": "u1", "event": "E", "integrations": integrations})
    assert isinstance(result, Skip) is not sent
    if not sent:
        assert isinstance(result, Skip)
        assert result.reason == "integrations: Intercom is switched off for this event"
