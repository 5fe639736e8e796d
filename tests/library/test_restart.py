"""A process killed before flush() loses nothing its destination took: the file store keeps
the events, and the next start delivers them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from intercom_destination.library import Analytics, Flushed, IntercomDestination
from tests.library import sandbox as sb
from tests.library.store import pending
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

USERS = 20

APPLICATION = """
import sys
from intercom_destination.library import Analytics, IntercomDestination

api_url, database_url, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
analytics = Analytics()
# Nothing answers at api_url: every delivery fails and is retried later. A short lease lets
# the next start take over a lane this process was delivering when it was killed.
analytics.add(IntercomDestination(api_url=api_url, database_url=database_url, lease_for=1.0))
for n in range(users):
    analytics.identify(f"u{n}", {"email": f"u{n}@example.com"}, message_id=f"identify-{n}")
    analytics.track(f"u{n}", "Signed Up", message_id=f"track-{n}")
analytics.flush()
"""


def test_events_survive_a_kill_and_are_delivered_on_the_next_start(
    sandbox: str, tmp_path: Path
) -> None:
    database = tmp_path / "app.db"
    database_url = f"sqlite:///{database}"
    nowhere = sb.nowhere()
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        application = subprocess.Popen(
            [sys.executable, "-c", APPLICATION, nowhere, database_url, str(USERS)], stderr=stderr
        )
    try:

        def stored() -> bool:
            assert application.poll() is None, errors.read_text()
            return database.exists() and asyncio.run(pending(database_url)) >= 2 * USERS

        wait_until(stored, "the application stores its events")
    finally:
        application.kill()
        application.wait()

    with Analytics() as analytics:
        analytics.add(IntercomDestination(api_url=sandbox, database_url=database_url))
        assert analytics.flush() == Flushed(waiting=0, dead=0)
    contacts = {c["external_id"] for c in sb.state(sandbox)["contacts"]}
    assert contacts == {f"u{n}" for n in range(USERS)}
    assert sb.event_names(sandbox) == ["Signed Up"] * USERS


EXITING = """
import sys
from intercom_destination.library import Analytics, IntercomDestination

analytics = Analytics()
analytics.add(IntercomDestination(api_url=sys.argv[1], database_url="sqlite:///:memory:"))
analytics.identify("u1", {"email": "ada@example.com"})
analytics.track(event="Signed Up")
"""


def test_an_application_that_exits_without_close_delivers_at_exit(sandbox: str) -> None:
    subprocess.run([sys.executable, "-c", EXITING, sandbox], check=True, timeout=60)
    assert sb.event_names(sandbox, "u1") == ["Signed Up"]
