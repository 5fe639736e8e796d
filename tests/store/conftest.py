"""The store fixtures. Every test runs against each kind of store the project has; a test
that needs a database several stores can open at once, or that outlives a store, asks for
`shared_url` instead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from intercom_destination.store import Store, open_store
from tests.conftest import POSTGRESQL


@pytest.fixture(params=["sqlite-file", "sqlite-memory", POSTGRESQL])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    if request.param == "sqlite-memory":
        return "sqlite:///:memory:"
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite-file", POSTGRESQL])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with await open_store(database_url) as opened:
        yield opened
