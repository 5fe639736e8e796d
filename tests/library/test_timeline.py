"""The timeline without a network: the events each call makes, the remembered user, plugins."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from intercom_destination import __version__
from intercom_destination.library import Analytics, AsyncAnalytics, Event, Plugin, PluginType
from intercom_destination.library.calls import LIBRARY
from tests.library.recording import AddTrait, DropTracks, Recorder, Seen


@pytest.fixture
def analytics() -> Iterator[Analytics]:
    with Analytics(anonymous_id="anon-1") as analytics:
        yield analytics


@pytest.fixture
def recorder(analytics: Analytics) -> Recorder:
    return analytics.add(Recorder())


def test_each_call_makes_a_complete_segment_event(analytics: Analytics, recorder: Recorder) -> None:
    analytics.track("u1", "Order Completed", {"revenue": 9.5}, context={"ip": "10.0.0.1"})
    [event] = recorder.events
    assert event == {
        "type": "track",
        "messageId": event["messageId"],
        "timestamp": event["timestamp"],
        "userId": "u1",
        "anonymousId": "anon-1",
        "event": "Order Completed",
        "properties": {"revenue": 9.5},
        "context": {
            "ip": "10.0.0.1",
            "library": {"name": "intercom-destination", "version": __version__},
        },
        "integrations": {},
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", event["messageId"])
    sent = datetime.fromisoformat(event["timestamp"])
    assert sent.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)


def test_the_callers_ids_timestamp_and_message_id_are_kept(
    analytics: Analytics, recorder: Recorder
) -> None:
    when = datetime(2026, 11, 28, 12, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=2)))
    analytics.group(42, "c1", {"name": "Acme"}, timestamp=when, anonymous_id=7, message_id="m-1")
    [event] = recorder.events
    assert (event["userId"], event["anonymousId"], event["groupId"]) == ("42", "7", "c1")
    assert event["timestamp"] == "2026-11-28T10:00:00.250+00:00"
    assert event["messageId"] == "m-1"
    assert event["traits"] == {"name": "Acme"}


def test_page_screen_and_alias(analytics: Analytics, recorder: Recorder) -> None:
    analytics.page("u1", "Docs", "Install", {"path": "/docs"})
    analytics.screen("u1", name="Settings")
    analytics.alias(user_id="u2")
    page, screen, alias = recorder.events
    assert (page["type"], page["category"], page["name"], page["properties"]) == (
        "page",
        "Docs",
        "Install",
        {"path": "/docs"},
    )
    assert (screen["type"], screen["name"], "category" in screen) == ("screen", "Settings", False)
    # No user yet: the anonymous visitor becomes u2.
    assert (alias["type"], alias["previousId"], alias["userId"]) == ("alias", "anon-1", "u2")
    assert analytics.user_id == "u2"


def test_identify_remembers_the_user_for_later_calls(
    analytics: Analytics, recorder: Recorder
) -> None:
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.track(event="Logged In")
    analytics.identify(traits={"plan": "pro"})
    first, track, again = recorder.events
    assert first["traits"] == {"email": "ada@example.com"}
    assert (track["userId"], track["anonymousId"]) == ("u1", "anon-1")
    # Traits add up, as analytics.js sends them: Intercom always gets the email.
    assert again["userId"] == "u1"
    assert again["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert analytics.traits == {"email": "ada@example.com", "plan": "pro"}
    # A call that names a user is about that user, and changes nobody's memory.
    analytics.track("u9", "Invited")
    assert recorder.events[-1]["userId"] == "u9"
    assert analytics.user_id == "u1"


def test_traits_given_before_login_carry_over_but_not_to_another_user(
    analytics: Analytics, recorder: Recorder
) -> None:
    analytics.identify(traits={"referrer": "ad"})
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.identify("u2", {"email": "bob@example.com"})
    anonymous, first, second = recorder.events
    assert "userId" not in anonymous
    assert first["traits"] == {"referrer": "ad", "email": "ada@example.com"}
    assert second["traits"] == {"email": "bob@example.com"}


def test_reset_forgets_the_user_and_resets_every_plugin(
    analytics: Analytics, recorder: Recorder
) -> None:
    enrich = analytics.add(AddTrait("source", "app"))
    own = recorder.add(AddTrait("seen_by", "recorder"))
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.reset()
    analytics.track(event="Browsed")
    assert analytics.user_id is None
    assert analytics.traits == {}
    assert analytics.anonymous_id != "anon-1"
    track = recorder.events[-1]
    assert "userId" not in track
    assert track["anonymousId"] == analytics.anonymous_id
    assert (recorder.resets, enrich.resets, own.resets) == (1, 1, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.track("u1"), "track needs the event's name"),
        (lambda a: a.group("u1"), "group needs a group_id"),
        (lambda a: a.alias("u1"), "alias needs the user_id"),
        (lambda a: a.identify("u1", ["email"]), "traits must be a dict"),
        (lambda a: a.track({"id": 1}, "X"), "user_id must be a string or a number"),
        (lambda a: a.page("u1", name=3), "page name must be a string"),
    ],
)
def test_a_wrong_call_raises_at_once(
    analytics: Analytics, recorder: Recorder, call: Callable[[Analytics], None], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        call(analytics)
    assert recorder.events == []


def test_plugins_run_in_order_and_before_plugins_can_drop(
    analytics: Analytics, recorder: Recorder
) -> None:
    after = analytics.add(Seen())
    analytics.add(AddTrait("source", "app"))
    analytics.add(DropTracks("Heartbeat"))
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.track(event="Heartbeat")
    analytics.track(event="Signed Up")
    assert [e.get("event", e["type"]) for e in recorder.events] == ["identify", "Signed Up"]
    assert recorder.events[0]["traits"] == {"email": "ada@example.com", "source": "app"}
    # After plugins see what the destinations got.
    assert after.events == recorder.events


def test_a_destinations_own_plugins_change_only_its_events(
    analytics: Analytics, recorder: Recorder
) -> None:
    other = analytics.add(Recorder())
    recorder.add(AddTrait("only_here", True))
    recorder.add(DropTracks("Secret"))
    mine = recorder.add(Seen())
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.track(event="Secret")
    assert recorder.events[0]["traits"] == {"email": "ada@example.com", "only_here": True}
    assert other.events[0]["traits"] == {"email": "ada@example.com"}
    assert len(recorder.events) == 1
    assert len(other.events) == 2
    assert mine.events == recorder.events
    with pytest.raises(ValueError, match="a destination's own plugins"):
        recorder.add(Recorder())


@pytest.mark.parametrize(
    ("integrations", "delivered"),
    [
        ({}, True),
        ({"Recorder": False}, False),
        ({"recorder": False}, True),
        ({"All": False}, False),
        ({"All": False, "Recorder": True}, True),
        ({"Recorder": {"option": 1}}, True),
    ],
)
def test_integrations_switch_destinations_by_segments_rule(
    analytics: Analytics, recorder: Recorder, integrations: dict[str, object], delivered: bool
) -> None:
    analytics.track("u1", "Clicked", integrations=integrations)
    assert len(recorder.events) == delivered


def test_adding_and_removing_a_destination_starts_and_stops_it(analytics: Analytics) -> None:
    recorder = Recorder()
    assert not recorder.started
    analytics.add(recorder)
    assert recorder.started
    analytics.remove(recorder)
    assert recorder.closed
    analytics.track("u1", "Clicked")
    assert recorder.events == []


def test_calls_after_close_go_nowhere(analytics: Analytics, recorder: Recorder) -> None:
    analytics.close()
    assert recorder.closed
    analytics.track("u1", "Clicked")
    assert recorder.events == []


def test_library_context_cannot_be_changed_through_an_event(
    analytics: Analytics, recorder: Recorder
) -> None:
    analytics.track("u1", "A")
    recorder.events[0]["context"]["library"]["name"] = "changed"
    analytics.track("u1", "B")
    assert recorder.events[1]["context"]["library"] == LIBRARY


@pytest.mark.anyio
async def test_the_async_client_makes_the_same_events() -> None:
    async with AsyncAnalytics(anonymous_id="anon-1") as analytics:
        recorder = await analytics.add(Recorder())
        assert recorder.started
        await analytics.identify("u1", {"email": "ada@example.com"}, message_id="m1")
        await analytics.track(event="Signed Up", message_id="m2")
        await analytics.group(group_id="c1", message_id="m3")
        await analytics.page(name="Home", message_id="m4")
        await analytics.screen(name="Home", message_id="m5")
        await analytics.alias(user_id="u2", message_id="m6")
        analytics.reset()
    assert recorder.closed
    assert recorder.resets == 1
    expected = Recorder()
    sync = Analytics(anonymous_id="anon-1")
    sync.add(expected)
    sync.identify("u1", {"email": "ada@example.com"}, message_id="m1")
    sync.track(event="Signed Up", message_id="m2")
    sync.group(group_id="c1", message_id="m3")
    sync.page(name="Home", message_id="m4")
    sync.screen(name="Home", message_id="m5")
    sync.alias(user_id="u2", message_id="m6")
    sync.close()

    def without_time(events: list[Event]) -> list[Event]:
        return [{k: v for k, v in e.items() if k != "timestamp"} for e in events]

    assert without_time(recorder.events) == without_time(expected.events)


def test_a_plugin_of_the_destination_type_must_be_a_destination_plugin(
    analytics: Analytics,
) -> None:
    class Fake(Plugin):
        type = PluginType.DESTINATION

    with pytest.raises(TypeError, match="no DestinationPlugin"):
        analytics.add(Fake())
