"""How the commands write times and durations."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(timestamp: float) -> str:
    """Unix seconds as ISO-8601 UTC: `2026-11-28T10:00:00.250000Z`."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
