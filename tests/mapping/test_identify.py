"""identify: the seed's trait table, row by row, with the Intercom body written out."""

from typing import Any

import pytest

from intercom_destination.mapping import Skip
from tests.mapping.cases import (
    T,
    attach,
    detach,
    operations,
    outcome,
    upsert_company,
    upsert_contact,
    user,
    warnings,
)

BASE = {"type": "identify", "userId": "u1"}
SEEN = {"role": "user", "external_id": "u1", "last_seen_at": T}


@pytest.mark.parametrize(
    ("traits", "body"),
    [
        # seed row: userId → user_id (Intercom v2: external_id); last seen is the event time
        ({}, SEEN),
        # seed row: traits.email → email
        ({"email": "ada@example.com"}, {**SEEN, "email": "ada@example.com"}),
        # seed row: traits.name → name
        ({"name": "Ada Lovelace"}, {**SEEN, "name": "Ada Lovelace"}),
        # Segment fills name from first + last name, in either spelling
        ({"firstName": "Ada", "lastName": "Lovelace"}, {**SEEN, "name": "Ada Lovelace"}),
        ({"first_name": "Ada", "last_name": "Lovelace"}, {**SEEN, "name": "Ada Lovelace"}),
        ({"firstName": "Ada"}, {**SEEN, "name": "Ada"}),
        # an explicit name wins over first + last
        ({"name": "A. L.", "firstName": "Ada"}, {**SEEN, "name": "A. L."}),
        # seed row: traits.phone → phone (numbers become strings)
        ({"phone": "+353871234567"}, {**SEEN, "phone": "+353871234567"}),
        ({"phone": 353871234567}, {**SEEN, "phone": "353871234567"}),
        # traits.avatar → avatar
        ({"avatar": "https://example.com/a.png"}, {**SEEN, "avatar": "https://example.com/a.png"}),
        # seed row: traits.signedUpAt → signed up date, as integer Unix seconds
        ({"signedUpAt": "2023-11-14T22:13:20Z"}, {**SEEN, "signed_up_at": 1700000000}),
        ({"signedUpAt": 1700000000}, {**SEEN, "signed_up_at": 1700000000}),
        # traits.createdAt (the Spec's name) → signed_up_at, ISO or Unix, seconds or ms
        ({"createdAt": "2023-11-14T22:13:20.999Z"}, {**SEEN, "signed_up_at": 1700000000}),
        ({"created_at": 1700000000123}, {**SEEN, "signed_up_at": 1700000000}),
        ({"createdAt": "1700000000"}, {**SEEN, "signed_up_at": 1700000000}),
        # seed row: remaining traits → custom attributes (strings, numbers, booleans)
        (
            {"plan": "pro", "logins": 5, "score": 9.5, "beta": True},
            {**SEEN, "custom_attributes": {"plan": "pro", "logins": 5, "score": 9.5, "beta": True}},
        ),
        # null traits are omitted: Intercom would clear the attribute
        ({"plan": None, "name": None}, SEEN),
        # reserved and identifying traits never leak into custom attributes
        (
            {
                "id": "u1",
                "userId": "u1",
                "anonymousId": "a1",
                "email": "e@x.io",
                "createdAt": 1700000000,
                "company": {"id": "c1"},
                "firstName": "A",
                "lastName": "B",
            },
            {**SEEN, "email": "e@x.io", "name": "A B", "signed_up_at": 1700000000},
        ),
    ],
)
def test_identify_traits_map_to_the_contact_body(
    traits: dict[str, Any], body: dict[str, Any]
) -> None:
    [upsert, *_] = operations({**BASE, "traits": traits})
    assert upsert == upsert_contact(user("u1", traits.get("email")), body)


def test_traits_user_id_identifies_when_the_event_has_none() -> None:
    ops = operations({"type": "identify", "anonymousId": "a1", "traits": {"userId": "u9"}})
    assert ops == [
        upsert_contact(user("u9"), {"role": "user", "external_id": "u9", "last_seen_at": T})
    ]


@pytest.mark.parametrize(
    ("integrations", "extra"),
    [
        # seed row: integrations.intercom.unsubscribed → unsubscribed_from_emails
        ({"Intercom": {"unsubscribed": True}}, {"unsubscribed_from_emails": True}),
        ({"intercom": {"unsubscribed": False}}, {"unsubscribed_from_emails": False}),
        ({"Intercom": {"unsubscribedFromEmails": True}}, {"unsubscribed_from_emails": True}),
        # user_hash is for the Messenger; REST calls are token-authenticated, so it is ignored
        ({"Intercom": {"user_hash": "abc", "userHash": "abc"}}, {}),
    ],
)
def test_intercom_options(integrations: dict[str, Any], extra: dict[str, Any]) -> None:
    [upsert] = operations({**BASE, "integrations": integrations})
    assert upsert["body"] == {**SEEN, **extra}


def test_unsubscribed_from_context_intercom_as_the_node_example_sends_it() -> None:
    [upsert] = operations({**BASE, "context": {"Intercom": {"unsubscribedFromEmails": True}}})
    assert upsert["body"] == {**SEEN, "unsubscribed_from_emails": True}


def test_language_override_is_dropped_with_a_warning_by_default() -> None:
    obj = {**BASE, "integrations": {"Intercom": {"language_override": "fr"}}}
    [upsert] = operations(obj)
    assert upsert["body"] == SEEN
    assert warnings(obj) == [
        "language_override dropped: Intercom's REST API has no writable field for it "
        "(set language_override_attribute to keep it as a custom attribute)"
    ]


def test_language_override_can_go_to_a_named_custom_attribute() -> None:
    obj = {**BASE, "integrations": {"Intercom": {"languageOverride": "fr"}}}
    [upsert] = operations(obj, language_override_attribute="preferred_language")
    assert upsert["body"] == {**SEEN, "custom_attributes": {"preferred_language": "fr"}}


def test_inactive_context_does_not_touch_last_seen() -> None:
    [upsert] = operations({**BASE, "context": {"active": False}, "traits": {"plan": "pro"}})
    assert upsert["body"] == {
        "role": "user",
        "external_id": "u1",
        "custom_attributes": {"plan": "pro"},
    }


CONTEXT = {
    "device": {"type": "ios", "manufacturer": "Apple", "model": "iPhone16,2", "id": "secret"},
    "os": {"name": "iOS", "version": "19.1"},
    "app": {"name": "Shop", "version": "3.2.1", "build": "77"},
    "library": {"name": "analytics-swift"},
}


def test_collect_context_adds_the_seven_attributes() -> None:
    [upsert] = operations({**BASE, "context": CONTEXT}, collect_context=True)
    assert upsert["body"]["custom_attributes"] == {
        "device_type": "ios",
        "device_manufacturer": "Apple",
        "device_model": "iPhone16,2",
        "os_name": "iOS",
        "os_version": "19.1",
        "app_name": "Shop",
        "app_version": "3.2.1",
    }


def test_context_is_not_collected_by_default_and_traits_win_over_it() -> None:
    [upsert] = operations({**BASE, "context": CONTEXT})
    assert "custom_attributes" not in upsert["body"]
    [upsert] = operations(
        {**BASE, "context": CONTEXT, "traits": {"app_version": "pinned"}}, collect_context=True
    )
    assert upsert["body"]["custom_attributes"]["app_version"] == "pinned"


NESTED = {"address": {"city": "London", "geo": {"lat": 51.5}}, "tags": ["a", "b"], "plan": "pro"}


def test_nested_values_are_dropped_with_a_warning_by_default() -> None:
    obj = {**BASE, "traits": NESTED}
    [upsert] = operations(obj)
    assert upsert["body"]["custom_attributes"] == {"plan": "pro"}
    assert warnings(obj) == [
        "custom attribute 'address' dropped: Intercom cannot store an object "
        '(set nested = "flatten" or "stringify" to keep it)',
        "custom attribute 'tags' dropped: Intercom cannot store an array "
        '(set nested = "flatten" or "stringify" to keep it)',
    ]


def test_nested_values_flatten_to_parent_child_keys() -> None:
    [upsert] = operations({**BASE, "traits": NESTED}, nested="flatten")
    assert upsert["body"]["custom_attributes"] == {
        "address_city": "London",
        "address_geo_lat": 51.5,
        "tags_0": "a",
        "tags_1": "b",
        "plan": "pro",
    }


def test_nested_values_can_be_sent_as_json_strings() -> None:
    [upsert] = operations({**BASE, "traits": NESTED}, nested="stringify")
    assert upsert["body"]["custom_attributes"] == {
        "address": '{"city":"London","geo":{"lat":51.5}}',
        "tags": '["a","b"]',
        "plan": "pro",
    }


def test_long_strings_are_truncated_to_255_with_a_warning() -> None:
    obj = {**BASE, "traits": {"bio": "x" * 300}}
    [upsert] = operations(obj)
    assert upsert["body"]["custom_attributes"] == {"bio": "x" * 255}
    assert warnings(obj) == ["custom attribute 'bio' truncated to 255 characters"]


def test_nulls_are_sent_only_when_asked() -> None:
    [upsert] = operations({**BASE, "traits": {"plan": None}}, send_nulls=True)
    assert upsert["body"]["custom_attributes"] == {"plan": None}


def test_keys_with_characters_intercom_forbids_are_renamed() -> None:
    obj = {**BASE, "traits": {"plan.tier": "gold"}}
    [upsert] = operations(obj)
    assert upsert["body"]["custom_attributes"] == {"plan_tier": "gold"}
    assert warnings(obj) == [
        "custom attribute 'plan.tier' renamed to 'plan_tier': Intercom forbids '.'"
    ]


def test_company_object_is_upserted_and_attached() -> None:
    traits = {
        "company": {
            "id": "c1",
            "name": "Initech",
            "plan": "enterprise",
            "monthly_spend": 99.9,
            "employees": 420,
            "industry": "Software",
            "website": "https://initech.example",
            "createdAt": "2023-11-14T22:13:20Z",
            "founded_by": "Bill",
            "offices": {"hq": "Austin"},
        }
    }
    upsert, company, attached = operations({**BASE, "traits": traits})
    assert upsert == upsert_contact(user("u1"), SEEN)
    assert company == upsert_company(
        {
            "company_id": "c1",
            "name": "Initech",
            "website": "https://initech.example",
            "industry": "Software",
            "plan": "enterprise",
            "monthly_spend": 99,
            "size": 420,
            "remote_created_at": 1700000000,
            "custom_attributes": {"founded_by": "Bill"},
        }
    )
    assert attached == attach(user("u1"), "c1")


def test_company_by_name_only_gets_a_stable_id_from_the_name() -> None:
    _, first, _ = operations({**BASE, "traits": {"company": "Initech  Corp"}})
    _, second, _ = operations({**BASE, "traits": {"company": {"name": "initech corp"}}})
    assert first["body"] == {"company_id": "initech corp", "name": "Initech  Corp"}
    assert second["company_id"] == first["company_id"]


def test_several_companies_each_attached_and_remove_detaches() -> None:
    traits = {"companies": [{"id": "c1"}, {"id": "c2", "remove": True}]}
    assert operations({**BASE, "traits": traits})[1:] == [
        upsert_company({"company_id": "c1"}),
        attach(user("u1"), "c1"),
        detach(user("u1"), "c2"),
    ]


def test_a_company_without_id_or_name_is_dropped_with_a_warning() -> None:
    obj = {**BASE, "traits": {"company": {"plan": "x"}}}
    assert len(operations(obj)) == 1
    assert warnings(obj) == ["company dropped: it has neither an id nor a name"]


def test_unidentified_identify_is_skipped_with_a_reason_by_default() -> None:
    result = outcome({"type": "identify", "anonymousId": "a1", "traits": {"email": "e@x.io"}})
    assert isinstance(result, Skip)
    assert result.reason == (
        "identify without userId: Intercom users need one, and creating leads for "
        '"Unidentified" visitors is off (set unidentified = "lead" to create them)'
    )


def test_unidentified_identify_can_upsert_a_lead_keyed_by_anonymous_id() -> None:
    obj = {"type": "identify", "anonymousId": "a1", "traits": {"email": "e@x.io", "plan": "free"}}
    assert operations(obj, unidentified="lead") == [
        upsert_contact(
            {"role": "lead", "email": "e@x.io", "anonymous_id": "a1"},
            {
                "role": "lead",
                "email": "e@x.io",
                "last_seen_at": T,
                "custom_attributes": {"plan": "free"},
            },
        )
    ]
