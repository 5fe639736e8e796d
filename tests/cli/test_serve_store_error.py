"""`serve` on a store that cannot be opened: the error, and nothing started before it fails."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from intercom_destination.commands.serve import run_serve
from intercom_destination.settings import Settings
from intercom_destination.store import StoreError

pytestmark = pytest.mark.anyio


async def test_a_store_that_cannot_be_opened_fails_before_the_sandbox_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-folder" / "store.db"
    printed: list[str] = []

    with pytest.raises(StoreError, match="cannot open the SQLite database"):
        await run_serve(
            Settings(database_url=f"sqlite:///{missing}"),
            "127.0.0.1",
            0,
            console=None,
            echo=printed.append,
        )

    assert printed == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
