"""What the SQL stores share: an event's states, the columns read for it, and the conversion
of their rows into the interface's records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from intercom_destination.store.base import (
    Attempt,
    CompanyRecord,
    DeadLetter,
    OutcomeRow,
    StoredEvent,
)

#: An event's state. One table holds events in every state, so that the messageId index
#: deduplicates across all of them and an event's bytes never move.
PENDING, PARKED, DEAD, DONE = 0, 1, 2, 3

#: The tables that cache what one Intercom workspace holds (see `Store.claim_workspace`).
CACHES = ("identities", "digests", "attributes", "event_names")

EVENT_COLUMNS = "id, message_id, lane, type, received_at, body, attempts"
OUTCOME_COLUMNS = "at, message_id, lane, type, outcome, reason, calls"


def like(prefix: str, suffix: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') for the strings that start with `prefix` and end
    with `suffix`."""

    def escaped(text: str) -> str:
        return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    return f"{escaped(prefix)}%{escaped(suffix)}"


_history = msgspec.json.Decoder(tuple[Attempt, ...])


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """A StoredEvent from a row that starts with `EVENT_COLUMNS`."""
    id_, message_id, lane, type_, received_at, body, attempts = row[:7]
    return StoredEvent(
        id=id_,
        message_id=message_id,
        lane=lane,
        type=type_,
        received_at=received_at,
        body=bytes(body),
        attempts=attempts,
    )


def dead_letter(row: Sequence[Any]) -> DeadLetter:
    """A DeadLetter from `EVENT_COLUMNS`, then finished_at, reason and the history's JSON."""
    return DeadLetter(
        event=stored_event(row), died_at=row[7], reason=row[8], history=_history.decode(row[9])
    )


def outcome_row(row: Sequence[Any]) -> OutcomeRow:
    """An OutcomeRow from a row of `OUTCOME_COLUMNS`."""
    at, message_id, lane, type_, outcome, reason, calls = row
    return OutcomeRow(
        at=at,
        message_id=message_id,
        lane=lane,
        type=type_,
        outcome=outcome,
        reason=reason,
        calls=calls,
    )


#: The statements of the company records, in PostgreSQL's placeholders (see `sql`).
#: Each returns a row when it wrote one.
COMPANY_RECORD = "SELECT version, synced, state FROM company_states WHERE company_id = %s"
COMPANY_SYNCED = (
    "UPDATE company_states SET synced = true WHERE company_id = %s AND version = %s RETURNING 1"
)


def save_company(company_id: str, record: CompanyRecord) -> tuple[str, tuple[Any, ...]]:
    """The statement writing `record` over the version before it, and its parameters."""
    if record.version == 1:
        return (
            "INSERT INTO company_states (company_id, version, synced, state)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (company_id) DO NOTHING RETURNING 1",
            (company_id, record.version, record.synced, record.state),
        )
    return (
        "UPDATE company_states SET version = %s, synced = %s, state = %s"
        " WHERE company_id = %s AND version = %s RETURNING 1",
        (record.version, record.synced, record.state, company_id, record.version - 1),
    )


def company_record(row: Sequence[Any]) -> CompanyRecord:
    """A CompanyRecord from a row of `COMPANY_RECORD`."""
    version, synced, state = row
    return CompanyRecord(version=version, synced=bool(synced), state=bytes(state))
