"""People whose events are refused, by the salted hashes of their ids.

The store keeps a suppressed id only as its hash under the store's own salt, so that the list
names no one to whoever reads the store's files; an event's ids are hashed the same way to be
looked up. Ingest reads the list often, so each process holds a copy in memory and reads it
again once it is `SUPPRESSION_REFRESH` seconds old: a suppression refuses events in every
process sharing the store within that time.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

import msgspec

from intercom_destination.store.base import IdKind
from intercom_destination.store.protocols import Erasure

#: The most a process's copy of the list lags the store, seconds.
SUPPRESSION_REFRESH = 5.0
#: How long after a suppression every process refuses the person's events and has stored
#: those it took before: the copies' lag, and as long again for a request that was checked
#: against an older copy to finish storing. A deletion that suppresses waits this long
#: before it erases, so that no event of the person stored meanwhile survives it.
SUPPRESSION_SETTLES = 2 * SUPPRESSION_REFRESH


def id_hash(salt: bytes, kind: IdKind, value: str) -> str:
    """The salted hash of one of a person's ids, as suppressions and audit records keep it."""
    return hashlib.blake2b(f"{kind}:{value}".encode(), key=salt, digest_size=16).hexdigest()


class Suppressed(msgspec.Struct, frozen=True):
    """A copy of the suppression list."""

    salt: bytes
    hashes: frozenset[str]

    def refuses(self, user_id: str | None, anonymous_id: str | None) -> bool:
        """Whether an event with these ids is refused."""
        if not self.hashes:
            return False
        return (user_id is not None and id_hash(self.salt, "userId", user_id) in self.hashes) or (
            anonymous_id is not None
            and id_hash(self.salt, "anonymousId", anonymous_id) in self.hashes
        )


NOBODY = Suppressed(b"", frozenset())


class SuppressionList:
    """This process's copy of the store's suppression list, read again when it is stale."""

    def __init__(
        self,
        store: Erasure,
        *,
        refresh: float = SUPPRESSION_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh = refresh
        self._clock = clock
        self._current = NOBODY
        self._read_at: float | None = None
        self._reading = asyncio.Lock()

    async def current(self) -> Suppressed:
        """The list, read from the store if this copy is older than `refresh` seconds."""
        if self._fresh():
            return self._current
        async with self._reading:
            if not self._fresh():
                read_at = self._clock()
                hashes = frozenset(s.hash for s in await self._store.suppressions())
                # The salt is only needed, and made, once someone is suppressed.
                salt = await self._store.salt() if hashes else b""
                self._current, self._read_at = Suppressed(salt, hashes), read_at
        return self._current

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self._refresh
