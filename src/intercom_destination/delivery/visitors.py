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
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
) -> int:
    """Merge the visitor's lane into the user's; how many events moved.

    While another worker delivers the visitor's lane head, this waits (holding the user's
    lane, so nothing of the user's overtakes that event) rather than move the event into
    the user's lane, from where it would be sent a second time.
    """
    poll = FIRST_POLL
    while True:
        try:
            return await store.link(anonymous_id, user_id, now=clock())
        except VisitorInFlight:
            await sleep(poll)
            poll = min(MAX_POLL, poll * 2)
