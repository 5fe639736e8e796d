"""Which Intercom workspace the store's caches describe, settled once per process.

Contact and company ids, digests, attributes and event names are true of one workspace only.
Before a process first uses them it asks Intercom whose token it holds (`GET /me`) and has the
store claim that workspace, which empties caches learnt from any other (a new token, region or
`api_url`, a sandbox that started empty) or from one it cannot name (a store from before
workspaces were recorded). Every process of a fleet does the same, and finds the caches its
peers filled for the same workspace.
"""

from __future__ import annotations

import asyncio
import logging

from intercom_destination.delivery.attempt import DeliveryAttempt
from intercom_destination.intercom import IntercomClient
from intercom_destination.store import Store

log = logging.getLogger(__name__)


class Workspace:
    def __init__(self, client: IntercomClient, store: Store) -> None:
        self._client = client
        self._store = store
        self._lock = asyncio.Lock()
        self._claimed = False

    async def claim(self, attempt: DeliveryAttempt) -> None:
        """Make the store's caches those of this token's workspace, the first time only."""
        if self._claimed:
            return
        async with self._lock:
            if self._claimed:
                return
            admin = await attempt.call(self._client.me)
            # Intercom always names the app; the API's address stands in should it not.
            address = self._client.connection.base_url
            app = admin.app.id_code if admin.app and admin.app.id_code else address
            previous = await self._store.claim_workspace(app)
            if previous is not None and previous != app:
                log.warning(
                    "the store's identity cache described Intercom workspace %r and this token "
                    "is for %r: the cache was emptied, and contacts and companies are "
                    "looked up again as events need them",
                    previous,
                    app,
                )
            self._claimed = True
