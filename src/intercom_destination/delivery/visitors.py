"""An anonymous visitor becomes their user: once the identify (or alias) naming both is
delivered, the visitor's lane merges into the user's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from intercom_destination.store import Store, VisitorInFlight

#: How often to ask again while one of the visitor's events is being delivered.
FIRST_POLL = 0.05
MAX_POLL = 1.0


async def link_visitor(
    store: Store,
    anonymous_id: str,
    user_id: str,
    *,
    patience: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
) -> int:
    """Merge the visitor's lane into the user's; how many events moved.

    While another worker delivers the visitor's lane head, this waits (holding the user's
    lane, so nothing of the user's overtakes that event) rather than move the event into
    the user's lane, from where it would be sent a second time. After `patience` seconds
    the head moves anyway, as if its lease had expired: two identifies that each name the
    other's userId as their anonymousId would otherwise wait for each other for ever.
    """
    deadline = clock() + patience
    poll = FIRST_POLL
    while clock() < deadline:
        try:
            return await store.link(anonymous_id, user_id, now=clock())
        except VisitorInFlight:
            await sleep(poll)
            poll = min(MAX_POLL, poll * 2)
    return await store.link(anonymous_id, user_id, now=clock(), force=True)
