"""Building requests as clients send them, and reading back what the store kept."""

from __future__ import annotations

import base64
import gzip
import json
import time
from typing import Any

from intercom_destination.store import Store
from tests.ingest.conftest import NOW


def basic(user: str) -> dict[str, str]:
    """An Authorization header with `user` as the Basic credentials, as given (`key:` or `key`)."""
    return {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()}


def gzipped(document: Any) -> bytes:
    return gzip.compress(json.dumps(document).encode())


def track(message_id: str, user_id: str = "u1", **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Clicked",
        "userId": user_id,
        "messageId": message_id,
        **fields,
    }


def batch(
    *events: dict[str, Any], write_key: str = "WRITEKEY_PY", **envelope: Any
) -> dict[str, Any]:
    return {"batch": list(events), "writeKey": write_key, **envelope}


async def stored(store: Store, received_at: float | None = NOW) -> dict[str, dict[str, Any]]:
    """Every pending event the store holds, as the JSON it keeps, by messageId; each received
    at `received_at` (None: by the real clock, before now). Reads them the way a worker does,
    leasing lanes, and delivers them: the store is empty afterwards."""
    now = (time.time() if received_at is None else received_at) + 1
    events: dict[str, dict[str, Any]] = {}
    while leases := await store.lease("test", 100, 30, now):
        for lease in leases:
            document = json.loads(lease.event.body)
            assert document["messageId"] == lease.event.message_id
            assert document["type"] == lease.event.type
            if received_at is not None:
                assert lease.event.received_at == received_at
            events[lease.event.message_id] = document
            await store.delivered(lease, now=now)
    return events
