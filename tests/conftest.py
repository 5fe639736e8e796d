from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def load_captures() -> list[tuple[str, dict[str, Any]]]:
    """Every recorded client request, by file name."""
    return [
        (path.name, json.loads(path.read_text()))
        for path in sorted((DATA / "captures").glob("*.json"))
    ]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
