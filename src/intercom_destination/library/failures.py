"""What a destination tells the application about an event it could not deliver."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import msgspec

log = logging.getLogger("intercom_destination.library")

FailureKind = Literal["dropped", "invalid", "dead", "failed"]


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """An event that will not be delivered unless someone acts, as `on_error` hears of it.

    `kind` is `dropped` (the in-memory queue stayed full for `queue_timeout` seconds, or the
    store refused to write), `invalid` (not an event the destination can take: a plugin
    broke it, say), `dead` (Intercom refused it, or retries ran out: it is a dead letter in
    the store, which `intercom-destination deadletter list/replay` show and replay) or
    `failed` (the Segment endpoint did not take a forwarded batch).
    """

    destination: str
    kind: FailureKind
    reason: str
    message_id: str | None
    event: dict[str, Any]

    @classmethod
    def of(cls, destination: str, kind: FailureKind, reason: str, event: dict[str, Any]) -> Failure:
        message_id = event.get("messageId")
        return cls(
            destination=destination,
            kind=kind,
            reason=reason,
            message_id=message_id if isinstance(message_id, str) else None,
            event=event,
        )


OnError = Callable[[Failure], None]


def report(on_error: OnError | None, failure: Failure) -> None:
    """Tell `on_error`, or the log when there is none: no event is lost silently."""
    if on_error is None:
        log.error(
            "%s: event %s was %s: %s",
            failure.destination,
            failure.message_id,
            failure.kind,
            failure.reason,
        )
        return
    try:
        on_error(failure)
    except Exception:
        # The application's callback must not stop delivery of the other events.
        log.exception(
            "on_error raised while handling %s event %s", failure.kind, failure.message_id
        )
