"""What the SQLite and PostgreSQL stores do with the same statements, written once.

Each statement is in PostgreSQL's placeholders (`%s`); a backend runs it through its hooks
(`_read`, `_write`, `_changed`), the SQLite store translating the placeholders to its own.
The lanes and dead letters are changed by each backend's lanes functions (`sqlite.lanes`,
`postgres.lanes`), which take the same arguments: the methods that call one are written
once too, over the hooks `_lanes` (the module) and `_in_lanes` (which runs one of its
functions in a transaction). What differs between the backends (enqueue, leases, grouped
completions, the rate bucket's lock, transactions with logic between statements) stays in
each backend.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

import msgspec

from intercom_destination.store.base import (
    CompanyRecord,
    ContactRecord,
    DeadLetter,
    Deletion,
    Finished,
    IdentityKind,
    Lease,
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

T = TypeVar("T")
#: A backend's connection, which its lanes functions take first.
C = TypeVar("C")
_C_contra = TypeVar("_C_contra", contravariant=True)

#: What a lanes function returns: its result (SQLite's, run on the writer's thread), or an
#: awaitable of it (PostgreSQL's coroutine functions).
MaybeAwaitable: TypeAlias = T | Awaitable[T]


class LanesModule(Protocol[_C_contra]):
    """The functions of a backend's lanes module that `SQLStore` calls: each takes the
    connection, then the arguments of the `protocols` method it serves (which documents it)."""

    def extend(
        self, connection: _C_contra, /, *, lease: Lease, lease_for: float, now: float
    ) -> MaybeAwaitable[Lease]: ...

    def dead(
        self,
        connection: _C_contra,
        /,
        *,
        lease: Lease,
        reason: str,
        now: float,
        calls: int,
        trace: Trace | None,
        keep_traces: bool,
    ) -> MaybeAwaitable[None]: ...

    def retry(
        self,
        connection: _C_contra,
        /,
        *,
        lease: Lease,
        at: float,
        outcome: str,
        now: float,
        calls: int,
        trace: Trace | None,
        keep_traces: bool,
    ) -> MaybeAwaitable[None]: ...

    def park(
        self,
        connection: _C_contra,
        /,
        *,
        lease: Lease,
        waiting_for: str,
        until: float,
        now: float,
        calls: int,
        trace: Trace | None,
        keep_traces: bool,
        reason: str,
    ) -> MaybeAwaitable[None]: ...

    def unpark(
        self, connection: _C_contra, /, *, lane: str | None, waiting_for: str | None, now: float
    ) -> MaybeAwaitable[int]: ...

    def dead_parked(
        self, connection: _C_contra, /, *, event_id: int, reason: str, now: float
    ) -> MaybeAwaitable[bool]: ...

    def replay(
        self, connection: _C_contra, /, *, event_ids: Sequence[int] | None, now: float
    ) -> MaybeAwaitable[int]: ...

    def purge(
        self, connection: _C_contra, /, *, event_ids: Sequence[int] | None
    ) -> MaybeAwaitable[int]: ...

    def replay_shape(
        self, connection: _C_contra, /, *, shape: str, now: float
    ) -> MaybeAwaitable[int]: ...

    def purge_shape(self, connection: _C_contra, /, *, shape: str) -> MaybeAwaitable[int]: ...


async def settled(result: MaybeAwaitable[T]) -> T:
    """What a lanes function returned, awaited if it is a coroutine's."""
    if isinstance(result, Awaitable):
        return await result
    return result


class SQLStore(SQLConsole, Store, Generic[C]):
    """A store over SQL tables of the shape `sqlite.schema` and `postgres.schema` share,
    through connections of type `C`."""

    #: The backend's lanes functions.
    _lanes: LanesModule[C]

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

    # The writes below are `durable` unless told otherwise. Delivery's progress (leases,
    # outcomes, what Intercom holds) is not: a power cut may undo such a write once committed,
    # with every write after it, and the work is then done again. The SQLite store commits
    # those without flushing its log to disk (see `sqlite.thread`); PostgreSQL, which flushes
    # in its own process, commits every write durably.

    @abc.abstractmethod
    async def _write(self, sql: str, parameters: Sequence[Any], *, durable: bool = True) -> None:
        """Run one statement that changes the store, committed when it returns."""

    @abc.abstractmethod
    async def _changed(self, sql: str, parameters: Sequence[Any], *, durable: bool = True) -> bool:
        """Whether one statement (with `RETURNING`) wrote a row, committed when it returns."""

    @abc.abstractmethod
    async def _returning(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """The rows one statement that changes the store returns, committed when it returns."""

    @abc.abstractmethod
    async def _in_lanes(
        self, function: Callable[[C], MaybeAwaitable[T]], *, durable: bool = True
    ) -> T:
        """Run a `_lanes` function, given every argument but the connection, all or nothing
        (a writer job in SQLite, a transaction in PostgreSQL); what it returns, once its
        work is committed."""

    #: The SQL expression of a new lease token.
    _NEW_TOKEN: str

    async def extend(self, lease: Lease, lease_for: float, now: float) -> Lease:
        return await self._in_lanes(
            partial(self._lanes.extend, lease=lease, lease_for=lease_for, now=now),
            durable=False,
        )

    async def delivered(
        self,
        lease: Lease,
        *,
        now: float,
        calls: int = 0,
        note: str | None = None,
        trace: Trace | None = None,
    ) -> None:
        finished = Finished(
            event=lease.event, outcome="delivered", reason=note, calls=calls, trace=trace
        )
        await self.finish_many(lease, [finished], now=now)

    async def skipped(
        self,
        lease: Lease,
        reason: str,
        *,
        now: float,
        calls: int = 0,
        trace: Trace | None = None,
    ) -> None:
        finished = Finished(
            event=lease.event, outcome="skipped", reason=reason, calls=calls, trace=trace
        )
        await self.finish_many(lease, [finished], now=now)

    async def dead(
        self,
        lease: Lease,
        reason: str,
        *,
        now: float,
        calls: int = 0,
        trace: Trace | None = None,
    ) -> None:
        await self._in_lanes(
            partial(
                self._lanes.dead,
                lease=lease,
                reason=reason,
                now=now,
                calls=calls,
                **self._traced(trace),
            )
        )

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
        await self._in_lanes(
            partial(
                self._lanes.retry,
                lease=lease,
                at=at,
                outcome=outcome,
                now=now,
                calls=calls,
                **self._traced(trace),
            ),
            durable=False,
        )

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
        await self._in_lanes(
            partial(
                self._lanes.park,
                lease=lease,
                waiting_for=waiting_for,
                until=until,
                now=now,
                calls=calls,
                reason=reason or waiting_for,
                **self._traced(trace),
            ),
            durable=False,
        )

    async def unpark(
        self, *, lane: str | None = None, waiting_for: str | None = None, now: float
    ) -> int:
        return await self._in_lanes(
            partial(self._lanes.unpark, lane=lane, waiting_for=waiting_for, now=now),
            durable=False,
        )

    async def dead_parked(self, event_id: int, reason: str, *, now: float) -> bool:
        return await self._in_lanes(
            partial(self._lanes.dead_parked, event_id=event_id, reason=reason, now=now)
        )

    async def replay(self, event_ids: Sequence[int] | None = None, *, now: float) -> int:
        return await self._in_lanes(partial(self._lanes.replay, event_ids=event_ids, now=now))

    async def purge(self, event_ids: Sequence[int] | None = None) -> int:
        return await self._in_lanes(partial(self._lanes.purge, event_ids=event_ids))

    async def replay_shape(self, shape: str, *, now: float) -> int:
        return await self._in_lanes(partial(self._lanes.replay_shape, shape=shape, now=now))

    async def purge_shape(self, shape: str) -> int:
        return await self._in_lanes(partial(self._lanes.purge_shape, shape=shape))

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
            durable=False,
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
            durable=False,
        )

    async def delete_digests(self, *, prefix: str, suffix: str = "") -> None:
        await self._write(
            "DELETE FROM digests WHERE contact LIKE %s ESCAPE '\\'", (like(prefix, suffix),)
        )

    async def last_body(self, contact: str) -> bytes | None:
        rows = await self._read("SELECT body FROM digests WHERE contact = %s", (contact,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    async def contact_record(self, kind: IdentityKind, key: str, contact: str) -> ContactRecord:
        [(intercom_id, digest, body)] = await self._read(
            "SELECT (SELECT intercom_id FROM identities WHERE kind = %s AND key = %s),"
            " digest, body FROM (SELECT 1) AS one LEFT JOIN digests ON contact = %s",
            (kind, key, contact),
        )
        return ContactRecord(
            None if intercom_id is None else str(intercom_id),
            None if digest is None else bytes(digest),
            None if body is None else bytes(body),
        )

    async def company_record(self, company_id: str) -> CompanyRecord | None:
        rows = await self._read(COMPANY_RECORD, (company_id,))
        return None if not rows else company_record(rows[0])

    async def save_company_record(self, company_id: str, record: CompanyRecord) -> bool:
        return await self._changed(*save_company(company_id, record), durable=False)

    async def company_synced(self, company_id: str, version: int) -> bool:
        return await self._changed(COMPANY_SYNCED, (company_id, version), durable=False)

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
