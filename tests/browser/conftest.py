"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, against
`serve` run as a subprocess with the sandbox as its Intercom.

Playwright never downloads a browser here: it starts the system's `chromium` (scripts/test
installs Debian's package where it is missing). Screenshots of each page go to
`$CONSOLE_SCREENSHOTS` when set, else to the test's own folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.running import console_url, serving

WRITE_KEY = "wk-browser"
TOKEN = "browser-intercom-token"

#: What Chromium needs to start as root on a machine without a network or a screen, and to
#: stay off the network (its background services would try Google's hosts at each start).
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("no chromium on PATH: install Debian's chromium package (scripts/test does)")
    with sync_playwright() as playwright:
        # Playwright gives each launch a new, empty profile, and runs it headless without
        # Chromium's sandbox (root cannot have one).
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass(frozen=True)
class Service:
    """A running `serve`: where clients send events, where the console is, and the sandbox."""

    ingest: str
    console: str
    sandbox: str

    def send(self, *events: dict[str, Any]) -> None:
        answer = httpx.post(
            f"{self.ingest}/v1/batch", json={"batch": list(events)}, auth=(WRITE_KEY, "")
        )
        answer.raise_for_status()

    def faults(self, **faults: Any) -> None:
        httpx.post(f"{self.sandbox}/_sandbox/faults", json=faults).raise_for_status()

    def intercom_events(self) -> list[dict[str, Any]]:
        state = httpx.get(f"{self.sandbox}/_sandbox/state").json()
        return list(state["events"])


@pytest.fixture
def service(sandbox: str, tmp_path: Path) -> Iterator[Service]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "SEGMENT_"))},
        "INTERCOM_API_URL": sandbox,
        "INTERCOM_ACCESS_TOKEN": TOKEN,
        "SEGMENT_WRITE_KEYS": WRITE_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
        # A transient failure is not retried: the event becomes a dead letter at once.
        "INTERCOM_DESTINATION_RETRY_FOR": "0.001",
    }
    env.pop("CONSOLE_PASSWORD", None)
    output = tmp_path / "serve.txt"
    with serving(env, output) as ingest:
        yield Service(ingest, console_url(output), sandbox)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    # Forms that change things ask first: the tests say yes.
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()


@pytest.fixture
def screenshot(page: Page, tmp_path: Path) -> Any:
    """`screenshot("overview")`: the whole page, as NAME.png in the screenshot folder."""
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take
