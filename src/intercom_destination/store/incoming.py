"""A decoded Segment event as the store keeps it."""

from __future__ import annotations

import msgspec

from intercom_destination.spec import Event, StoredForm, stored_form
from intercom_destination.store.base import NewEvent

_encoder = msgspec.json.Encoder()


def new_event(event: Event | StoredForm, received_at: float) -> NewEvent:
    """`event`, received at `received_at` (Unix seconds), ready for `Store.enqueue`.

    Its bytes are its stored form, so a worker decoding them later gets the same event.
    """
    document = event.document if isinstance(event, StoredForm) else stored_form(event)
    return NewEvent(
        message_id=event.message_id,
        type=event.type,
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
        received_at=received_at,
        body=_encoder.encode(document),
    )
