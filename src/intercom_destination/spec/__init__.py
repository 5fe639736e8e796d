"""The Segment Spec: typed events, their decoding and validation, and timestamps."""

from intercom_destination.spec.decode import (
    Batch,
    Rejected,
    StoredForm,
    decode_batch,
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
    "Batch",
    "Event",
    "Group",
    "Identify",
    "InvalidEvent",
    "Page",
    "Rejected",
    "Screen",
    "StoredForm",
    "Track",
    "decode_batch",
    "decode_event",
    "stored_form",
]
