"""Reading the store an application's destination wrote to."""

from __future__ import annotations

import time

from intercom_destination.store import open_store


async def pending(database_url: str) -> int:
    async with await open_store(database_url) as store:
        return (await store.status(time.time())).backlog
