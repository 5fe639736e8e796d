"""The SQLite store's inbox: events appended in arrival order to a file of their own, sorted
into lanes in bulk."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
from contextlib import closing
from pathlib import Path

import msgspec
import pytest

from intercom_destination.store import Enqueued, open_store, sqlite_inbox, sqlite_schema
from intercom_destination.store.sqlite import WRITER_NICE, SQLiteStore
from intercom_destination.store.sqlite_inbox import Arrivals, Sorter
from intercom_destination.store.sqlite_schema import INBOX_SUFFIX, attach_inbox, migrate
from tests.store.helpers import NOW, drain, event, query

pytestmark = pytest.mark.anyio


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _connect(path: Path | str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    attach_inbox(connection, str(path))
    return connection


def _connection() -> sqlite3.Connection:
    connection = _connect(":memory:")
    migrate(connection)
    return connection


def _waiting(url: str) -> list[str]:
    """The messageIds in the inbox past the mark, in arrival order."""
    with closing(_connect(url.removeprefix("sqlite:///"))) as connection:
        rows = connection.execute(
            "SELECT message_id FROM arrivals.inbox"
            " WHERE id > (SELECT through FROM sorted) ORDER BY id"
        ).fetchall()
    return [message_id for (message_id,) in rows]


async def test_the_writer_sorts_the_inbox_into_lanes_when_it_is_due(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inbox, "SORT_AFTER", 0.0)
    async with await open_store(url) as store:
        await store.enqueue([event("m1"), event("m2", "u2")])
        # The writer looks after each of its transactions: it sorts after the first, and
        # deletes what it sorted from the inbox after the second.
        await store.put_identity("email", "a@example.com", "c1")
        await store.put_identity("email", "b@example.com", "c2")
        await store.put_identity("email", "c@example.com", "c3")

        assert query(url + INBOX_SUFFIX, "SELECT count(*) FROM inbox") == [(0,)]
        assert query(url, "SELECT message_id, lane FROM events ORDER BY id") == [
            ("m1", "u1"),
            ("m2", "u2"),
        ]
        assert sorted(lane for (lane,) in query(url, "SELECT lane FROM lanes")) == ["u1", "u2"]


async def test_events_wait_in_the_inbox_while_enough_lanes_are_ready(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inbox, "SORT_AFTER", 3600.0)
    async with await open_store(url) as store:
        await store.enqueue([event("m1"), event("m2", "u2")])
        [first] = await store.lease("w", 1, 30, NOW)
        await store.enqueue([event("m3", "u3")])

        [second] = await store.lease("w", 1, 30, NOW)

        assert {first.lane, second.lane} == {"u1", "u2"}
        assert _waiting(url) == ["m3"]
        status = await store.status(NOW)
        assert (status.lanes, status.backlog) == (3, 3)
        [third] = await store.lease("w", 1, 30, NOW)
        assert third.event.message_id == "m3"


async def test_enqueues_go_on_while_the_stores_file_is_locked_by_a_writer(url: str) -> None:
    # As they do while the writer sorts the inbox, which holds the store file's write lock.
    async with await open_store(url) as store:
        await store.enqueue([event("m1")])
        with closing(
            sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        ) as other:
            other.execute("BEGIN IMMEDIATE")
            try:
                assert await store.enqueue([event("m2"), event("m1")]) == [
                    Enqueued.ACCEPTED,
                    Enqueued.DUPLICATE,
                ]
            finally:
                other.execute("ROLLBACK")

        assert await drain(store) == ["m1", "m2"]


async def test_a_version_1_database_is_migrated_and_its_lanes_keep_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as connection, connection:
        for statement in sqlite_schema.MIGRATIONS[0]:
            connection.execute(statement)
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version VALUES (1)")
        for id_, message_id in ((1, "old1"), (2, "old2")):
            old = event(message_id)
            connection.execute(
                "INSERT INTO events (id, message_id, lane, type, received_at, body, state,"
                " position) VALUES (?, ?, 'u1', 'track', ?, ?, 0, ?)",
                (id_, message_id, old.received_at, old.body, id_),
            )
        connection.execute("INSERT INTO lanes (lane, available_at) VALUES ('u1', ?)", (NOW,))
    monkeypatch.setattr(sqlite_inbox, "SORT_AFTER", 0.0)

    async with await open_store(f"sqlite:///{path}") as store:
        assert await store.enqueue([event("new"), event("old1")]) == [
            Enqueued.ACCEPTED,
            Enqueued.DUPLICATE,
        ]
        await store.put_identity("email", "a@example.com", "c1")  # behind the sort

        assert await drain(store) == ["old1", "old2", "new"]


async def test_a_version_2_database_is_migrated_with_its_inbox_in_a_file_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as connection, connection:
        for statement in [*sqlite_schema.MIGRATIONS[0], *sqlite_schema.MIGRATIONS[1]]:
            connection.execute(statement)
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version VALUES (2)")
        # Sorted before: ids 1 and 2 were taken; m3 and m4 wait in the old inbox.
        connection.execute("UPDATE sqlite_sequence SET seq = 2 WHERE name = 'inbox'")
        for message_id in ("m3", "m4"):
            old = event(message_id)
            connection.execute(
                "INSERT INTO inbox (message_id, lane, type, received_at, body)"
                " VALUES (?, 'u1', 'track', ?, ?)",
                (message_id, old.received_at, old.body),
            )
    monkeypatch.setattr(sqlite_inbox, "SORT_AFTER", 3600.0)

    async with await open_store(f"sqlite:///{path}") as store:
        assert (await store.status(NOW)).backlog == 2
        assert await store.enqueue([event("m5"), event("m3")]) == [
            Enqueued.ACCEPTED,
            Enqueued.DUPLICATE,
        ]
        assert query(f"sqlite:///{path}{INBOX_SUFFIX}", "SELECT id, message_id FROM inbox") == [
            (3, "m3"),
            (4, "m4"),
            (5, "m5"),
        ]
        assert await drain(store) == ["m3", "m4", "m5"]


async def test_a_lost_inbox_file_is_made_again_past_every_id_the_store_used(url: str) -> None:
    async with await open_store(url) as store:
        await store.enqueue([event("m1"), event("m2")])
        assert await drain(store) == ["m1", "m2"]
    path = Path(url.removeprefix("sqlite:///") + INBOX_SUFFIX)
    for file in path.parent.glob(path.name + "*"):
        file.unlink()

    async with await open_store(url) as store:
        assert await store.enqueue([event("m3"), event("m1")]) == [
            Enqueued.ACCEPTED,
            Enqueued.DUPLICATE,
        ]
        assert await drain(store) == ["m3"]
        assert query(url, "SELECT id, message_id FROM events ORDER BY id") == [
            (1, "m1"),
            (2, "m2"),
            (3, "m3"),
        ]


def test_appended_events_take_ids_in_arrival_order_and_their_lanes() -> None:
    with closing(_connection()) as connection:
        connection.execute("INSERT INTO links VALUES ('a1', 'u9', 0)")
        events = [
            event("m1"),
            event("m2", None, anonymous_id="a1"),  # a linked visitor: the user's lane
            event("m3", None, anonymous_id="a2"),
            event("m4", "u2", anonymous_id="a1"),
            event("m5", None),
        ]

        assert Arrivals().append(connection, events) == [Enqueued.ACCEPTED] * 5

        assert connection.execute(
            "SELECT id, message_id, lane, visitor FROM arrivals.inbox"
        ).fetchall() == [
            (1, "m1", "u1", None),
            (2, "m2", "u9", "a1"),
            (3, "m3", "a2", "a2"),
            (4, "m4", "u2", None),
            (5, "m5", "", None),
        ]


def test_bodies_and_fields_are_stored_as_they_came() -> None:
    bodies = ['{"name":"Zoë ✓"}'.encode(), b"", b"\xff\x00 not JSON"]
    events = [
        msgspec.structs.replace(event(f"m{i}", received_at=1_781_234_567.123456 + i), body=body)
        for i, body in enumerate(bodies)
    ]
    with closing(_connection()) as connection:
        Arrivals().append(connection, events)

        assert connection.execute(
            "SELECT message_id, type, received_at, body FROM arrivals.inbox ORDER BY id"
        ).fetchall() == [(e.message_id, e.type, e.received_at, e.body) for e in events]


def test_a_sort_takes_the_events_past_the_mark_and_resolves_visitors_linked_meanwhile() -> None:
    arrivals = Arrivals()
    sorter = Sorter(arrivals)
    with closing(_connection()) as connection:
        arrivals.append(connection, [event("m1"), event("m2", None, anonymous_id="a1")])
        connection.execute("INSERT INTO links VALUES ('a1', 'u9', 0)")

        assert sorter.sort(connection) == 2
        assert sorter.sort(connection) == 0
        arrivals.append(connection, [event("m3", "u3")])
        assert sorter.sort(connection) == 1

        assert connection.execute("SELECT message_id, lane FROM events ORDER BY id").fetchall() == [
            ("m1", "u1"),
            ("m2", "u9"),
            ("m3", "u3"),
        ]
        assert connection.execute("SELECT through FROM sorted").fetchall() == [(3,)]
        # What a sort took leaves the inbox in the upkeep after it.
        assert sorter.upkeep_in() == 0
        assert sorter.upkeep(connection) == 3
        assert connection.execute("SELECT count(*) FROM arrivals.inbox").fetchall() == [(0,)]
        assert arrivals.append(connection, [event("m1"), event("m4")]) == [
            Enqueued.DUPLICATE,
            Enqueued.ACCEPTED,
        ]


def test_the_rows_a_sort_took_leave_the_inbox_a_few_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlite_inbox, "DELETE_ROWS", 2)
    arrivals = Arrivals()
    sorter = Sorter(arrivals)
    with closing(_connection()) as connection:
        arrivals.append(connection, [event(f"m{number}") for number in range(5)])
        sorter.sort(connection)
        arrivals.append(connection, [event("m5")])  # after the sort: it stays

        deleted = []
        while sorter.upkeep_in() <= 0:
            deleted.append(sorter.upkeep(connection))

        assert deleted == [2, 2, 1, 0]
        assert connection.execute("SELECT message_id FROM arrivals.inbox").fetchall() == [("m5",)]


def test_rows_a_crash_left_behind_the_mark_are_never_sorted_twice_and_go_later() -> None:
    with closing(_connection()) as connection:
        arrivals = Arrivals()
        arrivals.append(connection, [event("m1"), event("m2")])
        Sorter(arrivals).sort(connection)  # and the process ends before deleting them

        arrivals = Arrivals()
        sorter = Sorter(arrivals)
        assert arrivals.append(connection, [event("m2"), event("m3")]) == [
            Enqueued.DUPLICATE,
            Enqueued.ACCEPTED,
        ]
        assert sorter.sort(connection) == 1
        assert sorter.upkeep(connection) == 3
        assert connection.execute("SELECT count(*) FROM events").fetchall() == [(3,)]


def test_duplicates_are_found_in_the_batch_the_inbox_events_and_other_processes_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    with closing(_connect(path)) as one:
        migrate(one)
        with closing(_connect(path)) as two:
            mine, theirs = Arrivals(), Arrivals()
            mine.append(one, [event("m1")])
            theirs.append(two, [event("m2")])
            Sorter(theirs).sort(two)  # m1 and m2 into `events`
            theirs.append(two, [event("m3")])  # after the last row `mine` saw

            assert mine.append(
                one, [event("m4"), event("m1"), event("m3"), event("m4"), event("m5")]
            ) == [
                Enqueued.ACCEPTED,
                Enqueued.DUPLICATE,
                Enqueued.DUPLICATE,
                Enqueued.DUPLICATE,
                Enqueued.ACCEPTED,
            ]
            assert (
                mine.append(one, [event("m2"), event("m3"), event("m5")])
                == [Enqueued.DUPLICATE] * 3
            )
            assert one.execute(
                "SELECT id, message_id FROM arrivals.inbox WHERE id > 2"
            ).fetchall() == [(3, "m3"), (4, "m4"), (5, "m5")]
            theirs.append(two, [event("m6")])
            assert mine.append(one, [event("m7")]) == [Enqueued.ACCEPTED]
            assert mine.append(one, [event("m6")]) == [Enqueued.DUPLICATE]


def test_a_sort_rolled_back_with_its_job_leaves_the_inbox_as_it_was() -> None:
    arrivals = Arrivals()
    sorter = Sorter(arrivals)
    with closing(_connection()) as connection:
        arrivals.append(connection, [event("m1", anonymous_id="a")])
        connection.execute("SAVEPOINT job")
        assert sorter.sort(connection) == 1
        connection.execute("ROLLBACK TO job")
        connection.execute("RELEASE job")

        assert arrivals.append(connection, [event("m1")]) == [Enqueued.DUPLICATE]
        assert sorter.holds_lane(connection, "u1")
        assert sorter.sort(connection) == 1


def test_a_rolled_back_transaction_is_forgotten() -> None:
    arrivals = Arrivals()
    with closing(_connection()) as connection:
        arrivals.append(connection, [event("m0")])
        connection.execute("BEGIN")
        assert arrivals.append(connection, [event("m1")]) == [Enqueued.ACCEPTED]
        connection.execute("ROLLBACK")
        arrivals.rolled_back()

        connection.execute("BEGIN")
        assert arrivals.append(connection, [event("m1")]) == [Enqueued.ACCEPTED]
        assert arrivals.append(connection, [event("m1")]) == [Enqueued.DUPLICATE]
        connection.execute("COMMIT")


def test_an_inbox_sees_what_another_connection_appended_and_sorted(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with closing(_connect(path)) as one:
        migrate(one)
        with closing(_connect(path)) as two:
            mine, theirs = Arrivals(), Arrivals()
            my_sorter = Sorter(mine)
            assert (
                mine.append(one, [event("m1"), event("a1", None, anonymous_id="a")])
                == [Enqueued.ACCEPTED] * 2
            )

            assert theirs.append(two, [event("m1"), event("m2")]) == [
                Enqueued.DUPLICATE,
                Enqueued.ACCEPTED,
            ]
            assert my_sorter.holds_lane(one, "a")
            assert Sorter(theirs).sort(two) == 3
            assert not my_sorter.holds_lane(one, "a")
            assert mine.append(one, [event("m2"), event("m3")]) == [
                Enqueued.DUPLICATE,
                Enqueued.ACCEPTED,
            ]
            assert my_sorter.holds_lane(one, "u1")


async def test_a_failing_sort_does_not_fail_enqueues(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Sorter, connection: sqlite3.Connection) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite_inbox, "SORT_AFTER", 0.0)
    monkeypatch.setattr(Sorter, "sort", broken)
    with caplog.at_level(logging.ERROR):
        async with await open_store(url) as store:
            assert await store.enqueue([event("m1")]) == [Enqueued.ACCEPTED]
            assert await store.enqueue([event("m2"), event("m1")]) == [
                Enqueued.ACCEPTED,
                Enqueued.DUPLICATE,
            ]
            assert (await store.status(NOW)).backlog == 2

    assert "the store's upkeep failed" in caplog.text


async def test_a_file_stores_writer_runs_below_the_thread_that_appends(url: str) -> None:
    def priority(connection: sqlite3.Connection) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    async with await open_store(url) as store:
        assert isinstance(store, SQLiteStore)
        assert await store._appender.call(priority) == base
        assert await store._writer.call(priority) == min(base + WRITER_NICE, 19)


@pytest.mark.skipif(sys.platform != "linux", reason="thread names are shown through Linux's /proc")
async def test_a_file_stores_threads_show_their_names_to_the_os(url: str) -> None:
    def os_name(connection: sqlite3.Connection) -> str:
        return Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()

    async with await open_store(url) as store:
        assert isinstance(store, SQLiteStore)
        assert await store._appender.call(os_name) == "store-appender"
        assert await store._writer.call(os_name) == "store-writer"
        assert await store._reader.call(os_name) == "store-reader"


async def test_the_writer_checkpoints_the_inbox_and_the_thread_that_appends_never_does(
    url: str,
) -> None:
    def pages_before_a_checkpoint(connection: sqlite3.Connection) -> int:
        return int(connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    async with await open_store(url) as store:
        assert isinstance(store, SQLiteStore)
        assert await store._appender.call(pages_before_a_checkpoint) == 0
        assert await store._writer.call(pages_before_a_checkpoint) > 0
