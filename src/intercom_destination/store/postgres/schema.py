"""The PostgreSQL store's tables and their versioned migrations.

`MIGRATIONS[n]` takes a database from schema version n to n + 1; the database records its
version in `schema_version`. Opening a store creates the schema in a database that has none,
and refuses a schema of another version: the processes of a fleet share one database, so it
changes only when an operator runs `intercom-destination migrate`, never because one newer
process started.

The tables are those of the SQLite store (see `sqlite.schema`), in the schema the
connection's `search_path` names first. Every transaction that changes which events a lane
holds first locks the lane's row, so that what it then reads of the lane is what other
transactions committed (see `lanes`).
"""

from __future__ import annotations

from typing import Any

import psycopg

from intercom_destination.store.base import StoreError
from intercom_destination.store.rows import DEAD, DONE, PARKED, PENDING

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

#: The first key of this project's advisory locks, so that they stay clear of other
#: applications' locks on the same database; the second key says what is locked.
LOCKS = 0x1C0D
SCHEMA_LOCK = 0

#: What the console reads (see `protocols.Console` and `sqlite.schema.CONSOLE`).
CONSOLE = [
    "ALTER TABLE outcomes ADD COLUMN user_id text",
    "ALTER TABLE outcomes ADD COLUMN anonymous_id text",
    "ALTER TABLE outcomes ADD COLUMN email text",
    "ALTER TABLE outcomes ADD COLUMN event text",
    "CREATE INDEX outcomes_message_id ON outcomes (message_id)",
    "CREATE INDEX outcomes_user_id ON outcomes (user_id, id) WHERE user_id IS NOT NULL",
    "CREATE INDEX outcomes_anonymous_id ON outcomes (anonymous_id, id)"
    " WHERE anonymous_id IS NOT NULL",
    "CREATE INDEX outcomes_email ON outcomes (email, id) WHERE email IS NOT NULL",
    "CREATE INDEX outcomes_event ON outcomes (event, id) WHERE event IS NOT NULL",
    "CREATE INDEX outcomes_outcome ON outcomes (outcome, id)",
    f"CREATE INDEX events_dead_reason ON events (reason, id, finished_at) WHERE state = {DEAD}",
    """CREATE TABLE outcome_counts (
        bucket bigint NOT NULL,
        type text NOT NULL,
        outcome text NOT NULL,
        events bigint NOT NULL,
        calls bigint NOT NULL,
        PRIMARY KEY (bucket, type, outcome)
    )""",
    "INSERT INTO outcome_counts (bucket, type, outcome, events, calls)"
    " SELECT floor(at / 60)::bigint * 60, type, outcome, count(*), sum(calls) FROM outcomes"
    " GROUP BY 1, 2, 3",
    # What outcome writes and enqueues add to the counters, one row each, which `prune` folds
    # into `outcome_counts`: an upsert there would make every transaction of a minute wait for
    # the one before it to commit (they all update the same row), and could deadlock with
    # the lanes' locks.
    """CREATE TABLE outcome_deltas (
        bucket bigint NOT NULL,
        type text NOT NULL,
        outcome text NOT NULL,
        events bigint NOT NULL,
        calls bigint NOT NULL
    )""",
    """CREATE TABLE traces (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at double precision NOT NULL,
        message_id text NOT NULL,
        user_id text,
        anonymous_id text,
        body bytea,
        trace bytea NOT NULL
    )""",
    "CREATE INDEX traces_message_id ON traces (message_id)",
    "CREATE INDEX traces_user_id ON traces (user_id) WHERE user_id IS NOT NULL",
    "CREATE INDEX traces_anonymous_id ON traces (anonymous_id) WHERE anonymous_id IS NOT NULL",
    """CREATE TABLE pruned (
        id integer PRIMARY KEY CHECK (id = 1),
        traces_before double precision NOT NULL
    )""",
    """CREATE TABLE refusals (
        kind text NOT NULL,
        name text NOT NULL,
        reason text NOT NULL,
        at double precision NOT NULL,
        times bigint NOT NULL,
        PRIMARY KEY (kind, name)
    )""",
]

MIGRATIONS: list[list[str]] = [
    [
        "CREATE SEQUENCE event_ids",
        # Granted and spent leases take a new token each, unique for the life of the database.
        "CREATE SEQUENCE lease_tokens",
        """CREATE TABLE events (
            id bigint PRIMARY KEY DEFAULT nextval('event_ids'),
            message_id text NOT NULL UNIQUE,
            lane text NOT NULL,
            type text NOT NULL,
            received_at double precision NOT NULL,
            body bytea,
            state smallint NOT NULL,
            position bigint NOT NULL,
            not_before double precision NOT NULL DEFAULT 0,
            attempts integer NOT NULL DEFAULT 0,
            history jsonb,
            waiting_for text,
            until double precision,
            finished_at double precision,
            reason text
        )""",
        f"CREATE INDEX events_pending ON events (lane, position) WHERE state = {PENDING}",
        f"CREATE INDEX events_parked ON events (lane, waiting_for) WHERE state = {PARKED}",
        f"CREATE INDEX events_waiting ON events (waiting_for) WHERE state = {PARKED}",
        f"CREATE INDEX events_parked_until ON events (until) WHERE state = {PARKED}",
        f"CREATE INDEX events_dead ON events (id) WHERE state = {DEAD}",
        f"CREATE INDEX events_done ON events (finished_at) WHERE state = {DONE}",
        """CREATE TABLE lanes (
            lane text PRIMARY KEY,
            available_at double precision NOT NULL,
            head bigint,
            token bigint NOT NULL DEFAULT 0,
            owner text,
            lease_until double precision
        )""",
        "CREATE INDEX lanes_available ON lanes (available_at)",
        """CREATE TABLE links (
            anonymous_id text PRIMARY KEY,
            user_id text NOT NULL,
            linked_at double precision NOT NULL
        )""",
        """CREATE TABLE identities (
            kind text NOT NULL,
            key text NOT NULL,
            intercom_id text NOT NULL,
            PRIMARY KEY (kind, key)
        )""",
        """CREATE TABLE attributes (
            model text NOT NULL,
            name text NOT NULL,
            data_type text NOT NULL,
            PRIMARY KEY (model, name)
        )""",
        "CREATE TABLE event_names (name text PRIMARY KEY)",
        "CREATE TABLE digests (contact text PRIMARY KEY, digest bytea NOT NULL)",
        """CREATE TABLE outcomes (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at double precision NOT NULL,
            message_id text NOT NULL,
            lane text NOT NULL,
            type text NOT NULL,
            outcome text NOT NULL,
            reason text,
            calls integer NOT NULL
        )""",
        # One row, there from the start so that every taker can lock it; a bucket with no
        # tokens recorded was never used, and is full.
        """CREATE TABLE rate_bucket (
            id integer PRIMARY KEY CHECK (id = 1),
            tokens double precision,
            updated_at double precision,
            paused_until double precision
        )""",
        "INSERT INTO rate_bucket (id) VALUES (1)",
    ],
    [
        # Per company, the attributes many lanes sent, merged by event time (`CompanyRecord`).
        """CREATE TABLE company_states (
            company_id text PRIMARY KEY,
            version integer NOT NULL,
            synced boolean NOT NULL,
            state bytea NOT NULL
        )""",
    ],
    [
        # The Intercom workspace the caches describe (see `Store.claim_workspace`); one row,
        # there from the start so that every claimant can lock it.
        "CREATE TABLE workspace (id integer PRIMARY KEY CHECK (id = 1), app text)",
        "INSERT INTO workspace (id) VALUES (1)",
        # The body a digest was taken of, to rebuild a contact Intercom lost.
        "ALTER TABLE digests ADD COLUMN body bytea",
        # Names known before were added once their event was sent.
        "ALTER TABLE event_names ADD COLUMN accepted boolean NOT NULL DEFAULT true",
    ],
    [
        # Why every worker waits (`status` says it): a 429, or a token Intercom refused.
        "ALTER TABLE rate_bucket ADD COLUMN paused_reason text",
    ],
    CONSOLE,
    [
        # Deletions (`Erasure`): the store's salt for hashing people's ids, the ids whose
        # events are refused (as salted hashes), and each deletion request, which stays as
        # its audit record once it ends.
        "CREATE TABLE salt (id integer PRIMARY KEY CHECK (id = 1), value bytea NOT NULL)",
        """CREATE TABLE suppressions (
            hash text PRIMARY KEY,
            suppressed_at double precision NOT NULL
        )""",
        """CREATE TABLE deletions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            requested_at double precision NOT NULL,
            state text NOT NULL,
            suppress boolean NOT NULL,
            -- JSON: the subjects while the request runs (NULL once it ended), their hashes
            subjects text,
            hashes text NOT NULL,
            done integer NOT NULL DEFAULT 0,
            events integer NOT NULL DEFAULT 0,
            contacts integer NOT NULL DEFAULT 0,
            finished_at double precision,
            error text
        )""",
    ],
    [
        # The state of the version last confirmed as the one Intercom holds, which a
        # company's next upsert is a difference from (`CompanyRecord.confirmed`).
        "ALTER TABLE company_states ADD COLUMN confirmed bytea",
    ],
]


async def has_schema(connection: Connection) -> bool:
    """Whether the database (its schema on the `search_path`) holds a store, of any version."""
    cursor = await connection.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    row = await cursor.fetchone()
    return row is not None and bool(row[0])


async def migrate(connection: Connection, *, upgrade: bool) -> tuple[int, int]:
    """Bring the database to the latest schema; its versions before and after.

    An empty database is always given the schema. An older schema is migrated only when
    `upgrade` is true; otherwise, like a newer one, it is refused with a StoreError.
    Processes starting or migrating at once wait for one another.
    """
    latest = len(MIGRATIONS)
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCKS, SCHEMA_LOCK))
        version = 0
        if await has_schema(connection):
            cursor = await connection.execute("SELECT version FROM schema_version")
            found = await cursor.fetchone()
            version = 0 if found is None else int(found[0])
        else:
            await connection.execute("CREATE TABLE schema_version (version integer NOT NULL)")
            await connection.execute("INSERT INTO schema_version VALUES (0)")
        if version > latest:
            raise StoreError(
                f"the database has schema version {version}; this version of "
                f"intercom-destination knows versions up to {latest}"
            )
        if 0 < version < latest and not upgrade:
            raise StoreError(
                f"the database has schema version {version}; this version of "
                f"intercom-destination needs version {latest}: run `intercom-destination "
                "migrate` once (stop the processes of the older version first)"
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                await connection.execute(statement)
        await connection.execute("UPDATE schema_version SET version = %s", (latest,))
    return version, latest
