"""The store: durable per-user lanes of events, and the engine's small state (see `base`)."""

from __future__ import annotations

from intercom_destination.store.base import (
    DEDUP_WINDOW,
    OUTCOME_LOG_ROWS,
    Attempt,
    DeadLetter,
    Enqueued,
    IdentityKind,
    Lease,
    LeaseLost,
    Model,
    NewEvent,
    OutcomeName,
    OutcomeRow,
    Parked,
    Status,
    Store,
    StoredEvent,
    StoreError,
)
from intercom_destination.store.events import new_event
from intercom_destination.store.sqlite import SQLiteStore

__all__ = [
    "DEDUP_WINDOW",
    "OUTCOME_LOG_ROWS",
    "Attempt",
    "DeadLetter",
    "Enqueued",
    "IdentityKind",
    "Lease",
    "LeaseLost",
    "Model",
    "NewEvent",
    "OutcomeName",
    "OutcomeRow",
    "Parked",
    "Status",
    "Store",
    "StoreError",
    "StoredEvent",
    "new_event",
    "open_store",
]


async def open_store(
    database_url: str,
    *,
    dedup_window: float = DEDUP_WINDOW,
    outcome_log_rows: int = OUTCOME_LOG_ROWS,
) -> Store:
    """The store `database_url` names, open and at the latest schema.

    `sqlite:///relative/path`, `sqlite:////absolute/path` and `sqlite:///:memory:` are
    SQLite stores. `dedup_window` is how long (seconds) the messageIds of finished events are
    kept for dedup; `outcome_log_rows` bounds the outcome log. Raises StoreError.
    """
    scheme, _, rest = database_url.partition("://")
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return await SQLiteStore.open(
            rest[1:], dedup_window=dedup_window, outcome_log_rows=outcome_log_rows
        )
    # Only the scheme is named: the rest of a URL may hold a password.
    raise StoreError(
        f"DATABASE_URL: cannot use a {scheme!r} URL; use sqlite:///relative/path, "
        "sqlite:////absolute/path or sqlite:///:memory:"
    )
