"""What Intercom's `X-RateLimit-*` headers say about the current 10-second window.

Intercom spreads its per-minute limit over 10-second windows, and the headers describe that
window. The client records them from every response; the pacer that owns time reads them.
Nothing here sleeps or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec


class RateLimitWindow(msgspec.Struct, frozen=True, kw_only=True):
    """One window: `limit` requests allowed, `remaining` left, ending at `reset_at`."""

    limit: int
    remaining: int
    #: Unix seconds.
    reset_at: int


class RateLimitState:
    """The newest window any response reported; shareable between clients of one app."""

    __slots__ = ("_window",)

    def __init__(self) -> None:
        self._window: RateLimitWindow | None = None

    @property
    def window(self) -> RateLimitWindow | None:
        return self._window

    def record(self, headers: Mapping[str, str]) -> None:
        """Take in one response's headers (case-insensitive, like an `Answer`'s).

        A response without all three headers (Intercom omits them on a 401) changes nothing.
        """
        try:
            window = RateLimitWindow(
                limit=int(headers["x-ratelimit-limit"]),
                remaining=int(headers["x-ratelimit-remaining"]),
                reset_at=int(headers["x-ratelimit-reset"]),
            )
        except (KeyError, ValueError):
            return
        current = self._window
        # Concurrent responses arrive in any order: keep the newest news.
        if current is None or _age(window) > _age(current):
            self._window = window

    def __repr__(self) -> str:
        return f"RateLimitState({self._window!r})"


def _age(window: RateLimitWindow) -> tuple[int, int]:
    # Later windows are newer; within one window, fewer remaining requests are newer.
    return (window.reset_at, -window.remaining)
