"""What an application gets when it ends: docs/library.md's examples deliver as written (at exit,
to a host by name), and what could not be delivered in the time given is reported, with where
it waits, rather than waited for without end."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from intercom_destination.library import (
    Analytics,
    AsyncAnalytics,
    Flushed,
    FlushTimeout,
    IntercomDestination,
)
from tests.library import sandbox as sb
from tests.library.store import pending

LIBRARY_DOC = Path(__file__).parents[2] / "docs" / "library.md"


def readme_examples() -> tuple[str, str]:
    """Library mode's examples: for threads, and for asyncio (in a coroutine)."""
    section = LIBRARY_DOC.read_text().split("# Library mode", 1)[1].split("\n## ", 1)[0]
    threads, in_a_loop = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    in_a_loop = f"async def main():\n{textwrap.indent(in_a_loop, '    ')}\n"
    return threads, f"import asyncio\n{in_a_loop}asyncio.run(main())\n"


def run(code: str, api_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`code` in a process of its own, as an application would run it (its store, the
    default file, in `cwd`)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**environment, "INTERCOM_API_URL": api_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def by_name(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


def reported(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """What library mode logged at WARNING and above."""
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == "intercom_destination.library" and record.levelno >= logging.WARNING
    ]


@pytest.mark.slow
def test_the_readme_examples_deliver_as_written_to_a_host_by_name(
    sandbox: str, tmp_path: Path
) -> None:
    for _ in range(2):
        for example in readme_examples():
            ran = run(example, by_name(sandbox), tmp_path)
            assert (ran.returncode, ran.stderr) == (0, "")
    assert sb.contact(sandbox, "u1")["custom_attributes"] == {"plan": "pro"}
    # Sent once per run; two runs in one second make one event in Intercom, which keeps an
    # event once per contact, name and created_at.
    assert sb.answered(sandbox, "POST /events", 202) == 2
    assert set(sb.event_names(sandbox, "u1")) == {"Order Completed"}


UNREACHABLE = """
from intercom_destination.library import Analytics, IntercomDestination

analytics = Analytics(close_timeout=0.1)
analytics.add(IntercomDestination(access_token="..."))
for n in range(3):
    analytics.identify(f"u{n}", {"email": f"u{n}@example.com"})
"""


@pytest.mark.slow
def test_an_application_ending_with_events_undelivered_says_how_many_and_where(
    tmp_path: Path,
) -> None:
    ran = run(UNREACHABLE, sb.nowhere("localhost"), tmp_path)
    store = (tmp_path / "intercom-destination.db").resolve()
    # The exit status stays the application's: the events are safe in the store.
    assert ran.returncode == 0
    assert ran.stderr == (
        f"Intercom: 3 events not delivered, kept in the store {store} for the next start "
        "(3 pending)\n"
    )
    assert asyncio.run(pending(f"sqlite:///{store}")) == 3


@pytest.mark.anyio
async def test_async_flush_and_close_against_an_unreachable_intercom_say_what_is_left(
    tmp_path: Path,
) -> None:
    analytics = AsyncAnalytics()
    await analytics.add(
        IntercomDestination(api_url=sb.nowhere(), database_url=f"sqlite:///{tmp_path}/x.db")
    )
    await analytics.identify("u1", {"email": "ada@example.com"})
    await analytics.identify("u2", {"email": "bob@example.com"})
    with pytest.raises(FlushTimeout) as timed_out:
        await analytics.flush(timeout=0.05)
    assert timed_out.value.left == Flushed(pending=2)
    assert await analytics.close(timeout=0.05) == Flushed(pending=2)


@pytest.mark.anyio
async def test_async_with_against_an_unreachable_intercom_ends_and_logs_what_is_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "x.db"
    async with AsyncAnalytics(close_timeout=0.05) as analytics:
        await analytics.add(
            IntercomDestination(api_url=sb.nowhere(), database_url=f"sqlite:///{store}")
        )
        await analytics.identify("u1", {"email": "ada@example.com"})
    assert reported(caplog) == [
        (
            logging.WARNING,
            f"Intercom: 1 event not delivered, kept in the store {store} for the next start "
            "(1 pending)",
        )
    ]


def test_flush_and_close_against_an_unreachable_intercom_say_what_is_left(
    tmp_path: Path,
) -> None:
    analytics = Analytics()
    analytics.add(
        IntercomDestination(api_url=sb.nowhere(), database_url=f"sqlite:///{tmp_path}/x.db")
    )
    analytics.identify("u1", {"email": "ada@example.com"})
    with pytest.raises(FlushTimeout) as timed_out:
        analytics.flush(timeout=0.05)
    assert timed_out.value.left == Flushed(pending=1)
    assert analytics.close(timeout=0.05) == Flushed(pending=1)


def test_events_left_in_a_store_in_memory_are_reported_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Analytics(close_timeout=0.05) as analytics:
        analytics.add(IntercomDestination(api_url=sb.nowhere(), database_url="sqlite:///:memory:"))
        analytics.identify("u1", {"email": "ada@example.com"})
        analytics.identify("u2", {"email": "bob@example.com"})
    assert reported(caplog) == [
        (
            logging.ERROR,
            "Intercom: 2 events not delivered, lost with the store in memory (2 pending)",
        )
    ]
