"""The SQLite store's arrivals: events appended to segment files as they come, sorted into
lanes in bulk."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import msgspec
import pytest

from intercom_destination.store import Enqueued, open_store
from intercom_destination.store.sqlite import inbox as sqlite_inbox
from intercom_destination.store.sqlite import schema as sqlite_schema
from intercom_destination.store.sqlite import segments
from intercom_destination.store.sqlite.inbox import Arrivals, Sorter, Waiting
from intercom_destination.store.sqlite.schema import (
    LEGACY_INBOX_SUFFIX,
    SEGMENTS_SUFFIX,
    attach_legacy_inbox,
    migrate,
)
from intercom_destination.store.sqlite.store import WRITER_NICE, SQLiteStore
from tests.store.helpers import NOW, drain, event, query

pytestmark = pytest.mark.anyio

ACCEPTED, DUPLICATE = Enqueued.ACCEPTED, Enqueued.DUPLICATE


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def connection() -> Iterator[sqlite3.Connection]:
    with closing(_connect(":memory:")) as connection:
        migrate(connection)
        yield connection


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "arrivals"


def _connect(path: Path | str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    attach_legacy_inbox(connection, str(path))
    return connection


def _arrivals_and_sorter(directory: Path) -> tuple[Arrivals, Sorter]:
    arrivals = Arrivals(directory, sync=False)
    return arrivals, Sorter(directory, arrivals)


def _events(connection: sqlite3.Connection) -> list[tuple[int, str, str]]:
    return connection.execute("SELECT id, message_id, lane FROM events ORDER BY id").fetchall()


def _clock(*stamps: int) -> Iterator[int]:
    return iter(stamps)


async def test_the_writer_sorts_waiting_events_into_lanes_when_it_is_due(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inbox, "SORT_AFTER", 0.0)
    async with await open_store(url) as store:
        await store.enqueue([event("m1"), event("m2", "u2")])
        # The writer looks after each of its transactions: it sorts after the first, which
        # the second waits for.
        await store.put_identity("email", "a@example.com", "c1")
        await store.put_identity("email", "b@example.com", "c2")

        assert query(url, "SELECT message_id, lane FROM events ORDER BY id") == [
            ("m1", "u1"),
            ("m2", "u2"),
        ]
        assert sorted(lane for (lane,) in query(url, "SELECT lane FROM lanes")) == ["u1", "u2"]
        assert (await store.status(NOW)).backlog == 2


async def test_events_wait_in_their_segment_while_enough_lanes_are_ready(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inbox, "SORT_AFTER", 3600.0)
    async with await open_store(url) as store:
        await store.enqueue([event("m1"), event("m2", "u2")])
        [first] = await store.lease("w", 1, 30, NOW)
        await store.enqueue([event("m3", "u3")])

        [second] = await store.lease("w", 1, 30, NOW)

        assert {first.lane, second.lane} == {"u1", "u2"}
        assert query(url, "SELECT message_id FROM events ORDER BY id") == [("m1",), ("m2",)]
        status = await store.status(NOW)
        assert (status.lanes, status.backlog) == (3, 3)
        [third] = await store.lease("w", 1, 30, NOW)
        assert third.event.message_id == "m3"


async def test_enqueues_go_on_while_the_stores_file_is_locked_by_a_writer(url: str) -> None:
    # As they do while the writer sorts, which holds the store file's write lock.
    async with await open_store(url) as store:
        await store.enqueue([event("m1")])
        with closing(
            sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        ) as other:
            other.execute("BEGIN IMMEDIATE")
            try:
                assert await store.enqueue([event("m2"), event("m1")]) == [ACCEPTED, DUPLICATE]
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
        assert await store.enqueue([event("new"), event("old1")]) == [ACCEPTED, DUPLICATE]
        await store.put_identity("email", "a@example.com", "c1")  # behind the sort

        assert await drain(store) == ["old1", "old2", "new"]


async def test_a_version_3_inbox_is_sorted_by_the_migration_and_its_file_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Version 2 kept its inbox in the store's file; version 3 moved it to a file of its own.
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
        assert await store.enqueue([event("m5"), event("m3")]) == [ACCEPTED, DUPLICATE]
        assert await drain(store) == ["m3", "m4", "m5"]
        assert query(f"sqlite:///{path}", "SELECT id, message_id FROM events ORDER BY id") == [
            (3, "m3"),
            (4, "m4"),
            (5, "m5"),
        ]
    assert not list(tmp_path.glob(f"old.db{LEGACY_INBOX_SUFFIX}*"))


async def test_a_segment_a_crash_cut_short_is_sorted_up_to_the_cut_and_deleted(
    url: str, tmp_path: Path
) -> None:
    directory = Path(url.removeprefix("sqlite:///") + SEGMENTS_SUFFIX)
    async with await open_store(url) as store:
        await store.enqueue([event("m1")])
        await store.enqueue([event("m2")])
        [segment] = directory.iterdir()
    # The process died writing its third group, which was never acknowledged.
    group = segments.encode_group(1, [event("m3")])
    with segment.open("ab") as file:
        file.write(group[: len(group) // 2])

    async with await open_store(url) as store:
        assert await drain(store) == ["m1", "m2"]
        await store.put_identity("email", "a@example.com", "c1")  # and the next upkeep

        assert not segment.exists()
        assert await store.enqueue([event("m3"), event("m1")]) == [ACCEPTED, DUPLICATE]
        assert await drain(store) == ["m3"]


def test_a_sort_gives_ids_in_arrival_order_and_resolves_visitors_linked_meanwhile(
    connection: sqlite3.Connection, directory: Path
) -> None:
    arrivals, sorter = _arrivals_and_sorter(directory)
    arrivals.append(
        connection,
        [
            event("m1"),
            event("m2", None, anonymous_id="a1"),  # linked below: the user's lane
            event("m3", None, anonymous_id="a2"),
            event("m4", "u2", anonymous_id="a1"),
            event("m5", None),
        ],
    )
    connection.execute("INSERT INTO links VALUES ('a1', 'u9', 0)")

    assert sorter.sort(connection) == 5
    assert sorter.sort(connection) == 0
    arrivals.append(connection, [event("m6", "u3")])
    assert sorter.sort(connection) == 1

    assert _events(connection) == [
        (1, "m1", "u1"),
        (2, "m2", "u9"),
        (3, "m3", "a2"),
        (4, "m4", "u2"),
        (5, "m5", ""),
        (6, "m6", "u3"),
    ]
    assert connection.execute("SELECT through FROM sorted").fetchall() == [(6,)]
    assert sorted(lane for (lane,) in connection.execute("SELECT lane FROM lanes")) == [
        "",
        "a2",
        "u1",
        "u2",
        "u3",
        "u9",
    ]


def test_bodies_and_fields_are_stored_as_they_came(
    connection: sqlite3.Connection, directory: Path
) -> None:
    bodies = ['{"name":"Zoë ✓"}'.encode(), b"", b"\xff\x00 not JSON"]
    events = [
        msgspec.structs.replace(event(f"m{i}", received_at=1_781_234_567.123456 + i), body=body)
        for i, body in enumerate(bodies)
    ]
    arrivals = Arrivals(directory, sync=False)
    arrivals.append(connection, events)
    Sorter(directory, arrivals).sort(connection)

    assert connection.execute(
        "SELECT message_id, type, received_at, body FROM events ORDER BY id"
    ).fetchall() == [(e.message_id, e.type, e.received_at, e.body) for e in events]


def test_an_event_that_cannot_be_read_back_is_refused_and_nothing_of_its_batch_appended(
    connection: sqlite3.Connection, directory: Path
) -> None:
    arrivals = Arrivals(directory, sync=False)
    broken = msgspec.structs.replace(event("m2"), received_at="yesterday")

    with pytest.raises(ValueError, match="cannot be stored"):
        arrivals.append(connection, [event("m1"), broken])

    assert arrivals.append(connection, [event("m1")]) == [ACCEPTED]
    assert Sorter(directory, arrivals).sort(connection) == 1


def test_duplicates_are_found_in_the_batch_the_waiting_events_and_the_sorted_ones(
    connection: sqlite3.Connection, directory: Path
) -> None:
    arrivals, sorter = _arrivals_and_sorter(directory)
    arrivals.append(connection, [event("m1")])
    sorter.sort(connection)
    arrivals.append(connection, [event("m2")])

    assert arrivals.append(
        connection, [event("m3"), event("m1"), event("m2"), event("m3"), event("m4")]
    ) == [ACCEPTED, DUPLICATE, DUPLICATE, DUPLICATE, ACCEPTED]
    sorter.sort(connection)
    # Sorted since: `events` tells, as the mirror forgot them.
    assert arrivals.append(connection, [event("m2"), event("m4"), event("m5")]) == [
        DUPLICATE,
        DUPLICATE,
        ACCEPTED,
    ]
    sorter.sort(connection)
    assert [message_id for _, message_id, _ in _events(connection)] == [
        "m1",
        "m2",
        "m3",
        "m4",
        "m5",
    ]


def test_the_mirror_of_waiting_message_ids_forgets_the_oldest_past_its_bound(
    connection: sqlite3.Connection, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However far sorts fall behind, the mirror holds so many messageIds: a duplicate of an
    # event older than those is appended again, and the sort keeps the first.
    monkeypatch.setattr(sqlite_inbox, "MIRROR_ROWS", 2)
    arrivals, sorter = _arrivals_and_sorter(directory)
    for message_id in ("m1", "m2", "m3"):
        assert arrivals.append(connection, [event(message_id)]) == [ACCEPTED]

    assert arrivals.append(connection, [event("m1"), event("m2"), event("m3")]) == [
        ACCEPTED,
        DUPLICATE,
        DUPLICATE,
    ]
    assert sorter.sort(connection) == 3
    assert [message_id for _, message_id, _ in _events(connection)] == ["m1", "m2", "m3"]
    assert arrivals.append(connection, [event("m1")]) == [DUPLICATE]


def test_a_message_id_two_stores_both_took_before_a_sort_is_stored_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    directory = tmp_path / "arrivals"
    with closing(_connect(path)) as one, closing(_connect(path)) as two:
        migrate(one)
        mine = Arrivals(directory, sync=False, clock=_clock(1, 3).__next__)
        theirs = Arrivals(directory, sync=False, clock=_clock(2).__next__)
        assert mine.append(one, [event("m1"), event("m2")]) == [ACCEPTED] * 2
        assert theirs.append(two, [event("m2"), event("m3")]) == [ACCEPTED] * 2

        assert Sorter(directory, theirs).sort(two) == 3
        assert mine.append(one, [event("m3"), event("m4")]) == [DUPLICATE, ACCEPTED]
        assert [message_id for _, message_id, _ in _events(one)] == ["m1", "m2", "m3"]


def test_segments_are_merged_in_the_order_their_groups_were_appended(
    connection: sqlite3.Connection, directory: Path
) -> None:
    one = Arrivals(directory, sync=False, clock=_clock(10, 30, 50).__next__)
    two = Arrivals(directory, sync=False, clock=_clock(20, 40).__next__)
    for arrivals, message_id in [(one, "a"), (two, "b"), (one, "c"), (two, "d"), (one, "e")]:
        arrivals.append(connection, [event(message_id)])

    # A sort takes only the groups appended before it began, which any group acknowledged
    # before theirs arrived was.
    assert Sorter(directory, one, stamp_clock=lambda: 40).sort(connection) == 4
    assert Sorter(directory, one, stamp_clock=lambda: 60).sort(connection) == 1

    assert [message_id for _, message_id, _ in _events(connection)] == ["a", "b", "c", "d", "e"]


def test_a_sort_reads_and_copies_a_backlog_a_chunk_at_a_time(
    connection: sqlite3.Connection, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backlog of any size may wait (ingest with no worker, a big `send`): a sort holds a
    # chunk of it in memory, never all of it.
    monkeypatch.setattr(sqlite_inbox, "SORT_CHUNK", 2)
    one = Arrivals(directory, sync=False, clock=_clock(10, 30, 50).__next__)
    two = Arrivals(directory, sync=False, clock=_clock(20, 40).__next__)
    for arrivals, message_ids in [(one, "a"), (two, "bc"), (one, "d"), (two, "e"), (one, "fg")]:
        arrivals.append(connection, [event(message_id) for message_id in message_ids])
    groups_read = 0
    read_groups = sqlite_inbox.read_groups

    def counted(path: Path, offset: int) -> Iterator[segments.Group]:
        nonlocal groups_read
        for group in read_groups(path, offset):
            groups_read += 1
            yield group

    copied: list[tuple[int, int]] = []
    rows = sqlite_inbox._rows

    def copy(events: list[segments.Arrived]) -> tuple[str, bytes]:
        copied.append((len(events), groups_read))
        return rows(events)

    monkeypatch.setattr(sqlite_inbox, "read_groups", counted)
    monkeypatch.setattr(sqlite_inbox, "_rows", copy)

    assert Sorter(directory, one).sort(connection) == 7

    assert [count for count, _ in copied] == [2, 2, 2, 1]
    assert copied[0][1] < 5  # the first chunk went before the last group was read
    assert _events(connection) == [(n, m, "u1") for n, m in enumerate("abcdefg", start=1)]
    assert connection.execute("SELECT through FROM sorted").fetchall() == [(7,)]


def test_the_waiting_events_lanes_are_read_a_batch_at_a_time_whenever_asked_for(
    connection: sqlite3.Connection, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any number of events may wait, of as many lanes: none of them is kept in memory.
    monkeypatch.setattr(sqlite_inbox, "LANE_BATCH", 2)
    arrivals, sorter = _arrivals_and_sorter(directory)
    arrivals.append(connection, [event("m1", "u1"), event("m2", "u2")])
    sorter.sort(connection)
    arrivals.append(connection, [event("m3", "u2"), event("m4", "u3"), event("m5", "u4")])
    arrivals.append(connection, [event("m6", "u3", received_at=NOW + 1), event("m7", "u5")])
    waiting = Waiting(directory)

    assert list(waiting.lanes(connection)) == [["u2", "u3", "u4"], ["u3", "u5"]]
    assert waiting.read(connection) == (5, NOW)
    assert waiting.new_lanes(connection) == 3  # u3, u4 and u5: u2 has its row
    assert waiting.new_lanes(connection) == 3
    assert sorter.holds_lane(connection, "u5")
    assert not sorter.holds_lane(connection, "u1")
    assert sorter.needs_sort_for_lease(connection)
    sorter.sort(connection)
    assert list(waiting.lanes(connection)) == []
    assert waiting.new_lanes(connection) == 0
    assert not sorter.needs_sort_for_lease(connection)


def test_sealed_segments_sorted_to_their_end_are_deleted_and_others_kept(
    connection: sqlite3.Connection, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "SEGMENT_BYTES", 1)  # a segment per group
    arrivals, sorter = _arrivals_and_sorter(directory)
    arrivals.append(connection, [event("m1")])
    arrivals.append(connection, [event("m2")])
    sorter.sort(connection)
    arrivals.append(connection, [event("m3")])  # after the sort: waits
    first, second, third = segments.segment_paths(directory)

    assert sorter.upkeep_in() <= 0
    assert sorter.upkeep(connection) == 2
    assert [path.exists() for path in (first, second, third)] == [False, False, True]
    assert sorter.sort(connection) == 1
    assert sorter.upkeep(connection) == 0  # the third is sorted, but still written to
    assert third.exists()
    assert connection.execute("SELECT name FROM segments").fetchall() == [(third.name,)]
    assert arrivals.append(connection, [event("m2"), event("m1"), event("m3")]) == [DUPLICATE] * 3


def test_the_log_is_flushed_before_the_segments_a_sort_emptied_are_deleted(
    tmp_path: Path, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sort inside a lease commits without flushing the log: the events it copied must be
    on disk before their segments go."""
    monkeypatch.setattr(segments, "SEGMENT_BYTES", 1)  # a segment per group
    database = tmp_path / "store.db"
    with closing(_connect(database)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        migrate(connection)
        arrivals, sorter = _arrivals_and_sorter(directory)
        arrivals.append(connection, [event("m1")])
        arrivals.append(connection, [event("m2")])
        connection.execute("PRAGMA synchronous = NORMAL")
        sorter.sort(connection)
        arrivals.append(connection, [event("m3")])  # after the sort: waits
        log = Path(f"{database}-wal").stat().st_ino
        done: list[str] = []
        fsync, unlink = os.fsync, Path.unlink

        def noted_fsync(fd: int) -> None:
            done.append("log flushed" if os.fstat(fd).st_ino == log else "other flushed")
            fsync(fd)

        def noted_unlink(path: Path, missing_ok: bool = False) -> None:
            done.append(f"{path.name} deleted")
            unlink(path, missing_ok=missing_ok)

        monkeypatch.setattr(os, "fsync", noted_fsync)
        monkeypatch.setattr(Path, "unlink", noted_unlink)
        first, second, _ = segments.segment_paths(directory)
        assert sorter.upkeep(connection) == 2

    assert done == ["log flushed", f"{first.name} deleted", f"{second.name} deleted"]


def test_a_failed_write_seals_its_segment_and_acknowledges_nothing(
    connection: sqlite3.Connection, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrivals = Arrivals(directory)
    arrivals.append(connection, [event("m1")])

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fdatasync", full)
        with pytest.raises(OSError, match="No space"):
            arrivals.append(connection, [event("m2")])

    assert arrivals.append(connection, [event("m2")]) == [ACCEPTED]
    first, second = segments.segment_paths(directory)
    assert segments.is_sealed(first)
    assert not segments.is_sealed(second)
    # The group whose flush failed may be on disk: it is sorted, and its retry is not.
    assert Sorter(directory, arrivals).sort(connection) == 2


def test_a_sort_rolled_back_with_its_job_leaves_the_events_waiting(
    connection: sqlite3.Connection, directory: Path
) -> None:
    arrivals, sorter = _arrivals_and_sorter(directory)
    arrivals.append(connection, [event("m1", None, anonymous_id="a")])
    connection.execute("SAVEPOINT job")
    assert sorter.sort(connection) == 1
    connection.execute("ROLLBACK TO job")
    connection.execute("RELEASE job")

    assert arrivals.append(connection, [event("m1")]) == [DUPLICATE]
    assert sorter.holds_lane(connection, "a")
    assert sorter.needs_sort_for_lease(connection)
    assert sorter.sort(connection) == 1
    assert not sorter.holds_lane(connection, "a")
    assert not sorter.needs_sort_for_lease(connection)


def test_a_sorter_sees_what_another_store_appended_and_sorted(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    directory = tmp_path / "arrivals"
    with closing(_connect(path)) as one, closing(_connect(path)) as two:
        migrate(one)
        mine, theirs = Arrivals(directory, sync=False), Arrivals(directory, sync=False)
        my_sorter = Sorter(directory, mine)
        theirs.append(two, [event("a1", None, anonymous_id="a")])

        assert my_sorter.holds_lane(one, "a")
        assert Sorter(directory, theirs).sort(two) == 1
        assert not my_sorter.holds_lane(one, "a")
        mine.append(one, [event("m1")])
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


async def test_status_reads_the_waiting_events_as_its_snapshot_has_them_while_a_sort_goes_on(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await open_store(url) as store:
        await store.enqueue([event("m1"), event("m2"), event("m3", "u2"), event("m4", "u2")])
    # The events wait in a sealed segment; the store opened next sorts only when told to.
    monkeypatch.setattr(Sorter, "upkeep_in", lambda self: 3600.0)
    async with await open_store(url) as store:
        assert isinstance(store, SQLiteStore)
        sorter, read = store._sorter, Waiting.read

        def read_after_a_sort(waiting: Waiting, connection: sqlite3.Connection) -> object:
            # Another process sorts the events and deletes their segment after this status's
            # transaction began, before it reads the segments.
            monkeypatch.setattr(Waiting, "read", read)
            with closing(sqlite3.connect(tmp_path / "store.db", isolation_level=None)) as other:
                for upkeep in (sorter.sort, sorter.upkeep):
                    other.execute("BEGIN IMMEDIATE")
                    upkeep(other)
                    other.execute("COMMIT")
            return read(waiting, connection)

        monkeypatch.setattr(Waiting, "read", read_after_a_sort)
        status = await store.status(NOW)

    assert (status.lanes, status.backlog) == (2, 4)
