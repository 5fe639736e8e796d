"""The requests recorded from real Segment client libraries (tests/data/captures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CAPTURES = Path(__file__).parent / "data" / "captures"


def load_captures() -> list[tuple[str, dict[str, Any]]]:
    """Every recorded client request, by file name."""
    return [(path.name, json.loads(path.read_text())) for path in sorted(CAPTURES.glob("*.json"))]


def event_captures() -> list[tuple[str, dict[str, Any]]]:
    """The recorded requests that carry events (not analytics.js's telemetry on /v1/m)."""
    return [(name, capture) for name, capture in load_captures() if capture["path"] != "/v1/m"]
