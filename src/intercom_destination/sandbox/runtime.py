"""One running sandbox: its configuration, workspace, rate limiter, faults and call log."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from intercom_destination.sandbox import persistence
from intercom_destination.sandbox.clock import Clock
from intercom_destination.sandbox.faults import FaultInjector, Faults
from intercom_destination.sandbox.ratelimit import RateLimiter
from intercom_destination.sandbox.records import Limits, WorkspaceData
from intercom_destination.sandbox.state import Workspace
from intercom_destination.settings import Secret

#: Intercom's default: 10,000 calls a minute for a private app, spread over 10-second windows.
DEFAULT_RATE_LIMIT = 1666


@dataclass(frozen=True, kw_only=True)
class SandboxConfig:
    """How the sandbox starts; `POST /_sandbox/reset` returns to it."""

    rate_limit: int = DEFAULT_RATE_LIMIT
    limits: Limits = field(default_factory=Limits)
    #: The only bearer token accepted; any non-empty token when None.
    token: Secret | None = None
    #: Loaded at start, written on shutdown and by `POST /_sandbox/save`.
    state_file: Path | None = None


class Call(msgspec.Struct, frozen=True, kw_only=True):
    """One Intercom API request the sandbox answered."""

    at: float
    method: str
    path: str
    #: The operation, as `"PUT /contacts/{contact_id}"`; `"unknown"` for unknown paths.
    endpoint: str
    status: int
    intercom_version: str | None
    request_id: str


class CallLog:
    """Counts per endpoint and status, and the latest calls in order."""

    #: Calls kept for inspection; counts cover every call.
    KEEP = 10_000

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._calls: deque[Call] = deque(maxlen=self.KEEP)
        self._counts: dict[str, Counter[int]] = {}

    def record(self, call: Call) -> None:
        self._calls.append(call)
        self._counts.setdefault(call.endpoint, Counter())[call.status] += 1

    def document(self) -> dict[str, Any]:
        return {
            "counts": {
                endpoint: {str(status): n for status, n in sorted(counts.items())}
                for endpoint, counts in self._counts.items()
            },
            "calls": msgspec.to_builtins(list(self._calls)),
        }


class Sandbox:
    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        data = persistence.load(config.state_file) if config.state_file else None
        self.workspace = Workspace(self.clock, msgspec.structs.replace(config.limits), data)
        self.limiter = RateLimiter(self.clock, config.rate_limit)
        self.faults = FaultInjector()
        self.calls = CallLog()

    def reset(self) -> None:
        """Back to an empty workspace and the starting configuration, on the real clock."""
        self.clock.release()
        self.workspace.limits = msgspec.structs.replace(self.config.limits)
        self.workspace.load(WorkspaceData())
        self.limiter.limit = self.config.rate_limit
        self.limiter.clear()
        self.faults.configure(Faults())
        self.calls.clear()

    def save(self) -> Path | None:
        """Writes the state file, if there is one; returns its path."""
        path = self.config.state_file
        if path is not None:
            persistence.save(path, self.workspace.snapshot())
        return path
