"""IntercomDestination in an application's timeline, delivering to a live sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from intercom_destination.library import (
    Analytics,
    AsyncAnalytics,
    Failure,
    Flushed,
    IntercomDestination,
)
from intercom_destination.settings import SettingsError
from tests.library import sandbox as sb
from tests.library.recording import AddTrait, DropTracks, Recorder


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/intercom.db"


@pytest.fixture
def failures() -> list[Failure]:
    return []


@pytest.fixture
def analytics(sandbox: str, database: str, failures: list[Failure]) -> Iterator[Analytics]:
    with Analytics() as analytics:
        analytics.add(
            IntercomDestination(api_url=sandbox, database_url=database, on_error=failures.append)
        )
        yield analytics


@pytest.mark.slow
def test_a_session_a_logout_and_another_user(analytics: Analytics, sandbox: str) -> None:
    analytics.identify("u1", {"email": "ada@example.com", "plan": "pro"})
    analytics.track(event="Order Completed", properties={"revenue": 19.99, "currency": "EUR"})
    analytics.group(group_id="acme", traits={"name": "Acme", "plan": "enterprise"})
    analytics.reset()
    analytics.track(event="Browsed Pricing")
    analytics.identify("u2", {"email": "bob@example.com"})
    analytics.track(event="Signed Up")

    assert analytics.flush() == Flushed(waiting=0, dead=0)
    ada, bob = sb.contact(sandbox, "u1"), sb.contact(sandbox, "u2")
    assert (ada["email"], ada["custom_attributes"]) == ("ada@example.com", {"plan": "pro"})
    assert sb.company_ids(sandbox, "u1") == ["acme"]
    assert sb.event_names(sandbox, "u1") == ["Order Completed"]
    # After the logout nothing of u1's reaches u2: not the traits, not the company; and
    # what u2 did before identifying (as a new anonymous visitor) is theirs.
    assert (bob["email"], bob["custom_attributes"]) == ("bob@example.com", {})
    assert sb.company_ids(sandbox, "u2") == []
    assert sb.event_names(sandbox, "u2") == ["Browsed Pricing", "Signed Up"]
    [company] = sb.state(sandbox)["companies"]
    assert (company["name"], company["plan"]) == ("Acme", "enterprise")


def test_before_and_enrichment_plugins_change_and_drop_what_intercom_gets(
    analytics: Analytics, sandbox: str
) -> None:
    analytics.add(DropTracks("Heartbeat"))
    analytics.add(AddTrait("source", "library"))
    [intercom] = analytics.timeline.destinations
    intercom.add(AddTrait("intercom_only", True))
    recorder = analytics.add(Recorder())
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.track(event="Heartbeat")
    analytics.track(event="Logged In")
    analytics.flush()
    assert sb.contact(sandbox, "u1")["custom_attributes"] == {
        "source": "library",
        "intercom_only": True,
    }
    assert sb.event_names(sandbox) == ["Logged In"]
    assert recorder.of_type("identify")[0]["traits"] == {
        "email": "ada@example.com",
        "source": "library",
    }


def test_integrations_switch_intercom_per_event(analytics: Analytics, sandbox: str) -> None:
    recorder = analytics.add(Recorder())
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.identify(traits={"plan": "pro"}, integrations={"Intercom": {"unsubscribed": True}})
    analytics.track(event="Not For Intercom", integrations={"Intercom": False})
    analytics.track(event="Only For Intercom", integrations={"All": False, "Intercom": True})
    analytics.track(event="Nowhere", integrations={"All": False})
    analytics.flush()
    assert sb.event_names(sandbox) == ["Only For Intercom"]
    assert sb.contact(sandbox, "u1")["unsubscribed_from_emails"] is True
    assert [e["event"] for e in recorder.of_type("track")] == ["Not For Intercom"]


def test_flush_returns_once_everything_is_delivered(analytics: Analytics, sandbox: str) -> None:
    # Each call takes 20 ms: a flush that did not wait would return before them.
    sb.set_faults(sandbox, latency_ms=20)
    for user in range(5):
        analytics.identify(f"u{user}", {"email": f"user{user}@example.com"})
        for n in range(4):
            analytics.track(event=f"Clicked {n}")
    assert analytics.flush() == Flushed(waiting=0, dead=0)
    assert len(sb.state(sandbox)["contacts"]) == 5
    assert len(sb.event_names(sandbox)) == 20


def test_an_event_for_an_unknown_contact_waits_and_flush_says_so(
    analytics: Analytics, sandbox: str
) -> None:
    analytics.track("u1", "Signed Up")
    assert analytics.flush() == Flushed(waiting=1, dead=0)
    assert sb.event_names(sandbox) == []
    analytics.identify("u1", {"email": "ada@example.com"})
    assert analytics.flush() == Flushed(waiting=0, dead=0)
    assert sb.event_names(sandbox, "u1") == ["Signed Up"]


def test_dead_and_invalid_events_reach_on_error(
    sandbox: str, database: str, failures: list[Failure]
) -> None:
    with Analytics() as analytics:
        intercom = IntercomDestination(
            api_url=sandbox, database_url=database, max_event_names=1, on_error=failures.append
        )
        analytics.add(intercom)
        # A destination's own plugin that breaks events: they cannot be Segment events.
        intercom.add(_Unnamed())
        analytics.identify("u1", {"email": "ada@example.com"})
        analytics.track(event="First", message_id="m-first")
        analytics.track(event="Second", message_id="m-second")
        analytics.track(event="unnamed", message_id="m-unnamed")
        assert analytics.flush() == Flushed(waiting=0, dead=1)
    assert sb.event_names(sandbox) == ["First"]
    dead, invalid = sorted(failures, key=lambda f: f.kind)
    assert (dead.destination, dead.kind, dead.message_id) == ("Intercom", "dead", "m-second")
    assert "event-name budget is full" in dead.reason
    assert dead.event["event"] == "Second"
    assert (invalid.kind, invalid.message_id) == ("invalid", "m-unnamed")
    assert invalid.reason == "not a Segment event Intercom can take: track.event: missing"


def test_an_event_too_deep_for_the_mapping_reaches_on_error(
    analytics: Analytics, sandbox: str, failures: list[Failure]
) -> None:
    deep: dict[str, object] = {}
    for _ in range(300):
        deep = {"x": deep}
    analytics.identify("u1", {"email": "ada@example.com"})
    analytics.track(event="Deep", properties=deep, message_id="m-deep")
    analytics.track(event="Shallow", message_id="m-shallow")

    assert analytics.flush() == Flushed(waiting=0, dead=0)
    assert sb.event_names(sandbox, "u1") == ["Shallow"]
    [invalid] = failures
    assert (invalid.kind, invalid.message_id) == ("invalid", "m-deep")
    assert invalid.reason == (
        "not a Segment event Intercom can take: event: nested deeper than 256 levels"
    )


class _Unnamed(AddTrait):
    def __init__(self) -> None:
        super().__init__("unused", None)

    def execute(self, event: dict[str, object]) -> dict[str, object] | None:
        if event.get("event") == "unnamed":
            del event["event"]
        return event


@pytest.mark.slow
def test_when_delivery_is_behind_calls_drop_events_and_say_which(
    sandbox: str, failures: list[Failure]
) -> None:
    sb.set_faults(sandbox, latency_ms=200)
    with Analytics() as analytics:
        analytics.add(
            IntercomDestination(
                api_url=sandbox,
                database_url="sqlite:///:memory:",
                max_backlog=1,
                max_queue=1,
                queue_timeout=0,
                on_error=failures.append,
            )
        )
        sent = [f"m{n}" for n in range(10)]
        for n, message_id in enumerate(sent):
            analytics.identify(f"u{n}", {"email": f"u{n}@example.com"}, message_id=message_id)
        analytics.flush()
    delivered = {c["external_id"] for c in sb.state(sandbox)["contacts"]}
    dropped = {f.message_id for f in failures}
    assert {f.kind for f in failures} == {"dropped"}
    assert dropped
    assert delivered == {f"u{sent.index(m)}" for m in sent if m not in dropped}


def test_a_store_in_memory_works_too(sandbox: str) -> None:
    with Analytics() as analytics:
        analytics.add(IntercomDestination(api_url=sandbox, database_url="sqlite:///:memory:"))
        analytics.identify("u1", {"email": "ada@example.com"})
        analytics.flush()
    assert sb.contact(sandbox, "u1")["email"] == "ada@example.com"


@pytest.mark.anyio
async def test_the_async_api_delivers_in_the_applications_loop(sandbox: str, database: str) -> None:
    async with AsyncAnalytics() as analytics:
        await analytics.add(IntercomDestination(api_url=sandbox, database_url=database))
        await analytics.identify("u1", {"email": "ada@example.com"})
        await analytics.track(event="Signed Up")
        await analytics.group(group_id="acme", traits={"name": "Acme"})
        assert await analytics.flush() == Flushed(waiting=0, dead=0)
        assert sb.event_names(sandbox, "u1") == ["Signed Up"]
        assert sb.company_ids(sandbox, "u1") == ["acme"]


def test_without_a_token_it_refuses_to_start_and_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("INTERCOM_ACCESS_TOKEN", "INTERCOM_API_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError) as refused:
        IntercomDestination()
    assert "pass access_token=" in str(refused.value)
    assert "intercom-destination sandbox" in str(refused.value)


def test_settings_come_from_the_environment_and_keywords_as_in_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "secret-token-value")
    monkeypatch.setenv("INTERCOM_REGION", "eu")
    monkeypatch.setenv("INTERCOM_DESTINATION_NESTED", "flatten")
    destination = IntercomDestination(collect_context=True)
    settings = destination.settings
    assert (settings.region, settings.nested, settings.collect_context) == ("eu", "flatten", True)
    assert settings.access_token is not None
    assert settings.access_token.reveal() == "secret-token-value"
    assert "secret-token-value" not in repr(destination)
    with pytest.raises(
        SettingsError, match="nested: 'deep' is not one of drop, flatten, stringify"
    ):
        IntercomDestination(nested="deep")


def test_a_destination_not_started_queues_then_drops_and_reports(failures: list[Failure]) -> None:
    destination = IntercomDestination(
        api_url="http://127.0.0.1:9", max_queue=1, queue_timeout=0, on_error=failures.append
    )
    destination.deliver({"type": "track", "messageId": "m1"})
    destination.deliver({"type": "track", "messageId": "m2"})
    [failure] = failures
    assert (failure.kind, failure.message_id) == ("dropped", "m2")
    assert failure.reason == "the queue stayed full (max_queue=1) for 0 s: delivery is behind"
    with pytest.raises(RuntimeError, match="add it to an Analytics"):
        destination.flush()
