"""Each attempt's trace, collected in memory while the attempt runs and handed to the store
with its outcome (one write, in the outcome's transaction).

The attempt's task holds its `TraceRecorder` in a context variable: the Intercom client,
shared by every lane in flight, reports each request with `record_exchange`, and the
executor reports what a budget refused with `refused`, without either passing it along.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import msgspec

from intercom_destination.intercom import Exchange
from intercom_destination.mapping import Plan, describe
from intercom_destination.store import Refusal, RefusalKind, Trace, TracedCall

_current: ContextVar[TraceRecorder | None] = ContextVar("trace", default=None)


class TraceRecorder:
    def __init__(self) -> None:
        self.operations: tuple[dict[str, Any], ...] = ()
        self.calls: list[TracedCall] = []
        self.refusals: list[Refusal] = []

    def planned(self, plan: Plan) -> None:
        # Without their bodies, or those of later events coalesced with them, which the
        # requests carry (cut to a bounded size): the plan is the planner's answer for the
        # event as received, which the trace keeps whole.
        self.operations = tuple(
            {
                key: value
                for key, value in describe(operation).items()
                if key not in ("body", "folded")
            }
            for operation in plan.operations
        )

    def trace(self, warnings: tuple[str, ...] = (), skip_reason: str | None = None) -> Trace:
        return Trace(
            operations=self.operations,
            warnings=warnings,
            skip_reason=skip_reason,
            calls=tuple(self.calls),
            refusals=tuple(self.refusals),
        )


def start_trace() -> TraceRecorder:
    """A recorder for the attempt the current task makes (each attempt runs in its own task)."""
    recorder = TraceRecorder()
    _current.set(recorder)
    return recorder


def record_exchange(exchange: Exchange) -> None:
    """Add one Intercom request to the current attempt's trace (the client's `record`)."""
    recorder = _current.get()
    if recorder is not None:
        recorder.calls.append(TracedCall(**msgspec.structs.asdict(exchange)))


def refused(kind: RefusalKind, name: str, reason: str) -> None:
    """Note in the current attempt's trace that a budget refused an event name or attribute."""
    recorder = _current.get()
    if recorder is not None:
        recorder.refusals.append(Refusal(kind=kind, name=name, reason=reason))
