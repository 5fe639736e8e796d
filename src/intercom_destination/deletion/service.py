"""Deleting people, in Intercom and in the store: requests recorded with their progress, and
the same work whether the command line or the console's API asked for it.

A request is recorded first (`request`), pending, with its people's ids; `run` then does it,
one person at a time, writing its progress to the store after each. For each person it

1. fences their lanes: takes their leases, once no worker delivers one of their events, so
   that no event of theirs reaches Intercom while they are deleted (and a worker that held
   an expired lease loses it);
2. deletes their Intercom contacts, found through the identity cache, or the user by their
   external_id (never by a search, which lags): one Intercom does not know is done already;
3. erases them from the store (`Store.erase`), which also ends the fence.

With `suppress`, the people's ids (and the anonymousIds linked to their userIds) are
suppressed before anything else, and the run waits until every process's copy of the
suppression list has been read again and the requests checked against an older copy have been
stored (`SUPPRESSION_SETTLES`): from then on no event of theirs is stored, so none can arrive
after their lanes were erased. Once the request ends, the store keeps only its audit
record: when, how many people, events and contacts, and the ids' salted hashes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import msgspec
from msgspec.structs import replace

from intercom_destination.delivery.connection import intercom_connection
from intercom_destination.delivery.pacer import Pacer
from intercom_destination.intercom import IntercomClient, Transport
from intercom_destination.intercom.errors import IntercomError, NotFound, RateLimited
from intercom_destination.settings import Settings
from intercom_destination.store import Deletion, Person, Store, Subject
from intercom_destination.store.suppression import SUPPRESSION_SETTLES, id_hash

T = TypeVar("T")

#: Who holds a fenced lane: any deletion, so that running a deletion again takes over the
#: lanes one that stopped half-way still holds.
HOLDER = "deletion"
#: How long a fence holds a lane (seconds). A deletion that stops before it erased keeps the
#: person's events from Intercom until it is run again, or for this long.
FENCE_FOR = 24 * 3600.0
#: How often to look again whether a worker finished with a lane (seconds, doubling).
FIRST_POLL = 0.05
MAX_POLL = 1.0
#: Tries of one Intercom call that fails transiently (a 5xx, a timeout), backing off from
#: `BACKOFF_BASE` seconds, doubling up to `BACKOFF_CAP`; a 429 waits for the budget instead.
TRIES = 6
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
#: The latest requests `unfinished` looks among.
UNFINISHED = 1000


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    """What deleting one person would delete (`--dry-run`)."""

    subject: Subject
    #: The anonymousIds linked to a userId, deleted with it.
    linked: tuple[str, ...]
    events: int
    contacts: tuple[str, ...]


class Deletions:
    """Deletion requests over one store, deleting contacts through one Intercom client."""

    def __init__(
        self,
        store: Store,
        client: IntercomClient,
        pacer: Pacer,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        suppression_lag: float = SUPPRESSION_SETTLES,
        backoff_base: float = BACKOFF_BASE,
    ) -> None:
        self._store = store
        self._client = client
        self._pacer = pacer
        self._clock = clock
        self._sleep = sleep
        self._suppression_lag = suppression_lag
        self._backoff_base = backoff_base

    async def request(self, subjects: Sequence[Subject], *, suppress: bool) -> Deletion:
        """Record a pending request to delete `subjects` (and suppress them, if asked)."""
        salt = await self._store.salt()
        hashes = [id_hash(salt, subject.kind, subject.id) for subject in subjects]
        return await self._store.request_deletion(
            subjects, hashes, suppress=suppress, now=self._clock()
        )

    async def unfinished(self) -> list[Deletion]:
        """The requests that have not ended, oldest first: pending, or running when the
        process running them stopped. They hold their people's ids until they are run."""
        recorded = await self._store.deletions(limit=UNFINISHED)
        return [d for d in reversed(recorded) if d.state in ("pending", "running")]

    async def progress(self, deletion_id: int) -> Deletion | None:
        """The request as recorded: its state and counts so far."""
        return await self._store.deletion(deletion_id)

    async def run(
        self, deletion: Deletion, on_progress: Callable[[Deletion], None] | None = None
    ) -> Deletion:
        """Do a recorded request; it ends done, or failed with the reason. `on_progress` is
        told of each person done."""
        current = replace(deletion, state="running")
        await self._store.record_deletion(current)
        try:
            people = [await self._person(subject) for subject in deletion.subjects]
            if deletion.suppress:
                await self._suppress(people)
            for person in people:
                events, contacts = await self._delete(person)
                current = replace(
                    current,
                    done=current.done + 1,
                    events=current.events + events,
                    contacts=current.contacts + contacts,
                )
                await self._store.record_deletion(current)
                if on_progress is not None:
                    on_progress(current)
        except Exception as error:  # the request ends failed, saying why, whatever went wrong
            current = replace(
                current,
                state="failed",
                subjects=(),
                finished_at=self._clock(),
                error=_without_ids(f"{type(error).__name__}: {error}", deletion.subjects),
            )
        else:
            current = replace(current, state="done", subjects=(), finished_at=self._clock())
        await self._store.record_deletion(current)
        return current

    async def preview(self, subjects: Sequence[Subject]) -> list[Preview]:
        """What deleting `subjects` would delete, deleting nothing."""
        previews = []
        for subject in subjects:
            person = await self._with_contacts(await self._person(subject))
            previews.append(
                Preview(
                    subject=subject,
                    linked=person.anonymous_ids if subject.kind == "userId" else (),
                    events=await self._store.count_events(person.lanes),
                    contacts=person.contact_ids,
                )
            )
        return previews

    async def _person(self, subject: Subject) -> Person:
        """The lanes the store keeps the subject's events in."""
        if subject.kind == "anonymousId":
            return Person(anonymous_ids=(subject.id,))
        linked = await self._store.linked_visitors([subject.id])
        return Person(user_ids=(subject.id,), anonymous_ids=tuple(linked))

    async def _with_contacts(self, person: Person) -> Person:
        """The person with their Intercom contacts: those the identity cache knows, and
        their users that Intercom finds by external_id."""
        contacts = set(await self._store.contact_ids(person))
        for user_id in person.user_ids:
            if await self._store.get_identity("external_id", user_id) is None:
                found = await self._call(partial(self._client.find_contact_by_external_id, user_id))
                if found is not None:
                    contacts.add(found.id)
        return replace(person, contact_ids=tuple(sorted(contacts)))

    async def _suppress(self, people: Sequence[Person]) -> None:
        salt = await self._store.salt()
        hashes = [
            *(id_hash(salt, "userId", user) for person in people for user in person.user_ids),
            *(
                id_hash(salt, "anonymousId", visitor)
                for person in people
                for visitor in person.anonymous_ids
            ),
        ]
        await self._store.suppress(hashes, now=self._clock())
        # Then no process stores their events any more, and those taken before are stored.
        await self._sleep(self._suppression_lag)

    async def _delete(self, person: Person) -> tuple[int, int]:
        """Delete one person: fence, Intercom, store; how many events and contacts went."""
        await self._fence(person)
        # Looked up once no worker can create the contact any more.
        person = await self._with_contacts(person)
        deleted = 0
        for contact_id in person.contact_ids:
            try:
                await self._call(partial(self._client.delete_contact, contact_id))
            except NotFound:
                continue  # gone already: that is what was asked
            deleted += 1
        events = await self._store.erase(person, now=self._clock())
        return events, deleted

    async def _fence(self, person: Person) -> None:
        """Hold the person's lanes, waiting for the workers delivering one of their events."""
        poll = FIRST_POLL
        while True:
            now = self._clock()
            busy = await self._store.fence(person.lanes, HOLDER, until=now + FENCE_FOR, now=now)
            if not busy:
                return
            await self._sleep(poll)
            poll = min(MAX_POLL, poll * 2)

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        """One Intercom call within the shared rate budget, tried again while it fails
        transiently."""
        tries = 0
        while True:
            await self._pacer.acquire()
            try:
                return await request()
            except RateLimited as error:
                await self._pacer.rate_limited(error.reset_at)
            except IntercomError as error:
                tries += 1
                if not error.transient or tries >= TRIES:
                    raise
                await self._sleep(min(BACKOFF_CAP, self._backoff_base * 2 ** (tries - 1)))


@asynccontextmanager
async def open_deletions(
    settings: Settings,
    store: Store,
    *,
    transport: Transport | None = None,
    suppression_lag: float = SUPPRESSION_SETTLES,
    backoff_base: float = BACKOFF_BASE,
) -> AsyncIterator[Deletions]:
    """Deletions over `store`, calling the Intercom `settings` name within the rate budget
    the workers share."""
    async with IntercomClient(intercom_connection(settings), transport=transport) as client:
        pacer = Pacer(
            store,
            client.rate_limit,
            share=settings.rate_share,
            clock=time.time,
            sleep=asyncio.sleep,
            rng=random.Random(),
        )
        yield Deletions(
            store,
            client,
            pacer,
            suppression_lag=suppression_lag,
            backoff_base=backoff_base,
        )


def _without_ids(text: str, subjects: Sequence[Subject]) -> str:
    """`text` (an error, which may quote a request's path) with the people's ids masked: the
    audit record must not name them."""
    for subject in sorted(subjects, key=lambda subject: -len(subject.id)):
        text = text.replace(subject.id, "<id>")
    return text
