from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from intercom_destination.store import (
    Enqueued,
    LeaseLost,
    Pause,
    StoreError,
    migrate_store,
    open_store,
)
from intercom_destination.store.postgres import schema as postgres_schema
from tests.store.helpers import NOW, drain, event, execute, latest_version, query

pytestmark = pytest.mark.anyio


async def test_everything_survives_close_and_reopen(shared_url: str) -> None:
    async with await open_store(shared_url) as store:
        await store.enqueue([event(f"m{i}") for i in range(4)] + [event("d1", "u2")])
        await store.enqueue([event("a1", None, anonymous_id="anon")])
        leases = {lease.lane: lease for lease in await store.lease("w", 10, 30, NOW)}
        await store.retry(leases["u1"], NOW + 5, "503", now=NOW)
        await store.dead(leases["u2"], "bad", now=NOW)
        await store.park(leases["anon"], "anonymous_id:anon", NOW + 600, now=NOW)
        await store.link("anon2", "u9", now=NOW)
        await store.put_identity("email", "a@example.com", "c1")
        await store.add_event_name("Signed Up")
        await store.pause_until(NOW + 30, "429")

    async with await open_store(shared_url) as store:
        [lease] = await store.lease("w", 10, 30, NOW + 5)
        assert (lease.event.message_id, lease.event.attempts) == ("m0", 1)
        await store.delivered(lease, now=NOW + 5)
        assert await drain(store, NOW + 5) == ["m1", "m2", "m3"]
        assert [d.event.message_id for d in await store.dead_letters()] == ["d1"]
        assert (await store.status(NOW)).parked == 1
        await store.enqueue([event("a2", None, anonymous_id="anon2")])
        assert [lease.lane for lease in await store.lease("w", 10, 30, NOW + 5)] == ["u9"]
        assert await store.get_identity("email", "a@example.com") == "c1"
        assert await store.event_names() == ["Signed Up"]
        assert await store.pause() == Pause(NOW + 30, "429")
        assert (await store.outcomes(limit=1))[0].outcome == "delivered"


async def test_a_lease_outlives_a_restart_and_expires(shared_url: str) -> None:
    async with await open_store(shared_url) as store:
        await store.enqueue([event("m1")])
        [lease] = await store.lease("w", 10, 30, NOW)

    async with await open_store(shared_url) as store:
        assert await store.lease("w2", 10, 30, NOW + 10) == []
        [again] = await store.lease("w2", 10, 30, NOW + 30)
        assert again.event == lease.event
        with pytest.raises(LeaseLost):
            await store.delivered(lease, now=NOW + 31)


async def test_two_stores_on_one_file_never_share_a_lane(shared_url: str) -> None:
    async with await open_store(shared_url) as one, await open_store(shared_url) as two:
        await one.enqueue([event(f"m{i}", f"u{i % 10}") for i in range(50)])
        delivered: list[str] = []
        for round in range(5):
            now = NOW + round
            leases = await one.lease("one", 6, 30, now) + await two.lease("two", 6, 30, now)
            assert len({lease.lane for lease in leases}) == len(leases) == 10
            for lease in leases:
                await (one if lease.lane < "u5" else two).delivered(lease, now=now)
            delivered += [lease.event.message_id for lease in leases]

        assert sorted(delivered) == sorted(f"m{i}" for i in range(50))


async def test_a_database_from_a_newer_version_is_refused(shared_url: str) -> None:
    async with await open_store(shared_url):
        pass
    execute(shared_url, "UPDATE schema_version SET version = version + 1")
    latest = latest_version(shared_url)

    with pytest.raises(
        StoreError, match=rf"schema version {latest + 1}; .* knows versions up to {latest}"
    ):
        await open_store(shared_url)
    with pytest.raises(StoreError, match=f"schema version {latest + 1}"):
        await migrate_store(shared_url)


async def test_migrate_store_creates_the_schema_once(shared_url: str) -> None:
    latest = latest_version(shared_url)
    assert await migrate_store(shared_url) == (0, latest)
    assert await migrate_store(shared_url) == (latest, latest)

    async with await open_store(shared_url) as store:
        assert await store.enqueue([event("m1")]) == [Enqueued.ACCEPTED]


@pytest.mark.postgres
async def test_a_postgres_schema_is_migrated_only_when_asked(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await open_store(postgres_url) as store:
        await store.enqueue([event("m1")])
    latest = len(postgres_schema.MIGRATIONS)
    later = ["CREATE TABLE later (note text)", "INSERT INTO later VALUES ('migrated')"]
    latest = len(postgres_schema.MIGRATIONS)
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", [*postgres_schema.MIGRATIONS, later])

    # A fleet's shared schema changes when its operator says, not when a process starts.
    with pytest.raises(
        StoreError,
        match=rf"version {latest}; .* needs version {latest + 1}: run `intercom-destination "
        "migrate`",
    ):
        await open_store(postgres_url)
    assert await migrate_store(postgres_url) == (latest, latest + 1)

    async with await open_store(postgres_url) as store:
        assert await drain(store) == ["m1"]
    assert query(postgres_url, "SELECT note FROM later") == [("migrated",)]


@pytest.mark.postgres
async def test_processes_starting_at_once_create_the_schema_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(open_store(postgres_url) for _ in range(4)))
    for store in stores:
        await store.close()

    latest = len(postgres_schema.MIGRATIONS)
    assert query(postgres_url, "SELECT version FROM schema_version") == [(latest,)]


@pytest.mark.parametrize(
    "url",
    [
        "mysql://app:hunter2@db.example.com/events",
        "sqlite://relative.db",
        "sqlite:///",
        "intercom-destination.db",
    ],
)
async def test_an_unusable_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(StoreError, match="DATABASE_URL") as error:
        await open_store(url)

    assert "hunter2" not in str(error.value)


async def test_a_postgres_server_that_cannot_be_reached_is_named_without_the_password() -> None:
    # Nothing listens on port 1 of the loopback address.
    url = "postgresql://app:hunter2@127.0.0.1:1/events?connect_timeout=5"

    with pytest.raises(
        StoreError, match=r'DATABASE_URL: cannot connect to PostgreSQL: .*"127.0.0.1", port 1'
    ) as error:
        await open_store(url)

    assert "hunter2" not in str(error.value)


async def test_a_file_that_cannot_be_opened_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        await open_store(f"sqlite:///{tmp_path}/missing/store.db")


async def test_a_closed_store_refuses_work(shared_url: str) -> None:
    store = await open_store(shared_url)
    await store.close()
    await store.close()

    with pytest.raises(StoreError, match="closed"):
        await store.enqueue([event("m1")])
    with pytest.raises(StoreError, match="closed"):
        await store.status(NOW)


async def test_an_in_memory_store_is_migrated_before_its_upkeep_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The writer's first upkeep sorts at once; on a database without its tables it failed,
    # and was logged as an error every second, in about one opening in three.
    for _ in range(20):
        async with await open_store("sqlite:///:memory:") as store:
            await store.status(NOW)
    assert [record.getMessage() for record in caplog.records if record.levelname == "ERROR"] == []
