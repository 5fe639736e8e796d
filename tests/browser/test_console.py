"""The console in Chromium against `serve` and the sandbox: what a person would do with it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Service
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def dead_letters(service: Service) -> list[dict[str, Any]]:
    return list(httpx.get(f"{service.console}/api/dead").json()["letters"])


def names_in_intercom(service: Service) -> list[str]:
    return [event["event_name"] for event in service.intercom_events()]


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
    row = page.locator("tr", has_text="order-1")
    expect(row).to_contain_text("500")
    screenshot("dead")
    row.get_by_role("button", name="Replay").click()

    expect(page.get_by_role("status")).to_have_text("Replayed 1 dead letter.")
    expect(page.locator("tr", has_text="order-1")).to_have_count(0)
    wait_until(lambda: "Order Completed" in names_in_intercom(service), "Intercom has the event")


def test_the_tester_plans_as_you_type_and_sends(
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
    screenshot("tester")

    page.get_by_role("button", name="Send to Intercom").click()
    expect(page.get_by_role("status")).to_contain_text("Sent t-1")
    wait_until(lambda: "Trial Started" in names_in_intercom(service), "Intercom has the event")
