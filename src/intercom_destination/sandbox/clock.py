"""The sandbox's notion of now, which tests can freeze and move forward.

Search lag and rate-limit windows both read this clock, so a test drives them by setting the
time instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Unix seconds: the real time plus an offset, or a frozen instant."""

    __slots__ = ("_frozen", "_offset", "_source")

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._frozen: float | None = None

    def now(self) -> float:
        return self._frozen if self._frozen is not None else self._source() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self, at: float) -> None:
        self._frozen = at

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds

    def release(self) -> None:
        """Follow the real time again, forgetting any freeze or offset."""
        self._frozen = None
        self._offset = 0.0
