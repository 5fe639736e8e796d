"""The console in Chromium against `serve` and the sandbox: what a person would do with it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TOKEN, WRITE_KEY, Service
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def dead_letters(service: Service) -> list[dict[str, Any]]:
    return list(httpx.get(f"{service.console}/api/dead").json()["letters"])


def outcome(service: Service, message_id: str) -> str | None:
    """The latest outcome of the event, as the console's API says."""
    answer = httpx.get(f"{service.console}/api/events/{message_id}")
    if answer.status_code == 404:
        return None
    outcomes = answer.json()["outcomes"]
    return outcomes[-1]["outcome"] if outcomes else None


def test_the_overview_a_search_and_a_story(service: Service, page: Page, screenshot: Any) -> None:
    service.send(
        {"type": "identify", "userId": "ada", "traits": {"email": "ada@example.com"}},
        {"type": "track", "userId": "ada", "event": "Order Completed", "messageId": "order-1"},
        {"type": "page", "userId": "ada", "name": "Pricing", "messageId": "page-1"},
        {"type": "track", "userId": "bob", "event": "Signed Up", "messageId": "bob-1"},
    )
    wait_until(lambda: outcome(service, "order-1") == "delivered", "the track is delivered")
    wait_until(lambda: outcome(service, "page-1") == "skipped", "the page is skipped")

    page.goto(service.console)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".chart svg polyline")).to_have_count(5)
    expect(page.locator(".card", has_text="delivered")).to_contain_text("2")
    expect(page.locator(".card", has_text="skipped")).to_contain_text("1")
    screenshot("overview")

    page.get_by_role("link", name="Events").click()
    page.get_by_role("searchbox").fill("ada")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("page-1")
    expect(page.locator("tbody")).not_to_contain_text("bob-1")
    screenshot("events")

    page.get_by_role("link", name="order-1").click()
    expect(page.get_by_role("heading", name="Event order-1")).to_be_visible()
    request = page.locator(".request", has_text="/events")
    expect(request).to_contain_text("POST")
    expect(request).to_contain_text("202")
    expect(request).to_contain_text('"event_name":"Order Completed"')
    expect(page.locator("pre").last).to_contain_text('"messageId": "order-1"')
    screenshot("story")

    # What delivery traced went to Intercom with the token; no page or answer shows it.
    shown = [page.content()]
    for path in ("/", "/events?q=ada", "/events/order-1", "/dead", "/tester"):
        page.goto(f"{service.console}{path}")
        shown.append(page.content())
    for path in ("/api/overview", "/api/events?q=ada", "/api/events/order-1", "/api/dead"):
        shown.append(httpx.get(f"{service.console}{path}").text)
    for secret in (TOKEN, WRITE_KEY):
        assert not [text for text in shown if secret in text]


def test_a_dead_letter_is_replayed_and_delivered(
    service: Service, page: Page, screenshot: Any
) -> None:
    service.faults(error_rate=1.0, error_statuses=[500], endpoints=["POST /events"])
    service.send(
        {"type": "identify", "userId": "ada", "traits": {"email": "ada@example.com"}},
        {"type": "track", "userId": "ada", "event": "Order Completed", "messageId": "order-1"},
    )
    wait_until(lambda: dead_letters(service), "the track is a dead letter")
    service.faults()

    page.goto(f"{service.console}/dead")
    group = page.locator("table.groups tr", has_text="500")
    expect(group).to_contain_text("order-1")
    row = page.locator("tr", has_text="order-1").last
    screenshot("dead")
    row.get_by_role("button", name="Replay", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("Replayed 1 dead letter.")
    expect(page.locator("tr", has_text="order-1")).to_have_count(0)
    wait_until(lambda: outcome(service, "order-1") == "delivered", "the replay is delivered")
    page.goto(f"{service.console}/events/order-1")
    expect(page.locator("dl.facts")).to_contain_text("done")
    expect(page.locator(".request", has_text="/events").last).to_contain_text("202")


def test_the_tester_plans_as_you_type_and_follows_what_it_sends(
    service: Service, page: Page, screenshot: Any
) -> None:
    # Intercom knows grace: her track is delivered, not set aside waiting for her identify.
    service.send({"type": "identify", "userId": "grace", "traits": {"name": "Grace"}})
    event = {"type": "track", "userId": "grace", "event": "Trial Started", "messageId": "t-1"}
    page.goto(f"{service.console}/tester")
    page.locator("textarea[name=event]").fill(json.dumps(event, indent=2))

    # The plan follows the text without a click.
    plan = page.locator("#plan")
    expect(plan).to_contain_text("track t-1: 1 Intercom request")
    expect(plan).to_contain_text('"event_name": "Trial Started"')

    page.get_by_role("button", name="Send to Intercom").click()
    expect(page.get_by_role("status")).to_contain_text("Sent t-1")
    # The page follows the event's story until it is delivered.
    story = page.locator(".sent .story")
    expect(story.locator("dl.facts")).to_contain_text("done", timeout=60_000)
    expect(story.locator(".request")).to_contain_text("202")
    screenshot("tester")
