"""The Segment Spec: typed events, their decoding and validation, and timestamps."""

from intercom_destination.spec.decode import (
    StoredForm,
    decode_event,
    stored_form,
)
from intercom_destination.spec.events import (
    Alias,
    Event,
    Group,
    Identify,
    InvalidEvent,
    Page,
    Screen,
    Track,
)

__all__ = [
    "Alias",
    "Event",
    "Group",
    "Identify",
    "InvalidEvent",
    "Page",
    "Screen",
    "StoredForm",
    "Track",
    "decode_event",
    "stored_form",
]
