"""The store's interface, one protocol per concern: durable per-user lanes of events, and the
engine's small state. `Store` is all of them; a part of the engine that needs one concern
may ask for that one only.

Every time is Unix seconds (`time.time()`), passed in by the caller so that tests and
several processes agree on the clock they are given; durations are seconds too.

Lanes. Each event belongs to one lane, its user's: `userId`, else `anonymousId` (or, once
`link` joined them, the user the anonymousId belongs to). A lane delivers its pending events
one at a time in order. Workers lease whole lanes: a lease hands out the lane's *head* event
and nobody else gets that lane until the head is finished (delivered, skipped, dead, parked),
retried (the lane then waits until the retry time), or the lease expires (then another
worker gets the same head again: delivery is at-least-once). Many lanes are in flight at
once, so a busy or failing user only ever holds up their own lane.

A lease is spent by the first call that finishes or retries its head; a call made with a
lease that is spent, or that another worker took over after it expired, raises `LeaseLost`
and changes nothing.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Protocol, Self

from intercom_destination.store.base import (
    CompanyRecord,
    ContactRecord,
    DeadLetter,
    Deletion,
    Enqueued,
    Finished,
    IdentityKind,
    Lease,
    Model,
    NewEvent,
    OutcomeRow,
    Parked,
    Pause,
    Person,
    Status,
    Subject,
    Suppression,
    Trace,
)
from intercom_destination.store.bucket import Grant
from intercom_destination.store.console import (
    DeadGroup,
    EventQuery,
    Overview,
    Page,
    Story,
)


class Inbox(Protocol):
    """Where ingest puts the events it accepted."""

    @abc.abstractmethod
    async def enqueue(self, events: Sequence[NewEvent]) -> list[Enqueued]:
        """Append the events to their lanes, durably, in one transaction.

        Returns one result per event, in order. An event whose `message_id` the store holds
        (pending, parked, dead, or finished within the dedup window), or that appears earlier
        in `events`, is a duplicate: it is acknowledged and not stored again. When the call
        returns, every accepted event is on disk; if it raises, none of them is stored.

        Concurrent calls are group-committed: they share transactions, so many small
        batches from many requests cost about what a few large ones do. Within a lane,
        events are ordered by arrival (by call, then by position in `events`).
        """


class Lanes(Protocol):
    """The lanes workers lease, finish, retry and park events in."""

    @abc.abstractmethod
    async def lease(
        self, worker_id: str, max_lanes: int, lease_for: float, now: float, *, following: int = 0
    ) -> list[Lease]:
        """Lease up to `max_lanes` ready lanes for `lease_for` seconds, with their heads.

        A lane is ready when its head may be tried (its retry time, if any, is past) and it
        is not leased, or its lease expired. Lanes that have waited longest come first, so
        a lane that was just served queues behind every other ready lane. An event leased
        again after an expired lease is the same event, with the same attempt count. Each
        lease carries up to `following` of the lane's pending events behind its head, and
        whether the lane has parked events.
        """

    @abc.abstractmethod
    async def extend(self, lease: Lease, lease_for: float, now: float) -> Lease:
        """The same lease, expiring `lease_for` seconds after `now`; for long deliveries."""

    @abc.abstractmethod
    async def delivered(
        self,
        lease: Lease,
        *,
        now: float,
        calls: int = 0,
        note: str | None = None,
        trace: Trace | None = None,
    ) -> None:
        """The head was delivered: it leaves the lane (its messageId is kept for dedup).

        `note` (what was dropped on the way, say) is the outcome log row's reason. Each call
        that records an attempt's outcome (this one, `skipped`, `dead`, `retry`, `park`)
        keeps the attempt's `trace`, when given, in the same transaction (see `Console`).
        """

    @abc.abstractmethod
    async def finish_many(
        self, lease: Lease, finished: Sequence[Finished], *, now: float, keep: bool = False
    ) -> Lease | None:
        """The head and the events after it (`lease.following`, in order, as many as
        `finished` names) were delivered or skipped: they leave the lane in one transaction,
        each with its outcome log row, as `delivered` and `skipped` would have them.

        Without `keep` the lease ends. With it the worker keeps the lane, its head now the
        lane's next pending event, and gets that lease (to record the next event's outcome);
        None when the lane has no pending event left (it is gone, as after `delivered`).
        """

    @abc.abstractmethod
    async def skipped(
        self,
        lease: Lease,
        reason: str,
        *,
        now: float,
        calls: int = 0,
        trace: Trace | None = None,
    ) -> None:
        """The head needs no delivery (`reason` says why): it leaves the lane like `delivered`."""

    @abc.abstractmethod
    async def dead(
        self,
        lease: Lease,
        reason: str,
        *,
        now: float,
        calls: int = 0,
        trace: Trace | None = None,
    ) -> None:
        """The head cannot be delivered: it leaves the lane for the dead letters.

        The dead letter keeps the event's bytes, every earlier attempt's outcome (from
        `retry`) and this final attempt, whose outcome is `reason`.
        """

    @abc.abstractmethod
    async def retry(
        self,
        lease: Lease,
        at: float,
        outcome: str,
        *,
        now: float,
        calls: int = 0,
        trace: Trace | None = None,
    ) -> None:
        """Try the head again at `at`: it stays the head and the lane waits until then.

        The attempt count goes up by one and `outcome` (what went wrong) joins the event's
        attempt history.
        """

    @abc.abstractmethod
    async def park(
        self,
        lease: Lease,
        waiting_for: str,
        until: float,
        *,
        now: float,
        calls: int = 0,
        trace: Trace | None = None,
        reason: str | None = None,
    ) -> None:
        """Set the head aside until `waiting_for` happens; the lane goes on with its next event.

        `waiting_for` is a key the executor chooses (say `contact:42`, the contact the event
        needs); `reason`, what it waits for in words, is the outcome log row's reason (the
        key when None). `unpark` puts the event back; past `until`, `expired_parked` lists it.
        """

    @abc.abstractmethod
    async def unpark(
        self, *, lane: str | None = None, waiting_for: str | None = None, now: float
    ) -> int:
        """Put parked events back at the front of their lanes; returns how many.

        Matches events parked in `lane`, waiting for `waiting_for`, or both (at least one
        must be given). They go back in their original order ahead of every pending event
        of the lane, except a head that was already handed to a worker: called while the
        executor holds the lease on the identify that made the contact known, they are
        delivered right after that identify.
        """

    @abc.abstractmethod
    async def waiting_in(self, lane: str) -> str | None:
        """What the lane's oldest parked event waits for; None when none of its events is."""

    @abc.abstractmethod
    async def expired_parked(self, now: float, limit: int = 100) -> list[Parked]:
        """Parked events whose `until` is past, oldest first, for `dead_parked`."""

    @abc.abstractmethod
    async def dead_parked(self, event_id: int, reason: str, *, now: float) -> bool:
        """Move a parked event to the dead letters; False if it is no longer parked."""

    @abc.abstractmethod
    async def link(
        self, anonymous_id: str, user_id: str, *, now: float, force: bool = False
    ) -> int:
        """Remember that `anonymous_id` is `user_id`, and merge the anonymous lane into theirs.

        The anonymous lane's pending and parked events move, with their bytes, into the
        user's lane in the order events arrived: behind the head the user's lane has now (the
        identify being delivered), among the user's own events as they came in. Events
        enqueued later with this anonymousId and no userId go straight to the user's lane.
        Returns how many events moved.

        While a worker holds a live lease on the anonymous lane, its head is on its way to
        Intercom: nothing changes and `VisitorInFlight` is raised. Link again once the head
        is finished (or the lease expired): an event is never in two lanes at once, so it is
        neither sent twice nor overtaken by the user's lane. With `force` the head moves too
        and that lease is lost, as if it had expired.
        """


class DeadLetters(Protocol):
    """The events that could not be delivered, to look at, replay or purge."""

    @abc.abstractmethod
    async def dead_letters(self, limit: int = 100, after_id: int = 0) -> list[DeadLetter]:
        """Dead letters by id, from the first with an id above `after_id`."""

    @abc.abstractmethod
    async def dead_letter(self, event_id: int) -> DeadLetter | None: ...

    @abc.abstractmethod
    async def replay(self, event_ids: Sequence[int] | None = None, *, now: float) -> int:
        """Put dead letters (all, or those named) back in their lanes; returns how many.

        They go to the front of their lanes as `unpark` places events, in their original
        order, with their attempt count and history reset.
        """

    @abc.abstractmethod
    async def purge(self, event_ids: Sequence[int] | None = None) -> int:
        """Delete dead letters (all, or those named) for good; returns how many."""

    @abc.abstractmethod
    async def replay_shape(self, shape: str, *, now: float) -> int:
        """Replay the dead letters whose reason has the shape `shape` (a `DeadGroup`'s)."""

    @abc.abstractmethod
    async def purge_shape(self, shape: str) -> int:
        """Purge the dead letters whose reason has the shape `shape`."""


class DeliveryCache(Protocol):
    """What delivery learnt of one Intercom workspace: ids, digests and bodies, attributes
    and event names (`claim_workspace` empties them all when the workspace changes)."""

    @abc.abstractmethod
    async def claim_workspace(self, workspace: str) -> str | None:
        """Record that the caches below describe the Intercom workspace `workspace`.

        If they described another one, or none is recorded (a store from before workspaces
        were), they are emptied first, in the same transaction: ids, digests and bodies,
        attributes and event names of one workspace are wrong in any other. Returns the
        workspace recorded before, None if there was none.
        """

    @abc.abstractmethod
    async def get_identity(self, kind: IdentityKind, key: str) -> str | None:
        """The Intercom id cached for a contact or company key, if any."""

    @abc.abstractmethod
    async def put_identity(self, kind: IdentityKind, key: str, intercom_id: str) -> None: ...

    @abc.abstractmethod
    async def delete_identity(self, kind: IdentityKind, key: str) -> None:
        """Forget a cached id (Intercom answered 404 for it, say)."""

    @abc.abstractmethod
    async def attributes(self, model: Model) -> dict[str, str]:
        """The custom attributes known for `model`: name → Intercom data type."""

    @abc.abstractmethod
    async def replace_attributes(self, model: Model, attributes: Mapping[str, str]) -> None:
        """Replace every known attribute of `model` (after listing them from Intercom)."""

    @abc.abstractmethod
    async def add_attribute(self, model: Model, name: str, data_type: str) -> None: ...

    @abc.abstractmethod
    async def add_event_name(self, name: str, *, budget: int | None = None) -> bool:
        """Reserve a slot for an event name; atomically within `budget` names.

        Returns True when the name is known afterwards, False when it is new and `budget`
        names are known already (then it is not added). A new name holds its slot until
        `accept_event_name` or `release_event_name` says how its event went.
        """

    @abc.abstractmethod
    async def accept_event_name(self, name: str) -> None:
        """Intercom accepted an event with this name: it keeps its slot for good."""

    @abc.abstractmethod
    async def release_event_name(self, name: str) -> None:
        """The event did not reach Intercom: the name gives its slot back, unless an event
        with it was accepted before."""

    @abc.abstractmethod
    async def event_names(self) -> list[str]:
        """The event names known, sorted."""

    @abc.abstractmethod
    async def count_event_names(self) -> int: ...

    @abc.abstractmethod
    async def get_digest(self, contact: str) -> bytes | None:
        """The digest of the attributes last delivered for a contact key."""

    @abc.abstractmethod
    async def put_digest(self, contact: str, digest: bytes, body: bytes | None = None) -> None:
        """Record the digest of what was delivered for a key, and the body it digests."""

    @abc.abstractmethod
    async def delete_digests(self, *, prefix: str, suffix: str = "") -> None:
        """Forget the digests of every key that starts with `prefix` and ends with `suffix`
        (what was attached to a contact or company Intercom lost), and maybe a few more:
        that only costs a call that was not needed."""

    @abc.abstractmethod
    async def last_body(self, contact: str) -> bytes | None:
        """The body last delivered for a key (`put_digest`), to rebuild what Intercom lost."""

    @abc.abstractmethod
    async def contact_record(self, kind: IdentityKind, key: str, contact: str) -> ContactRecord:
        """In one read, the Intercom id cached for the contact `kind`, `key`
        (`get_identity`), and the digest and body last delivered for its key `contact`."""


class CompanyRecords(Protocol):
    """The records of companies, which many lanes write at once."""

    @abc.abstractmethod
    async def company_record(self, company_id: str) -> CompanyRecord | None:
        """The record of the company with this company_id, if one was saved."""

    @abc.abstractmethod
    async def save_company_record(self, company_id: str, record: CompanyRecord) -> bool:
        """Write `record` if it follows the stored one: the stored version is
        `record.version - 1` (no record at all, for version 1).

        Returns False, writing nothing, when another write came first: of several workers
        that read the same version and each write the next, exactly one succeeds.
        """

    @abc.abstractmethod
    async def company_synced(self, company_id: str, version: int) -> bool:
        """Mark `version` as the one Intercom holds, if it is still the latest, and keep its
        state as the record's `confirmed`.

        Returns False, marking nothing, when a later version was saved meanwhile.
        """


class RateBucket(Protocol):
    """The rate budget, shared by every worker using this store."""

    @abc.abstractmethod
    async def take_tokens(self, most: int, now: float, rate: float, burst: float) -> Grant:
        """Take up to `most` tokens from the bucket that refills at `rate` per second up to
        `burst`: every whole token it holds up to `most`, at least one.

        When it holds less than one token, takes nothing and says when to ask again: when
        `most` tokens will have refilled, or the end of a pause if that is later. `most`
        below 1 or above `burst` can never be granted (ValueError).
        """

    @abc.abstractmethod
    async def pause_until(self, until: float, reason: str) -> None:
        """Grant no tokens before `until` (after a 429, or a token Intercom refused), for
        `reason`; a pause is only ever lengthened, and keeps the reason of the longest."""

    @abc.abstractmethod
    async def pause(self) -> Pause | None:
        """The latest pause (it may have ended), or None if there never was one."""


class Observation(Protocol):
    """What the store did (its outcome log and counts), and its upkeep."""

    @abc.abstractmethod
    async def outcomes(self, limit: int = 100) -> list[OutcomeRow]:
        """The latest outcome log rows, newest first.

        Every `delivered`, `skipped`, `dead`, `retry`, `park` and `dead_parked` appends one,
        in the same transaction; the log keeps the latest rows (see `prune`).
        """

    @abc.abstractmethod
    async def status(self, now: float) -> Status:
        """The lanes and events now, and every outcome ever recorded, counted exactly."""

    @abc.abstractmethod
    async def prune(self, now: float, limit: int = 10_000) -> int:
        """Forget what is no longer needed; returns how many rows went.

        Removes the messageIds of events finished longer ago than the dedup window,
        outcome rows past the log's size, traces past their retention (see `Console`), and
        folds old per-minute counters into coarser ones. At most `limit` rows of each go per
        call, so that other writers are not held up long; call again while it returns `limit`
        or more.
        """


class Erasure(Protocol):
    """Deleting people: fencing their lanes, erasing all the store holds of them, the ids
    whose events are refused, and the deletion requests with their audit records."""

    @abc.abstractmethod
    async def salt(self) -> bytes:
        """This store's secret salt for hashing people's ids, made the first time it is asked."""

    @abc.abstractmethod
    async def linked_visitors(self, user_ids: Sequence[str]) -> list[str]:
        """The anonymousIds `link` joined to these userIds."""

    @abc.abstractmethod
    async def contact_ids(self, person: Person) -> list[str]:
        """The Intercom ids the identity cache holds for the person's userIds (as external_ids)
        and anonymousIds (as leads), and for the emails their events gave (see `outcomes`)."""

    @abc.abstractmethod
    async def count_events(self, lanes: Sequence[str]) -> int:
        """How many events the lanes hold, in any state (those waiting to be sorted aside)."""

    @abc.abstractmethod
    async def fence(
        self, lanes: Sequence[str], holder: str, *, until: float, now: float
    ) -> list[str]:
        """Take the lease of each of `lanes` that has events, for `holder`, until `until`:
        no worker gets them meanwhile, and a worker's lease on them is lost. Returns the
        lanes a worker's live lease holds now, which are not taken: ask again once they are
        finished. Events not yet sorted into their lanes are sorted first."""

    @abc.abstractmethod
    async def erase(self, person: Person, *, now: float) -> int:
        """Remove everything the store holds of the person, so that none of it can be read
        back from its files; how many events went.

        Their lanes' events in every state (finished ones' identifiers too), and so their
        leases; their outcome rows, links, identity cache entries (those for their contact
        ids as well, by whatever key) and digests.
        """

    @abc.abstractmethod
    async def suppress(self, hashes: Sequence[str], *, now: float) -> None:
        """Refuse the events of the ids with these salted hashes from now on."""

    @abc.abstractmethod
    async def unsuppress(self, hash: str) -> bool:
        """Stop refusing the id with this salted hash; False if it was not suppressed."""

    @abc.abstractmethod
    async def suppressions(self) -> list[Suppression]:
        """Every suppressed id's hash, oldest first."""

    @abc.abstractmethod
    async def request_deletion(
        self, subjects: Sequence[Subject], hashes: Sequence[str], *, suppress: bool, now: float
    ) -> Deletion:
        """Record a pending deletion request of `subjects`, whose salted hashes are `hashes`."""

    @abc.abstractmethod
    async def deletion(self, deletion_id: int) -> Deletion | None: ...

    @abc.abstractmethod
    async def deletions(self, limit: int = 100) -> list[Deletion]:
        """The latest deletion requests, newest first."""

    @abc.abstractmethod
    async def record_deletion(self, deletion: Deletion) -> None:
        """Write a request's progress; once it has ended, its subjects are forgotten."""


class Console(Protocol):
    """What a person watching deliveries asks: how they go, what happened to one event, what
    died and why. Every answer reads indexes or the counters kept with the outcome log, so it
    stays fast on a store of millions of outcomes.

    The outcome log's rows carry the event's userId, anonymousId, email (its traits', or its
    context's) and event name, for search and for erasing a person; a trace, when the call
    recording an attempt gave one, is kept with the event as received for `TRACE_RETENTION`
    seconds and at most `TRACE_ROWS` attempts (`open_store` takes others); `prune` removes
    older ones and remembers up to when it did, so that a story says its traces were pruned.
    """

    @abc.abstractmethod
    async def overview(self, now: float, window: int) -> Overview:
        """Deliveries over the `window` seconds before `now`: by minute for a window of up
        to an hour, else by hour; counts older than a day are kept by hour only, older than
        a week as totals."""

    @abc.abstractmethod
    async def search(self, query: EventQuery) -> Page:
        """Outcome rows matching `query`, newest first, a page at a time: one row per attempt,
        so an event retried or parked before it was delivered has several."""

    @abc.abstractmethod
    async def story(self, message_id: str) -> Story | None:
        """The event's story; None when the store knows nothing of it (on SQLite, an event
        accepted moments ago may still wait in its segment file to be sorted into its lane)."""

    @abc.abstractmethod
    async def dead_groups(self, limit: int = 100) -> list[DeadGroup]:
        """Dead letters grouped by the shape of their reason, the largest groups first."""


class Store(
    Inbox,
    Lanes,
    DeadLetters,
    DeliveryCache,
    CompanyRecords,
    RateBucket,
    Observation,
    Erasure,
    Console,
    Protocol,
):
    """The engine's one durable store; `open_store(database_url)` gives one.

    Implementations are safe to use from many asyncio tasks at once; the lanes, leases and
    the rate bucket are also correct across processes sharing one database.
    """

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish the work already asked for, then release the database."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
