"""Triggers in Segment's subscription syntax: every operator, and the errors."""

import pytest

from intercom_destination.mapping.triggers import TriggerError, parse_trigger
from tests.mapping.cases import event

TRACK = event(
    {
        "type": "track",
        "userId": "u1",
        "event": "Order Completed",
        "properties": {"revenue": 20, "plan": "pro", "beta": True, "note": None, "tags": ["a"]},
        "context": {"traits": {"email": "ada@example.com"}, "app": {"version": "1.2"}},
    }
)
IDENTIFY = event({"type": "identify", "userId": "u1", "traits": {"plan": "free", "seats": 3}})


@pytest.mark.parametrize(
    ("trigger", "track", "identify"),
    [
        ('type = "track"', True, False),
        ("type = 'identify'", False, True),
        ('type != "track"', False, True),
        ('type = "track" and event = "Order Completed"', True, False),
        ('type = "track" and event = "Signed Up"', False, False),
        ('type = "identify" or event = "Order Completed"', True, True),
        ('event = "Signed Up" or type = "identify" and traits.plan = "free"', False, True),
        ('(event = "Signed Up" or type = "identify") and traits.plan = "pro"', False, False),
        ('not type = "track"', False, True),
        ("properties.revenue = 20", True, False),
        ("properties.revenue = 20.0", True, False),
        ("properties.revenue > 10", True, False),
        ("properties.revenue >= 20", True, False),
        ("properties.revenue < 20", False, False),
        ("properties.revenue <= 20 and properties.revenue > -1", True, False),
        ('properties.plan > "a"', False, False),
        ("traits.seats > 2", False, True),
        ("properties.beta = true", True, False),
        ("properties.beta = 1", False, False),
        ("properties.note = null", True, True),
        ("properties.revenue exists", True, False),
        ("properties.note exists", False, False),
        ("properties.revenue not exists", False, True),
        ("traits.plan exists", False, True),
        ('context.traits.email = "ada@example.com"', True, False),
        ('context.app.version != "1.2"', False, True),
        ('properties.tags.0 = "a"', True, False),
        ('$.properties.plan = "pro"', True, False),
        ("userId exists and anonymousId not exists", True, True),
        ('event = "Order \\"Big\\" Completed"', False, False),
    ],
)
def test_a_trigger_matches_the_events_it_states(trigger: str, track: bool, identify: bool) -> None:
    condition = parse_trigger(trigger)
    assert (condition.matches(TRACK), condition.matches(IDENTIFY)) == (track, identify)


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("", "a trigger is a condition"),
        (
            'type = "track" and',
            "expected a field such as type, event or properties.plan at character 19, found the end",
        ),
        (
            'type "track"',
            "expected =, !=, <, <=, >, >= or exists at character 6, found '\"track\"'",
        ),
        (
            "type = track",
            "expected a value (a quoted string, a number, true, false or null) at character 8, found 'track'",
        ),
        (
            'type = "track" event = "x"',
            "expected the end of the trigger (or `and`, `or`) at character 16, found 'event'",
        ),
        ('(type = "track"', "expected `)` at character 16, found the end"),
        ('type = "track" # x', "unexpected '#' at character 16"),
        ('type = "track', "unexpected '\"' at character 8"),
        ("propertys.x = 1", "at character 1: 'propertys.x' starts with 'propertys'"),
        ("traits.x not = 1", "expected `exists` after `not` at character 14, found '='"),
    ],
)
def test_a_trigger_that_does_not_parse_says_where(trigger: str, message: str) -> None:
    with pytest.raises(TriggerError) as raised:
        parse_trigger(trigger)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("trigger", "kind", "left"),
    [
        ('type = "track"', "track", True),
        ('type = "track"', "identify", False),
        ('type = "track" or type = "page"', "page", True),
        ('type != "alias"', "alias", False),
        ('type = "track" and event = "A"', "identify", False),
        ("type exists", "group", True),
    ],
)
def test_the_type_alone_decides_what_it_can(trigger: str, kind: str, left: bool) -> None:
    assert parse_trigger(trigger).given_type(kind) is left


def test_what_the_type_does_not_decide_is_left_to_test() -> None:
    left = parse_trigger('type = "track" and event = "A"').given_type("track")
    assert not isinstance(left, bool)
    assert left.matches(event({"type": "track", "userId": "u", "event": "A"}))
    assert not left.matches(TRACK)
