"""Failures a test asks for: error answers (before or after the work is done), added latency,
a forced 429 or 401 window, a 409 race.

Error answers are drawn from a random generator seeded by the test, so the same seed and the
same requests give the same answers.
"""

from __future__ import annotations

import random
from typing import Annotated, Literal

import msgspec


class Faults(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The faults to inject from now on; `POST /_sandbox/faults` takes this document."""

    #: Share of requests answered with one of `error_statuses` instead of being served.
    error_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    error_statuses: list[Literal[500, 503]] = msgspec.field(default_factory=lambda: [500, 503])
    #: Of the injected errors, the share answered after the request was served: Intercom did
    #: the work (a contact created, an event recorded) and the answer was lost on the way.
    after_commit: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    #: Stop injecting errors after this many.
    max_errors: Annotated[int, msgspec.Meta(ge=0)] | None = None
    seed: int | None = None
    #: Added to every affected request before it is answered.
    latency_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: Endpoints (`"POST /events"`) that errors and latency apply to; all when absent.
    endpoints: list[str] | None = None
    #: Answer every request with 429 for this many seconds from now.
    throttle_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    #: Refuse every token (401) for this many seconds from now: one revoked, then restored.
    unauthorized_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    #: The next this-many contact creations race a concurrent create: the contact is created,
    #: and the answer is the 409 naming it.
    conflicts: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: The raced contacts are archived, so the 409 is the archived variant.
    conflicts_archived: bool = False


class FaultInjector:
    def __init__(self) -> None:
        self.configure(Faults())

    def configure(self, faults: Faults, now: float = 0.0) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._errors = 0
        self._conflicts = faults.conflicts
        self._unauthorized_until = now + faults.unauthorized_seconds

    def refuses_token(self, now: float) -> bool:
        return now < self._unauthorized_until

    def _applies(self, endpoint: str) -> bool:
        return self.faults.endpoints is None or endpoint in self.faults.endpoints

    def latency(self, endpoint: str) -> float:
        """Seconds to wait before answering."""
        return self.faults.latency_ms / 1000 if self._applies(endpoint) else 0.0

    def error_status(self, endpoint: str) -> int | None:
        """The error status to answer with, or None to serve the request."""
        faults = self.faults
        if not faults.error_rate or not faults.error_statuses or not self._applies(endpoint):
            return None
        if faults.max_errors is not None and self._errors >= faults.max_errors:
            return None
        if self._random.random() >= faults.error_rate:
            return None
        self._errors += 1
        return self._random.choice(faults.error_statuses)

    def after_commit(self) -> bool:
        """Whether the error just injected comes after the request is served."""
        share = self.faults.after_commit
        return share > 0 and self._random.random() < share

    def take_conflict(self) -> bool:
        if self._conflicts <= 0:
            return False
        self._conflicts -= 1
        return True

    def document(self) -> dict[str, object]:
        return {
            "faults": msgspec.to_builtins(self.faults),
            "errors_injected": self._errors,
            "conflicts_left": self._conflicts,
        }
