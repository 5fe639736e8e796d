"""The store: durable per-user lanes of events, and the engine's small state (see `protocols`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from intercom_destination.store.base import (
    DEDUP_WINDOW,
    OUTCOME_LOG_ROWS,
    Attempt,
    CompanyRecord,
    ContactRecord,
    DeadLetter,
    Deletion,
    DeletionState,
    Enqueued,
    Finished,
    IdentityKind,
    IdKind,
    Lease,
    LeaseLost,
    Model,
    NewEvent,
    NoStore,
    OutcomeName,
    OutcomeRow,
    Parked,
    Pause,
    Person,
    Refusal,
    RefusalKind,
    Status,
    StoredEvent,
    StoreError,
    Subject,
    Suppression,
    Trace,
    TracedCall,
    VisitorInFlight,
)
from intercom_destination.store.bucket import Grant
from intercom_destination.store.console import (
    SEARCH_KEYS,
    TRACE_RETENTION,
    TRACE_ROWS,
    Count,
    DeadGroup,
    EventQuery,
    EventState,
    Found,
    Overview,
    Page,
    RefusedName,
    SearchKey,
    Story,
    TracedAttempt,
    Waits,
)
from intercom_destination.store.incoming import new_event
from intercom_destination.store.names import without_credentials
from intercom_destination.store.protocols import (
    CompanyRecords,
    Console,
    DeadLetters,
    DeliveryCache,
    Erasure,
    Inbox,
    Lanes,
    Observation,
    RateBucket,
    Store,
)
from intercom_destination.store.sqlite import SQLiteStore
from intercom_destination.store.sqlite import migrate_database as sqlite_migrate_database

__all__ = [
    "DEDUP_WINDOW",
    "OUTCOME_LOG_ROWS",
    "SEARCH_KEYS",
    "TRACE_RETENTION",
    "TRACE_ROWS",
    "Attempt",
    "CompanyRecord",
    "CompanyRecords",
    "Console",
    "ContactRecord",
    "Count",
    "DeadGroup",
    "DeadLetter",
    "DeadLetters",
    "Deletion",
    "DeletionState",
    "DeliveryCache",
    "Enqueued",
    "Erasure",
    "EventQuery",
    "EventState",
    "Finished",
    "Found",
    "Grant",
    "IdKind",
    "IdentityKind",
    "Inbox",
    "Lanes",
    "Lease",
    "LeaseLost",
    "Model",
    "NewEvent",
    "NoStore",
    "Observation",
    "OutcomeName",
    "OutcomeRow",
    "Overview",
    "Page",
    "Parked",
    "Pause",
    "Person",
    "RateBucket",
    "Refusal",
    "RefusalKind",
    "RefusedName",
    "SearchKey",
    "Status",
    "Store",
    "StoreError",
    "StoredEvent",
    "Story",
    "Subject",
    "Suppression",
    "Trace",
    "TracedAttempt",
    "TracedCall",
    "VisitorInFlight",
    "Waits",
    "beside_store",
    "migrate_store",
    "new_event",
    "open_store",
    "store_kind",
    "store_name",
]


async def open_store(
    database_url: str,
    *,
    dedup_window: float = DEDUP_WINDOW,
    outcome_log_rows: int = OUTCOME_LOG_ROWS,
    trace_retention: float = TRACE_RETENTION,
    trace_rows: int = TRACE_ROWS,
    create: bool = True,
    connection_wait: float | None = None,
) -> Store:
    """The store `database_url` names, open and at the latest schema.

    `sqlite:///relative/path`, `sqlite:////absolute/path` and `sqlite:///:memory:` are
    SQLite stores, migrated as they open. `postgresql://…` (or `postgres://…`, any URL libpq
    takes) is a PostgreSQL store: an empty database is given the schema, an older one must
    be migrated first (`migrate_store`). `dedup_window` is how long (seconds) the messageIds
    of finished events are kept for dedup; `outcome_log_rows` bounds the outcome log;
    `trace_retention` (seconds) and `trace_rows` bound the traces kept (none with
    `trace_rows=0`); `connection_wait` is how long a PostgreSQL store's calls wait for a
    connection (see `postgres.store.CONNECTION_WAIT`, the default). Without `create`
    (commands that only look) a store that is not there yet is not made: NoStore names where
    it was looked for. Raises StoreError.
    """
    kind, location = _parse(database_url)
    if kind == "sqlite":
        return await SQLiteStore.open(
            location,
            dedup_window=dedup_window,
            outcome_log_rows=outcome_log_rows,
            trace_retention=trace_retention,
            trace_rows=trace_rows,
            create=create,
        )
    # Imported here so that processes on SQLite never load the PostgreSQL driver.
    from intercom_destination.store.postgres import PostgresStore

    waits = {} if connection_wait is None else {"connection_wait": connection_wait}
    return await PostgresStore.open(
        location,
        dedup_window=dedup_window,
        outcome_log_rows=outcome_log_rows,
        trace_retention=trace_retention,
        trace_rows=trace_rows,
        create=create,
        **waits,
    )


async def migrate_store(database_url: str) -> tuple[int, int]:
    """Create or migrate the schema of the database `database_url` names (see `open_store`);
    its schema versions before and after. Raises StoreError."""
    kind, location = _parse(database_url)
    if kind == "sqlite":
        return await sqlite_migrate_database(location)
    from intercom_destination.store.postgres import migrate_database

    return await migrate_database(location)


def beside_store(database_url: str, suffix: str) -> Path | None:
    """A file next to a SQLite store's file, for what belongs with the store; None for a
    store in memory or in PostgreSQL, which have no place on this machine."""
    kind, location = _parse(database_url)
    if kind != "sqlite" or location == ":memory:":
        return None
    return Path(location + suffix)


def store_kind(database_url: str) -> Literal["sqlite", "postgresql"]:
    """Which kind of store `database_url` names; StoreError if none."""
    return _parse(database_url)[0]


def store_name(database_url: str) -> str:
    """Where the store `database_url` names is, for people: a SQLite file's absolute path, a
    PostgreSQL URL without its credentials. Raises StoreError."""
    kind, location = _parse(database_url)
    if kind == "postgresql":
        return without_credentials(location)
    return database_url if location == ":memory:" else str(Path(location).resolve())


def _parse(database_url: str) -> tuple[Literal["sqlite", "postgresql"], str]:
    scheme, _, rest = database_url.partition("://")
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return "sqlite", rest[1:]
    if scheme in ("postgresql", "postgres"):
        return "postgresql", database_url
    # Only the scheme is named: the rest of a URL may hold a password.
    raise StoreError(
        f"DATABASE_URL: cannot use a {scheme!r} URL; use sqlite:///relative/path, "
        "sqlite:////absolute/path, sqlite:///:memory: or postgresql://…"
    )
