"""The SQLite store's tables, created and migrated when a store opens.

`MIGRATIONS[n]` takes a database from schema version n to n + 1; a database records its
version in `schema_version`, and a store refuses a database newer than it knows.

One `events` table holds every event the store knows, whatever its state, so the messageId
index deduplicates across all of them; partial indexes keep each state's lookups small. A
finished event keeps only its identifiers, for dedup, until `prune` removes it. Since version
4 events arrive in segment files next to the database and are sorted into `events` in bulk
(see the module `inbox`); before, they arrived in a table, `inbox`, which since version 3 was
in a file of its own, attached as `arrivals` (and still is while a database older than 4 is
migrated: `attach_legacy_inbox`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from intercom_destination.store.base import StoreError
from intercom_destination.store.rows import DEAD, DONE, PARKED, PENDING

#: The segments' directory is the store's path with this suffix.
SEGMENTS_SUFFIX = "-arrivals"
#: The inbox file of versions 3 is the store's path with this suffix (SQLite adds its -wal
#: and -shm).
LEGACY_INBOX_SUFFIX = "-inbox"

#: The inbox of version 3, in the file attached as `arrivals`: made by version 3, and by
#: version 4 if the file was lost.
_INBOX = [
    # `visitor`: the anonymousId of an event without a userId, whose lane the sort
    # resolves again.
    """CREATE TABLE IF NOT EXISTS arrivals.inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        lane TEXT NOT NULL,
        visitor TEXT,
        type TEXT NOT NULL,
        received_at REAL NOT NULL,
        body BLOB NOT NULL
    )""",
    # A new inbox file (or one lost) starts past every id the store has used.
    "INSERT INTO arrivals.sqlite_sequence (name, seq) SELECT 'inbox', max(through,"
    " coalesce((SELECT max(id) FROM events), 0)) FROM sorted WHERE NOT EXISTS"
    " (SELECT 1 FROM arrivals.sqlite_sequence WHERE name = 'inbox')",
]

#: What the console reads (see `protocols.Console`); the same in PostgreSQL but for types.
CONSOLE = [
    # Who an outcome row's event is about, for search and to erase a person.
    "ALTER TABLE outcomes ADD COLUMN user_id TEXT",
    "ALTER TABLE outcomes ADD COLUMN anonymous_id TEXT",
    "ALTER TABLE outcomes ADD COLUMN email TEXT",
    "ALTER TABLE outcomes ADD COLUMN event TEXT",
    "CREATE INDEX outcomes_message_id ON outcomes (message_id)",
    "CREATE INDEX outcomes_user_id ON outcomes (user_id, id) WHERE user_id IS NOT NULL",
    "CREATE INDEX outcomes_anonymous_id ON outcomes (anonymous_id, id)"
    " WHERE anonymous_id IS NOT NULL",
    "CREATE INDEX outcomes_email ON outcomes (email, id) WHERE email IS NOT NULL",
    "CREATE INDEX outcomes_event ON outcomes (event, id) WHERE event IS NOT NULL",
    "CREATE INDEX outcomes_outcome ON outcomes (outcome, id)",
    # Dead letters by reason, with what `dead_groups` reads of them.
    f"CREATE INDEX events_dead_reason ON events (reason, id, finished_at) WHERE state = {DEAD}",
    # Events and calls by time step (`bucket`, Unix seconds), type and outcome, kept with
    # every outcome row (and, as `accepted`, every event sorted in), so that `status` and
    # the overview count exactly without reading the log. Pruning folds minutes into hours
    # and hours into totals (bucket 0).
    """CREATE TABLE outcome_counts (
        bucket INTEGER NOT NULL,
        type TEXT NOT NULL,
        outcome TEXT NOT NULL,
        events INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        PRIMARY KEY (bucket, type, outcome)
    ) WITHOUT ROWID""",
    "INSERT INTO outcome_counts (bucket, type, outcome, events, calls)"
    " SELECT CAST(at AS INTEGER) / 60 * 60, type, outcome, count(*), sum(calls) FROM outcomes"
    " GROUP BY 1, 2, 3",
    # One row per attempt that gave a trace: the trace (JSON), and the event as received.
    """CREATE TABLE traces (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        message_id TEXT NOT NULL,
        user_id TEXT,
        anonymous_id TEXT,
        body BLOB,
        trace BLOB NOT NULL
    )""",
    "CREATE INDEX traces_message_id ON traces (message_id)",
    "CREATE INDEX traces_user_id ON traces (user_id) WHERE user_id IS NOT NULL",
    "CREATE INDEX traces_anonymous_id ON traces (anonymous_id) WHERE anonymous_id IS NOT NULL",
    # Up to when traces were pruned, so that a story tells a pruned trace from none.
    """CREATE TABLE pruned (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        traces_before REAL NOT NULL
    )""",
    # Event names and custom attributes a workspace budget refused.
    """CREATE TABLE refusals (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        reason TEXT NOT NULL,
        at REAL NOT NULL,
        times INTEGER NOT NULL,
        PRIMARY KEY (kind, name)
    ) WITHOUT ROWID""",
]

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL UNIQUE,
            lane TEXT NOT NULL,
            type TEXT NOT NULL,
            received_at REAL NOT NULL,
            body BLOB,
            state INTEGER NOT NULL,
            -- the order within the lane: arrivals take their id, events put back at the front
            -- of a lane take positions below the lane's lowest
            position INTEGER NOT NULL,
            not_before REAL NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            history TEXT,
            waiting_for TEXT,
            until REAL,
            finished_at REAL,
            reason TEXT
        )""",
        f"CREATE INDEX events_pending ON events (lane, position) WHERE state = {PENDING}",
        f"CREATE INDEX events_parked ON events (lane, waiting_for) WHERE state = {PARKED}",
        f"CREATE INDEX events_waiting ON events (waiting_for) WHERE state = {PARKED}",
        f"CREATE INDEX events_parked_until ON events (until) WHERE state = {PARKED}",
        f"CREATE INDEX events_dead ON events (id) WHERE state = {DEAD}",
        f"CREATE INDEX events_done ON events (finished_at) WHERE state = {DONE}",
        # One row per lane with pending events. `head` is the event handed to workers, kept
        # until it is finished; `token` changes whenever a lease is granted or spent.
        """CREATE TABLE lanes (
            lane TEXT PRIMARY KEY,
            available_at REAL NOT NULL,
            head INTEGER,
            token INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            lease_until REAL
        ) WITHOUT ROWID""",
        "CREATE INDEX lanes_available ON lanes (available_at)",
        """CREATE TABLE links (
            anonymous_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            linked_at REAL NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE identities (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            intercom_id TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE attributes (
            model TEXT NOT NULL,
            name TEXT NOT NULL,
            data_type TEXT NOT NULL,
            PRIMARY KEY (model, name)
        ) WITHOUT ROWID""",
        "CREATE TABLE event_names (name TEXT PRIMARY KEY) WITHOUT ROWID",
        "CREATE TABLE digests (contact TEXT PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID",
        """CREATE TABLE outcomes (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            message_id TEXT NOT NULL,
            lane TEXT NOT NULL,
            type TEXT NOT NULL,
            outcome TEXT NOT NULL,
            reason TEXT,
            calls INTEGER NOT NULL
        )""",
        """CREATE TABLE rate_bucket (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            tokens REAL NOT NULL,
            updated_at REAL NOT NULL,
            paused_until REAL
        )""",
    ],
    [
        # Events as they arrive, before they are sorted into `events`; the id is the event's
        # from its arrival on, so the sequence starts past every id `events` has used.
        """CREATE TABLE inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT NOT NULL,
            lane TEXT NOT NULL,
            type TEXT NOT NULL,
            received_at REAL NOT NULL,
            body BLOB NOT NULL
        )""",
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox', coalesce(max(id), 0) FROM events",
    ],
    [
        # The inbox's rows up to `through` are in `events`. Before version 3 a sort emptied
        # the inbox: what it holds is past the mark.
        "CREATE TABLE sorted (through INTEGER NOT NULL)",
        "INSERT INTO sorted SELECT coalesce((SELECT min(id) FROM main.inbox) - 1,"
        " (SELECT seq FROM main.sqlite_sequence WHERE name = 'inbox'), 0)",
        *_INBOX,
        # OR IGNORE: the inbox file commits on its own, so a migration that failed may have
        # copied them already.
        "INSERT OR IGNORE INTO arrivals.inbox (id, message_id, lane, type, received_at, body)"
        " SELECT id, message_id, lane, type, received_at, body FROM main.inbox",
        "DROP TABLE main.inbox",
    ],
    [
        # Segment files take the inbox's place: its events past the mark are sorted now, and
        # `sorted.through` becomes the last id a sort gave (see `inbox`). Its file is
        # deleted once this commits (`legacy_inbox_files`).
        *_INBOX,
        "INSERT INTO events (id, message_id, lane, type, received_at, body, state, position)"
        " SELECT id, message_id,"
        " coalesce((SELECT user_id FROM links WHERE anonymous_id = visitor), lane),"
        f" type, received_at, body, {PENDING}, id FROM arrivals.inbox"
        " WHERE id > (SELECT through FROM sorted) ORDER BY id ON CONFLICT (message_id) DO NOTHING",
        "INSERT INTO lanes (lane, available_at) SELECT lane, received_at FROM events"
        f" WHERE id > (SELECT through FROM sorted) AND state = {PENDING} ORDER BY id"
        " ON CONFLICT (lane) DO NOTHING",
        "UPDATE sorted SET through = max(through,"
        " coalesce((SELECT seq FROM arrivals.sqlite_sequence WHERE name = 'inbox'), 0),"
        " coalesce((SELECT max(id) FROM events), 0))",
        # How far each segment is sorted (a byte offset).
        "CREATE TABLE segments (name TEXT PRIMARY KEY, through INTEGER NOT NULL) WITHOUT ROWID",
    ],
    [
        # Per company, the attributes many lanes sent, merged by event time (`CompanyRecord`).
        """CREATE TABLE company_states (
            company_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            synced INTEGER NOT NULL,
            state BLOB NOT NULL
        ) WITHOUT ROWID""",
    ],
    [
        # The Intercom workspace the caches describe (see `Store.claim_workspace`).
        "CREATE TABLE workspace (id INTEGER PRIMARY KEY CHECK (id = 1), app TEXT NOT NULL)",
        # The body a digest was taken of, to rebuild a contact Intercom lost.
        "ALTER TABLE digests ADD COLUMN body BLOB",
        # Names known before were added once their event was sent.
        "ALTER TABLE event_names ADD COLUMN accepted INTEGER NOT NULL DEFAULT 1",
    ],
    [
        # Why every worker waits (`status` says it): a 429, or a token Intercom refused.
        "ALTER TABLE rate_bucket ADD COLUMN paused_reason TEXT",
    ],
    CONSOLE,
    [
        # Deletions (`Erasure`): the store's salt for hashing people's ids, the ids whose
        # events are refused (as salted hashes), and each deletion request, which stays as
        # its audit record once it ends.
        "CREATE TABLE salt (id INTEGER PRIMARY KEY CHECK (id = 1), value BLOB NOT NULL)",
        "CREATE TABLE suppressions (hash TEXT PRIMARY KEY, suppressed_at REAL NOT NULL)"
        " WITHOUT ROWID",
        """CREATE TABLE deletions (
            id INTEGER PRIMARY KEY,
            requested_at REAL NOT NULL,
            state TEXT NOT NULL,
            suppress INTEGER NOT NULL,
            -- JSON: the subjects while the request runs (NULL once it ended), their hashes
            subjects TEXT,
            hashes TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0,
            contacts INTEGER NOT NULL DEFAULT 0,
            finished_at REAL,
            error TEXT
        )""",
    ],
    [
        # The state of the version last confirmed as the one Intercom holds, which a
        # company's next upsert is a difference from (`CompanyRecord.confirmed`).
        "ALTER TABLE company_states ADD COLUMN confirmed BLOB",
    ],
]


def attach_legacy_inbox(connection: sqlite3.Connection, path: str) -> None:
    """Attach the inbox file of a version 3 store at `path` (made if it is not there) as
    `arrivals`, which migrations from before version 4 read or write."""
    connection.execute(
        "ATTACH DATABASE ? AS arrivals",
        (path if path == ":memory:" else path + LEGACY_INBOX_SUFFIX,),
    )


def legacy_inbox_files(path: str) -> list[Path]:
    """The files of the inbox of a version 3 store at `path`, which version 4 no longer uses."""
    return [Path(path + LEGACY_INBOX_SUFFIX + suffix) for suffix in ("", "-wal", "-shm")]


def is_current(connection: sqlite3.Connection) -> bool:
    """Whether the database has the latest schema; reads only, so a process that only looks
    (`status`) needs no write lock while another holds it."""
    return _version(connection) == len(MIGRATIONS)


def has_schema(connection: sqlite3.Connection) -> bool:
    """Whether the database holds a store, of any version."""
    return _version(connection) is not None


def migrate(connection: sqlite3.Connection) -> tuple[int, int]:
    """Bring the database to the latest schema, inside the caller's transaction; its
    versions before and after."""
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    recorded = _version(connection)
    version = recorded or 0
    if version > len(MIGRATIONS):
        raise StoreError(
            f"the database has schema version {version}; this version of "
            f"intercom-destination knows versions up to {len(MIGRATIONS)}"
        )
    for statements in MIGRATIONS[version:]:
        for statement in statements:
            connection.execute(statement)
    if recorded is None:
        connection.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
    else:
        connection.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
    return version, len(MIGRATIONS)


def _version(connection: sqlite3.Connection) -> int | None:
    """The schema version the database records; None before it records one."""
    if not connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone():
        return None
    row = connection.execute("SELECT version FROM schema_version").fetchone()
    return None if row is None else int(row[0])
