"""Several stores on one database at once, as the processes of a fleet use it."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

from intercom_destination.store import Enqueued, Lease, VisitorInFlight, open_store
from intercom_destination.store.sqlite import store as sqlite
from tests.store.helpers import NOW, drain, event

pytestmark = pytest.mark.anyio


async def test_a_message_id_is_stored_once_whichever_store_takes_it(shared_url: str) -> None:
    # Each store answers DUPLICATE for what it took itself or finds sorted; one that another
    # store took but has not sorted yet is accepted by both, and kept once (see
    # `sqlite.inbox`).
    ids = [f"m{i}" for i in range(200)]
    rng = random.Random(3)
    async with await open_store(shared_url) as one, await open_store(shared_url) as two:
        calls = []
        for store in (one, two, one, two):
            shuffled = rng.sample(ids, len(ids))
            calls += [
                store.enqueue([event(m, f"u{m[-1]}") for m in shuffled[start : start + 20]])
                for start in range(0, len(ids), 20)
            ]

        results = await asyncio.gather(*calls)

        accepted = [r for batch in results for r in batch if r is Enqueued.ACCEPTED]
        if shared_url.startswith("sqlite"):
            assert len(ids) <= len(accepted) <= 2 * len(ids)
        else:
            assert len(accepted) == len(ids)
        assert sorted(await drain(one)) == sorted(ids)


async def test_events_arriving_while_their_lane_empties_are_never_stranded(
    shared_url: str,
) -> None:
    # Each user's next event arrives about when the worker finishes the one before: the
    # lane is emptied and refilled over and over, by two processes at once.
    users = [f"u{i}" for i in range(8)]
    sent = {user: [f"{user}-{i}" for i in range(40)] for user in users}
    delivered: dict[str, list[str]] = {user: [] for user in users}
    async with await open_store(shared_url) as ingest, await open_store(shared_url) as worker:

        async def send(user: str) -> None:
            for message_id in sent[user]:
                await ingest.enqueue([event(message_id, user)])

        async def deliver(lease: Lease) -> None:
            await worker.delivered(lease, now=NOW)
            delivered[lease.lane].append(lease.event.message_id)

        async def work(done: asyncio.Event) -> None:
            while not done.is_set():
                leases = await worker.lease("w", 10, 30, NOW)
                await asyncio.gather(*(deliver(lease) for lease in leases))

        done = asyncio.Event()
        working = asyncio.create_task(work(done))
        await asyncio.gather(*(send(user) for user in users))
        done.set()
        await working
        for message_id in await drain(worker):
            delivered[message_id.split("-")[0]].append(message_id)

        assert delivered == sent
        assert (await worker.status(NOW)).lanes == 0


async def test_a_visitors_events_sent_while_they_are_linked_all_reach_the_user(
    shared_url: str,
) -> None:
    async with await open_store(shared_url) as ingest, await open_store(shared_url) as worker:
        sending = asyncio.Event()

        async def send(start: int) -> None:
            for i in range(start, start + 10):
                await ingest.enqueue([event(f"a{i}", None, anonymous_id="anon")])
                sending.set()

        async def link() -> None:
            await sending.wait()  # the link lands while events are still arriving
            await worker.link("anon", "u1", now=NOW)

        await asyncio.gather(*(send(start) for start in range(0, 50, 10)), link())

        leases = await worker.lease("w", 10, 30, NOW)
        assert [lease.lane for lease in leases] == ["u1"]
        await worker.delivered(leases[0], now=NOW)
        assert len(await drain(worker)) == 49


async def test_a_lane_leased_by_one_store_is_linked_by_another_once_its_head_is_done(
    shared_url: str,
) -> None:
    # Moved into the user's lane, the head in flight would be delivered from there again.
    async with await open_store(shared_url) as one, await open_store(shared_url) as two:
        await one.enqueue(
            [
                event("a1", None, anonymous_id="anon"),
                event("a2", None, anonymous_id="anon"),
                event("i1", "u1"),
            ]
        )
        leases = {lease.lane: lease for lease in await one.lease("one", 10, 30, NOW)}

        with pytest.raises(VisitorInFlight):
            await two.link("anon", "u1", now=NOW)
        await one.delivered(leases["anon"], now=NOW)
        assert await two.link("anon", "u1", now=NOW) == 1

        await one.delivered(leases["u1"], now=NOW)
        assert await drain(two) == ["a2"]


async def test_a_file_busy_while_another_process_recovers_it_is_opened_once_it_is_done(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What a process opening the file at once gets, while another one recovers it after a
    # crash: SQLite does not wait for it as it waits for a lock in a statement.
    opened = sqlite._open
    attempts = 0

    def busy_twice(path: str, cache: int, checkpoints: bool) -> sqlite3.Connection:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY_RECOVERY
            raise error
        return opened(path, cache, checkpoints)

    monkeypatch.setattr(sqlite, "_open", busy_twice)
    monkeypatch.setattr(sqlite, "OPEN_RETRY", 0.0)

    async with await open_store(f"sqlite:///{tmp_path}/events.db") as store:
        assert await store.enqueue([event("m1")]) == [Enqueued.ACCEPTED]
    assert attempts > 2
