"""The Intercom token, the write keys and the console's password appear in no page and no
API answer, whatever the store holds."""

from __future__ import annotations

import pytest

from intercom_destination.settings import Secret, Settings
from intercom_destination.store import Store
from tests.console.conftest import NOW, Connect
from tests.store.helpers import event

pytestmark = pytest.mark.anyio

TOKEN = "dG9rOnNlY3JldC10b2tlbg=="
WRITE_KEYS = ("wk-secret-one", "wk-secret-two")
PASSWORD = "console-secret-password"

#: Every page and GET answer of the console.
PATHS = (
    "/",
    "/events",
    "/events/m1",
    "/dead",
    "/tester",
    "/api/overview",
    "/api/events",
    "/api/events/m1",
    "/api/dead",
    "/api/csrf",
)


async def test_no_secret_is_ever_shown(store: Store, connect: Connect) -> None:
    await store.enqueue([event("m1")])
    for lease in await store.lease("w", 10, 30, NOW):
        await store.dead(lease, "401 unauthorized", now=NOW)
    settings = Settings(
        access_token=Secret(TOKEN),
        write_keys=tuple(Secret(key) for key in WRITE_KEYS),
        console_password=Secret(PASSWORD),
    )
    async with connect(settings, auth=("", PASSWORD)) as client:
        answers = [await client.get(path) for path in PATHS]
    assert [answer.status_code for answer in answers] == [200] * len(PATHS)
    shown = "".join(answer.text for answer in answers)
    assert "m1" in shown
    for secret in (TOKEN, *WRITE_KEYS, PASSWORD):
        assert secret not in shown
