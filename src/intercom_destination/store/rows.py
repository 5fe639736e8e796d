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
    Deletion,
    OutcomeRow,
    Person,
    StoredEvent,
    Subject,
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
COMPANY_RECORD = (
    "SELECT version, synced, state, confirmed FROM company_states WHERE company_id = %s"
)
COMPANY_SYNCED = (
    "UPDATE company_states SET synced = true, confirmed = state"
    " WHERE company_id = %s AND version = %s RETURNING 1"
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
    version, synced, state, confirmed = row
    return CompanyRecord(
        version=version,
        synced=bool(synced),
        state=bytes(state),
        confirmed=None if confirmed is None else bytes(confirmed),
    )


DELETION_COLUMNS = (
    "id, requested_at, state, suppress, subjects, hashes, done, events, contacts,"
    " finished_at, error"
)
_subjects = msgspec.json.Decoder(tuple[Subject, ...])
_hashes = msgspec.json.Decoder(tuple[str, ...])


def deletion(row: Sequence[Any]) -> Deletion:
    """A Deletion from a row of `DELETION_COLUMNS`."""
    id_, requested_at, state, suppress, subjects, hashes, done, events, contacts = row[:9]
    return Deletion(
        id=id_,
        requested_at=requested_at,
        state=state,
        suppress=bool(suppress),
        subjects=() if subjects is None else _subjects.decode(subjects),
        hashes=_hashes.decode(hashes),
        done=done,
        events=events,
        contacts=contacts,
        finished_at=row[9],
        error=row[10],
    )


def deletion_values(deletion: Deletion) -> tuple[Any, ...]:
    """The values of `DELETION_COLUMNS` after id, for `deletion`: its subjects only while
    it has not ended."""
    ended = deletion.state in ("done", "failed")
    return (
        deletion.requested_at,
        deletion.state,
        deletion.suppress,
        None if ended else msgspec.json.encode(deletion.subjects).decode(),
        msgspec.json.encode(deletion.hashes).decode(),
        deletion.done,
        deletion.events,
        deletion.contacts,
        deletion.finished_at,
        deletion.error,
    )


def among(values: Sequence[Any]) -> str:
    """The placeholders of `IN (...)` for `values`, of which there is at least one."""
    assert values, "an IN list needs a value"
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def identity_keys_of(contact_ids: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The statement reading the identity cache's (kind, key) pairs that name these contacts."""
    return f"SELECT kind, key FROM identities WHERE intercom_id IN {among(contact_ids)}", tuple(
        contact_ids
    )


def erasure(
    person: Person, identity_keys: Sequence[tuple[str, str]]
) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements (and their parameters) that erase `person` from the tables both stores
    share, to run in one transaction; the first deletes their events. `identity_keys` are
    the identity cache's keys of their contacts (`identity_keys_of`)."""
    lanes, users, visitors = person.lanes, person.user_ids, person.anonymous_ids
    keys = {
        *(("external_id", user) for user in users),
        *(("anonymous_id", visitor) for visitor in visitors),
        *((str(kind), str(key)) for kind, key in identity_keys),
    }
    # What `delivery.digests` keys a contact's digests by, and its company attachments.
    contacts = sorted(f"contact:{kind}:{key}" for kind, key in keys)
    prefixes = [f"attached:{contact}:" for contact in contacts]
    statements: list[tuple[str, tuple[Any, ...]]] = [
        (f"DELETE FROM events WHERE lane IN {among(lanes)}", lanes),
        (f"DELETE FROM lanes WHERE lane IN {among(lanes)}", lanes),
        (
            f"DELETE FROM digests WHERE contact IN {among(contacts)}"
            + " OR substr(contact, 1, %s) = %s" * len(prefixes),
            (
                *contacts,
                *(value for prefix in prefixes for value in (len(prefix), prefix)),
            ),
        ),
    ]
    # The tables that name the event's userId and anonymousId beside its lane.
    by_ids = [
        f"{column} IN {among(ids)}"
        for column, ids in (("anonymous_id", visitors), ("user_id", users))
        if ids
    ]
    statements += [
        (f"DELETE FROM links WHERE {' OR '.join(by_ids)}", (*visitors, *users)),
        (
            f"DELETE FROM outcomes WHERE lane IN {among(lanes)} OR {' OR '.join(by_ids)}",
            (*lanes, *visitors, *users),
        ),
        (f"DELETE FROM traces WHERE {' OR '.join(by_ids)}", (*visitors, *users)),
    ]
    named = [f"(kind = %s AND key IN {among(ids)})" for ids in (users, visitors) if ids]
    identity_parameters: list[Any] = []
    if users:
        identity_parameters += ["external_id", *users]
    if visitors:
        identity_parameters += ["anonymous_id", *visitors]
    if person.contact_ids:
        named.append(f"intercom_id IN {among(person.contact_ids)}")
        identity_parameters += person.contact_ids
    statements.append(
        (f"DELETE FROM identities WHERE {' OR '.join(named)}", tuple(identity_parameters))
    )
    return statements
