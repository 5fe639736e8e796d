"""How an attempt at an event ended, as the worker records it in the store.

Each outcome's `name` is one of the store's `OutcomeName`s: the outcome log and the
metrics call it that.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from intercom_destination.store import OutcomeName


class Delivered(msgspec.Struct, frozen=True, kw_only=True):
    name: ClassVar[OutcomeName] = "delivered"
    calls: int
    #: What was changed on the way (an attribute dropped, a value converted, ...).
    warnings: tuple[str, ...] = ()
    #: Events were put back into the lane ahead of its others (`DeliveryAttempt.reordered`).
    reordered: bool = False


class Skipped(msgspec.Struct, frozen=True, kw_only=True):
    name: ClassVar[OutcomeName] = "skipped"
    reason: str
    calls: int = 0
    warnings: tuple[str, ...] = ()
    reordered: bool = False


class Retry(msgspec.Struct, frozen=True, kw_only=True):
    """A transient failure: try the same event again at `at`, its lane waiting in order."""

    name: ClassVar[OutcomeName] = "retry"
    at: float
    reason: str
    calls: int
    #: What a person must fix before any event can be delivered (Intercom refused the token),
    #: when that is why: every lane waits, not only this one.
    halt: str | None = None


class Dead(msgspec.Struct, frozen=True, kw_only=True):
    """The event cannot be delivered; `reason` tells a person what to do about it."""

    name: ClassVar[OutcomeName] = "dead"
    reason: str
    calls: int


class Park(msgspec.Struct, frozen=True, kw_only=True):
    """The event waits, out of its lane's way, until `waiting_for` happens or `until`."""

    name: ClassVar[OutcomeName] = "parked"
    waiting_for: str
    until: float
    reason: str
    calls: int


Outcome = Delivered | Skipped | Retry | Dead | Park
