from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def intercom(sandbox: str) -> Iterator[httpx.Client]:
    """A plain HTTP client of the (reset) sandbox, sending what Intercom's clients send."""
    headers = {"Authorization": "Bearer test-token", "Intercom-Version": "2.14"}
    with httpx.Client(base_url=sandbox, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def control(sandbox: str) -> Iterator[httpx.Client]:
    """A client of the sandbox's control endpoints."""
    with httpx.Client(base_url=f"{sandbox}/_sandbox", timeout=10) as client:
        yield client
