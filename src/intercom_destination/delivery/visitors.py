"""An anonymous visitor becomes their user: once the identify (or alias) naming both is
delivered, the visitor's lane merges into the user's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from intercom_destination.spec import Alias, Event, Identify
from intercom_destination.store import Store, VisitorInFlight

#: How often to ask again while one of the visitor's events is being delivered.
FIRST_POLL = 0.05
MAX_POLL = 1.0


def named_visitor(event: Event) -> tuple[str, str] | None:
    """The anonymous visitor `event` says is a user, and that user's id: an alias's previousId,
    or an identify's anonymousId other than its userId; None when it names none."""
    if isinstance(event, Alias) and event.user_id is not None:
        return event.previous_id, event.user_id
    user_id = event.user_id if isinstance(event, Identify) else None
    if user_id and event.anonymous_id and event.anonymous_id != user_id:
        return event.anonymous_id, user_id
    return None


async def link_visitor(
    store: Store,
    event: Event,
    *,
    patience: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
) -> int:
    """Merge the lane of the visitor `event` names (see `named_visitor`) into their user's;
    how many events moved.

    While another worker delivers the visitor's lane head, this waits (holding the user's
    lane, so nothing of the user's overtakes that event) rather than move the event into
    the user's lane, from where it would be sent a second time. After `patience` seconds
    the head moves anyway, as if its lease had expired: two identifies that each name the
    other's userId as their anonymousId would otherwise wait for each other for ever.
    """
    named = named_visitor(event)
    if named is None:
        return 0
    anonymous_id, user_id = named
    deadline = clock() + patience
    poll = FIRST_POLL
    while clock() < deadline:
        try:
            return await store.link(anonymous_id, user_id, now=clock())
        except VisitorInFlight:
            await sleep(poll)
            poll = min(MAX_POLL, poll * 2)
    return await store.link(anonymous_id, user_id, now=clock(), force=True)
