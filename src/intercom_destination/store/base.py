"""The store's vocabulary: the records it takes and gives, its errors and its limits (the
interface that uses them is in `protocols`).
"""

from __future__ import annotations

import enum
from typing import Any, Literal, NamedTuple

import msgspec

#: Where an Intercom id was learnt from: a user's external_id or email, a lead's Segment
#: anonymousId, or a company's company_id.
IdentityKind = Literal["external_id", "email", "anonymous_id", "company_id"]
#: The Intercom models that have custom data attributes.
Model = Literal["contact", "company"]
#: What happened to one attempt at an event, as the outcome log records it.
OutcomeName = Literal["delivered", "skipped", "retry", "dead", "parked"]

DEDUP_WINDOW = 24 * 3600.0
OUTCOME_LOG_ROWS = 100_000


class StoreError(Exception):
    """The store cannot do what was asked (a bad URL, a schema from a newer version, ...)."""


class NoStore(StoreError):
    """A store opened only to be read is not there; none was made (see `open_store`)."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"no store at {where} (DATABASE_URL): this command reads a store and creates "
            "none; point DATABASE_URL at the one `serve`, `ingest`, `send` or `worker` use"
        )


class LeaseLost(StoreError):
    """The lease was spent already, or another worker leased the lane after it expired."""


class VisitorInFlight(StoreError):
    """`link` found a worker delivering the visitor's lane head: merging the lane now would
    hand that event to the user's lane too, and send it twice."""

    def __init__(self, anonymous_id: str) -> None:
        super().__init__(f"an event of anonymous visitor {anonymous_id!r} is being delivered")


class Enqueued(enum.Enum):
    ACCEPTED = "accepted"
    #: An event with this messageId was accepted before (or earlier in the same batch).
    DUPLICATE = "duplicate"


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as ingest accepted it: its Segment JSON (after envelope merge) as bytes."""

    message_id: str
    type: str
    user_id: str | None = None
    anonymous_id: str | None = None
    received_at: float
    body: bytes

    @property
    def lane(self) -> str:
        return self.user_id or self.anonymous_id or ""


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    #: The store's id for the event; stable while the event is pending, parked or dead.
    id: int
    message_id: str
    lane: str
    type: str
    received_at: float
    body: bytes
    #: Attempts made so far (retries, and the final one of a dead letter).
    attempts: int


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """A worker's hold on one lane while it works on the lane's head event."""

    lane: str
    token: int
    expires_at: float
    event: StoredEvent
    #: The lane's pending events behind the head, in order, when `lease` was asked for them:
    #: a worker may deliver them under the same lease (see `Lanes.finish_many`).
    following: tuple[StoredEvent, ...] = ()
    #: Whether any of the lane's events was parked when it was leased. Only the lease's
    #: holder parks events in its lane (others unpark, merge or bury them), so while False
    #: none is, and delivery need not ask the store.
    parked: bool = True


#: What a budget refused: a new event name, or a custom attribute of a contact or company.
RefusalKind = Literal["event_name", "contact_attribute", "company_attribute"]


class TracedCall(msgspec.Struct, frozen=True, kw_only=True):
    """One Intercom request an attempt made, and its answer."""

    at: float
    method: str
    path: str
    #: The request's JSON body with secrets masked, cut to a bounded size; None without one.
    body: str | None
    #: The answer's HTTP status; None when no answer came (a timeout, a refused connection).
    status: int | None
    #: Intercom's id for the request (its `X-Request-Id`, or an error body's `request_id`).
    request_id: str | None
    duration: float
    #: The answer's body when it was an error, or why no answer came, cut to a bounded size.
    error: str | None = None


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """A name a workspace budget refused: an event not sent, an attribute dropped."""

    kind: RefusalKind
    name: str
    reason: str


class Trace(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt at an event did: its plan, the requests it made, and what budgets
    refused. Delivery collects it in memory and hands it to the call that records the
    attempt's outcome, which writes it in the same transaction."""

    #: The plan's operations as documents (`mapping.describe`, without their bodies, which
    #: the calls show); empty when it was skipped.
    operations: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    skip_reason: str | None = None
    calls: tuple[TracedCall, ...] = ()
    refusals: tuple[Refusal, ...] = ()


class Finished(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a lease's run that was delivered or skipped, for `Lanes.finish_many`."""

    event: StoredEvent
    outcome: Literal["delivered", "skipped"]
    #: The skip's reason, or what was changed on the way of a delivered event.
    reason: str | None = None
    calls: int = 0
    #: What the attempt that delivered or skipped it did, kept with its outcome.
    trace: Trace | None = None


class Parked(msgspec.Struct, frozen=True, kw_only=True):
    event: StoredEvent
    waiting_for: str
    until: float


class Attempt(msgspec.Struct, frozen=True, array_like=True):
    at: float
    outcome: str


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    event: StoredEvent
    died_at: float
    reason: str
    #: Every attempt's outcome, the last one being the final reason.
    history: tuple[Attempt, ...]


class OutcomeRow(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    message_id: str
    lane: str
    type: str
    outcome: OutcomeName
    reason: str | None
    #: Intercom API calls the attempt made.
    calls: int


class ContactRecord(NamedTuple):
    """What the store knows of a contact (`Store.contact_record`)."""

    #: Its Intercom id, as the identity cache holds it.
    intercom_id: str | None
    #: The digest and body last delivered for it (`put_digest`).
    digest: bytes | None
    body: bytes | None


class CompanyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the store keeps of a company that many users' lanes write.

    `state` is opaque to the store (the merged attributes: see `delivery.company_state`).
    `version` counts the record's writes from 1; `synced` says Intercom was sent this version
    and no later write came before the send was confirmed. `confirmed` is the state of the
    last version so confirmed (`CompanyRecords.company_synced` keeps it; a save leaves it),
    None before any was.
    """

    version: int
    synced: bool
    state: bytes
    confirmed: bytes | None = None


class Status(msgspec.Struct, frozen=True, kw_only=True):
    #: Lanes with pending events.
    lanes: int
    #: Lanes whose head is leased by a worker now.
    in_flight: int
    #: Pending events (parked and dead ones are not).
    backlog: int
    #: Seconds since the oldest pending event was received; None without a backlog.
    oldest_pending_age: float | None
    parked: int
    dead: int
    #: Counts of every outcome recorded, by outcome (from the counters, not the pruned log).
    outcomes: dict[str, int]


class Pause(msgspec.Struct, frozen=True):
    """Every worker waits until `until` (Unix seconds), for `reason` (None in a pause recorded
    before reasons were)."""

    until: float
    reason: str | None


#: Which id of a Segment event names a person.
IdKind = Literal["userId", "anonymousId"]
#: Where a deletion request is: recorded, being done, done, or stopped by an error.
DeletionState = Literal["pending", "running", "done", "failed"]


class Subject(msgspec.Struct, frozen=True):
    """A person to delete, by one of their ids."""

    kind: IdKind
    id: str


class Person(msgspec.Struct, frozen=True, kw_only=True):
    """Everything by which the store knows one person: their userIds, their anonymousIds
    (those given and those linked to the userIds), and their Intercom contacts' ids."""

    user_ids: tuple[str, ...] = ()
    anonymous_ids: tuple[str, ...] = ()
    contact_ids: tuple[str, ...] = ()

    @property
    def lanes(self) -> tuple[str, ...]:
        return self.user_ids + self.anonymous_ids


class Suppression(msgspec.Struct, frozen=True, kw_only=True):
    """An id whose events are refused, kept only as its salted hash (see `suppression`)."""

    hash: str
    suppressed_at: float


class Deletion(msgspec.Struct, frozen=True, kw_only=True):
    """A deletion request, and once it ends its audit record: the people's ids are kept only
    while it is pending or running (`subjects`), and for good only as salted hashes."""

    id: int
    requested_at: float
    state: DeletionState
    suppress: bool
    #: The ids to delete; empty once the request has ended.
    subjects: tuple[Subject, ...]
    #: The salted hash of each subject's id, in the same order (see `suppression`).
    hashes: tuple[str, ...]
    #: People done so far, of `len(hashes)`.
    done: int = 0
    #: Events (in any state, finished ones' identifiers too) removed from the store.
    events: int = 0
    #: Contacts deleted in Intercom.
    contacts: int = 0
    finished_at: float | None = None
    #: Why a failed request stopped.
    error: str | None = None
