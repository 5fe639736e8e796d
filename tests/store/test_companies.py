"""Company records: many lanes write one company, and each write follows the one it read."""

from __future__ import annotations

import asyncio

import pytest

from intercom_destination.store import CompanyRecord, Store, open_store

pytestmark = pytest.mark.anyio


def record(version: int, state: bytes, *, synced: bool = False) -> CompanyRecord:
    return CompanyRecord(version=version, synced=synced, state=state)


async def test_a_record_is_written_over_the_version_before_it(store: Store) -> None:
    assert await store.company_record("c-1") is None

    assert await store.save_company_record("c-1", record(1, b"first"))
    assert await store.save_company_record("c-1", record(2, b"second", synced=True))

    assert await store.company_record("c-1") == record(2, b"second", synced=True)
    assert await store.company_record("c-2") is None


async def test_a_write_that_did_not_read_the_latest_version_changes_nothing(store: Store) -> None:
    assert await store.save_company_record("c-1", record(1, b"first"))

    assert not await store.save_company_record("c-1", record(1, b"again"))
    assert not await store.save_company_record("c-1", record(3, b"skips a version"))

    assert await store.company_record("c-1") == record(1, b"first")


async def test_only_the_latest_version_is_marked_synced(store: Store) -> None:
    assert not await store.company_synced("c-1", 1)
    await store.save_company_record("c-1", record(1, b"first"))
    await store.save_company_record("c-1", record(2, b"second"))

    assert not await store.company_synced("c-1", 1)
    assert await store.company_record("c-1") == record(2, b"second")
    assert await store.company_synced("c-1", 2)
    assert await store.company_record("c-1") == CompanyRecord(
        version=2, synced=True, state=b"second", confirmed=b"second"
    )


async def test_the_state_last_confirmed_is_kept_through_later_saves(store: Store) -> None:
    await store.save_company_record("c-1", record(1, b"first"))
    assert await store.company_synced("c-1", 1)
    await store.save_company_record("c-1", record(2, b"second"))

    assert not await store.company_synced("c-1", 1)
    assert await store.company_record("c-1") == CompanyRecord(
        version=2, synced=False, state=b"second", confirmed=b"first"
    )
    assert await store.company_synced("c-1", 2)
    latest = await store.company_record("c-1")
    assert latest is not None
    assert latest.confirmed == b"second"


async def test_of_writers_racing_from_one_version_exactly_one_wins(shared_url: str) -> None:
    # Separate stores on one database, as separate processes have.
    async with await open_store(shared_url) as first, await open_store(shared_url) as second:
        await first.save_company_record("c-1", record(1, b"base"))
        for version in range(2, 12):
            won = await asyncio.gather(
                *(
                    writer.save_company_record("c-1", record(version, b"%d-%d" % (version, n)))
                    for n, writer in enumerate((first, second, first, second))
                )
            )
            assert sum(won) == 1
        latest = await second.company_record("c-1")
        assert latest is not None
        assert latest.version == 11


async def test_of_racing_first_writes_exactly_one_wins(shared_url: str) -> None:
    async with await open_store(shared_url) as first, await open_store(shared_url) as second:
        won = await asyncio.gather(
            *(
                writer.save_company_record(f"c-{n // 4}", record(1, b"%d" % n))
                for n, writer in enumerate([first, second] * 20)
            )
        )
        assert [sum(won[n : n + 4]) for n in range(0, 40, 4)] == [1] * 10
