"""What the SQLite and PostgreSQL stores do with the same statements, written once.

Each statement is in PostgreSQL's placeholders (`%s`); a backend runs it through its hooks
(`_read`, `_write`, `_changed`), the SQLite store translating the placeholders to its own.
What differs between the backends (the lanes, enqueue, leases, the rate bucket's lock,
transactions with logic between statements) stays in each backend.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from typing import Any

import msgspec

from intercom_destination.store.base import (
    CompanyRecord,
    DeadLetter,
    Deletion,
    IdentityKind,
    Model,
    OutcomeRow,
    Parked,
    Pause,
    Person,
    Subject,
    Suppression,
    Trace,
)
from intercom_destination.store.console_sql import SQLConsole
from intercom_destination.store.protocols import Store
from intercom_destination.store.rows import (
    COMPANY_RECORD,
    COMPANY_SYNCED,
    DEAD,
    DELETION_COLUMNS,
    EVENT_COLUMNS,
    OUTCOME_COLUMNS,
    PARKED,
    among,
    company_record,
    dead_letter,
    deletion,
    deletion_values,
    like,
    outcome_row,
    save_company,
    stored_event,
)

#: The dead letters, with the columns `rows.dead_letter` reads. (The history is JSON text in
#: SQLite, jsonb in PostgreSQL: the cast reads both as text.)
_DEAD_LETTERS = (
    f"SELECT {EVENT_COLUMNS}, finished_at, reason, CAST(history AS text) FROM events"
    f" WHERE state = {DEAD}"
)


class SQLStore(SQLConsole, Store):
    """A store over SQL tables of the shape `sqlite.schema` and `postgres.schema` share."""

    #: The most traces kept (`open_store`'s `trace_rows`); none are written when 0.
    _trace_rows: int

    @property
    def _keep_traces(self) -> bool:
        return self._trace_rows > 0

    def _traced(self, trace: Trace | None) -> dict[str, Any]:
        """The trace arguments of a lanes function recording an attempt."""
        return {"trace": trace, "keep_traces": self._keep_traces}

    @abc.abstractmethod
    async def _read(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """The rows one statement gives."""

    @abc.abstractmethod
    async def _write(self, sql: str, parameters: Sequence[Any]) -> None:
        """Run one statement that changes the store, committed when it returns."""

    @abc.abstractmethod
    async def _changed(self, sql: str, parameters: Sequence[Any]) -> bool:
        """Whether one statement (with `RETURNING`) wrote a row, committed when it returns."""

    @abc.abstractmethod
    async def _returning(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """The rows one statement that changes the store returns, committed when it returns."""

    #: The SQL expression of a new lease token.
    _NEW_TOKEN: str

    async def waiting_in(self, lane: str) -> str | None:
        rows = await self._read(
            f"SELECT waiting_for FROM events WHERE lane = %s AND state = {PARKED}"
            " ORDER BY position LIMIT 1",
            (lane,),
        )
        return str(rows[0][0]) if rows else None

    async def expired_parked(self, now: float, limit: int = 100) -> list[Parked]:
        rows = await self._read(
            f"SELECT {EVENT_COLUMNS}, waiting_for, until FROM events"
            f" WHERE state = {PARKED} AND until <= %s ORDER BY until LIMIT %s",
            (now, limit),
        )
        return [Parked(event=stored_event(row), waiting_for=row[7], until=row[8]) for row in rows]

    async def dead_letters(self, limit: int = 100, after_id: int = 0) -> list[DeadLetter]:
        rows = await self._read(
            f"{_DEAD_LETTERS} AND id > %s ORDER BY id LIMIT %s", (after_id, limit)
        )
        return [dead_letter(row) for row in rows]

    async def dead_letter(self, event_id: int) -> DeadLetter | None:
        rows = await self._read(f"{_DEAD_LETTERS} AND id = %s", (event_id,))
        return dead_letter(rows[0]) if rows else None

    async def get_identity(self, kind: IdentityKind, key: str) -> str | None:
        rows = await self._read(
            "SELECT intercom_id FROM identities WHERE kind = %s AND key = %s", (kind, key)
        )
        return str(rows[0][0]) if rows else None

    async def put_identity(self, kind: IdentityKind, key: str, intercom_id: str) -> None:
        await self._write(
            "INSERT INTO identities (kind, key, intercom_id) VALUES (%s, %s, %s)"
            " ON CONFLICT (kind, key) DO UPDATE SET intercom_id = excluded.intercom_id",
            (kind, key, intercom_id),
        )

    async def delete_identity(self, kind: IdentityKind, key: str) -> None:
        await self._write("DELETE FROM identities WHERE kind = %s AND key = %s", (kind, key))

    async def attributes(self, model: Model) -> dict[str, str]:
        rows = await self._read("SELECT name, data_type FROM attributes WHERE model = %s", (model,))
        return dict(rows)

    async def add_attribute(self, model: Model, name: str, data_type: str) -> None:
        await self._write(
            "INSERT INTO attributes (model, name, data_type) VALUES (%s, %s, %s)"
            " ON CONFLICT (model, name) DO UPDATE SET data_type = excluded.data_type",
            (model, name, data_type),
        )

    async def accept_event_name(self, name: str) -> None:
        await self._write(
            "INSERT INTO event_names (name, accepted) VALUES (%s, true)"
            " ON CONFLICT (name) DO UPDATE SET accepted = true",
            (name,),
        )

    async def release_event_name(self, name: str) -> None:
        await self._write("DELETE FROM event_names WHERE name = %s AND NOT accepted", (name,))

    async def event_names(self) -> list[str]:
        rows = await self._read("SELECT name FROM event_names ORDER BY name", ())
        return [name for (name,) in rows]

    async def count_event_names(self) -> int:
        rows = await self._read("SELECT count(*) FROM event_names", ())
        return int(rows[0][0])

    async def get_digest(self, contact: str) -> bytes | None:
        rows = await self._read("SELECT digest FROM digests WHERE contact = %s", (contact,))
        return bytes(rows[0][0]) if rows else None

    async def put_digest(self, contact: str, digest: bytes, body: bytes | None = None) -> None:
        await self._write(
            "INSERT INTO digests (contact, digest, body) VALUES (%s, %s, %s)"
            " ON CONFLICT (contact) DO UPDATE SET digest = excluded.digest, body = excluded.body",
            (contact, digest, body),
        )

    async def delete_digests(self, *, prefix: str, suffix: str = "") -> None:
        await self._write(
            "DELETE FROM digests WHERE contact LIKE %s ESCAPE '\\'", (like(prefix, suffix),)
        )

    async def last_body(self, contact: str) -> bytes | None:
        rows = await self._read("SELECT body FROM digests WHERE contact = %s", (contact,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    async def company_record(self, company_id: str) -> CompanyRecord | None:
        rows = await self._read(COMPANY_RECORD, (company_id,))
        return None if not rows else company_record(rows[0])

    async def save_company_record(self, company_id: str, record: CompanyRecord) -> bool:
        return await self._changed(*save_company(company_id, record))

    async def company_synced(self, company_id: str, version: int) -> bool:
        return await self._changed(COMPANY_SYNCED, (company_id, version))

    async def pause(self) -> Pause | None:
        rows = await self._read(
            "SELECT paused_until, paused_reason FROM rate_bucket WHERE id = 1", ()
        )
        return Pause(float(rows[0][0]), rows[0][1]) if rows and rows[0][0] is not None else None

    async def outcomes(self, limit: int = 100) -> list[OutcomeRow]:
        rows = await self._read(
            f"SELECT {OUTCOME_COLUMNS} FROM outcomes ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [outcome_row(row) for row in rows]

    async def salt(self) -> bytes:
        rows = await self._read("SELECT value FROM salt WHERE id = 1", ())
        if not rows:
            # Of several processes asking at once, the first to write sets it for all.
            await self._write(
                "INSERT INTO salt (id, value) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
                (os.urandom(32),),
            )
            rows = await self._read("SELECT value FROM salt WHERE id = 1", ())
        return bytes(rows[0][0])

    async def linked_visitors(self, user_ids: Sequence[str]) -> list[str]:
        if not user_ids:
            return []
        rows = await self._read(
            f"SELECT anonymous_id FROM links WHERE user_id IN {among(user_ids)}"
            " ORDER BY anonymous_id",
            tuple(user_ids),
        )
        return [str(anonymous_id) for (anonymous_id,) in rows]

    async def contact_ids(self, person: Person) -> list[str]:
        named = [
            (kind, column, ids)
            for kind, column, ids in (
                ("external_id", "user_id", person.user_ids),
                ("anonymous_id", "anonymous_id", person.anonymous_ids),
            )
            if ids
        ]
        if not named:
            return []
        # Their contacts known by email: the emails their events gave, which the outcome log
        # keeps (an event that was never tried made no contact).
        emails = (
            "SELECT email FROM outcomes WHERE email IS NOT NULL AND ("
            + " OR ".join(f"{column} IN {among(ids)}" for _, column, ids in named)
            + ")"
        )
        rows = await self._read(
            "SELECT DISTINCT intercom_id FROM identities WHERE "
            + " OR ".join(f"(kind = %s AND key IN {among(ids)})" for _, _, ids in named)
            + f" OR (kind = 'email' AND key IN ({emails}))",
            (
                *(value for kind, _, ids in named for value in (kind, *ids)),
                *(value for _, _, ids in named for value in ids),
            ),
        )
        return sorted(str(intercom_id) for (intercom_id,) in rows)

    async def count_events(self, lanes: Sequence[str]) -> int:
        if not lanes:
            return 0
        rows = await self._read(
            f"SELECT count(*) FROM events WHERE lane IN {among(lanes)}", tuple(lanes)
        )
        return int(rows[0][0])

    async def fence(
        self, lanes: Sequence[str], holder: str, *, until: float, now: float
    ) -> list[str]:
        if not lanes:
            return []
        await self._write(
            f"UPDATE lanes SET owner = %s, lease_until = %s, available_at = %s,"
            f" token = {self._NEW_TOKEN} WHERE lane IN {among(lanes)}"
            " AND (owner IS NULL OR owner = %s OR lease_until <= %s)",
            (holder, until, until, *lanes, holder, now),
        )
        rows = await self._read(
            f"SELECT lane FROM lanes WHERE lane IN {among(lanes)}"
            " AND owner <> %s AND lease_until > %s ORDER BY lane",
            (*lanes, holder, now),
        )
        return [str(lane) for (lane,) in rows]

    async def suppress(self, hashes: Sequence[str], *, now: float) -> None:
        if hashes:
            await self._write(
                "INSERT INTO suppressions (hash, suppressed_at) VALUES "
                + ", ".join(["(%s, %s)"] * len(hashes))
                + " ON CONFLICT (hash) DO NOTHING",
                tuple(value for hash in hashes for value in (hash, now)),
            )

    async def unsuppress(self, hash: str) -> bool:
        return await self._changed("DELETE FROM suppressions WHERE hash = %s RETURNING 1", (hash,))

    async def suppressions(self) -> list[Suppression]:
        rows = await self._read(
            "SELECT hash, suppressed_at FROM suppressions ORDER BY suppressed_at, hash", ()
        )
        return [Suppression(hash=hash, suppressed_at=at) for hash, at in rows]

    async def request_deletion(
        self, subjects: Sequence[Subject], hashes: Sequence[str], *, suppress: bool, now: float
    ) -> Deletion:
        pending = Deletion(
            id=0,
            requested_at=now,
            state="pending",
            suppress=suppress,
            subjects=tuple(subjects),
            hashes=tuple(hashes),
        )
        columns = DELETION_COLUMNS.removeprefix("id, ")
        rows = await self._returning(
            f"INSERT INTO deletions ({columns}) VALUES ({', '.join(['%s'] * 10)}) RETURNING id",
            deletion_values(pending),
        )
        return msgspec.structs.replace(pending, id=int(rows[0][0]))

    async def deletion(self, deletion_id: int) -> Deletion | None:
        rows = await self._read(
            f"SELECT {DELETION_COLUMNS} FROM deletions WHERE id = %s", (deletion_id,)
        )
        return deletion(rows[0]) if rows else None

    async def deletions(self, limit: int = 100) -> list[Deletion]:
        rows = await self._read(
            f"SELECT {DELETION_COLUMNS} FROM deletions ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [deletion(row) for row in rows]

    async def record_deletion(self, deletion: Deletion) -> None:
        columns = DELETION_COLUMNS.removeprefix("id, ").split(", ")
        await self._write(
            f"UPDATE deletions SET {', '.join(f'{column} = %s' for column in columns)}"
            " WHERE id = %s",
            (*deletion_values(deletion), deletion.id),
        )
