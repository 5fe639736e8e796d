"""The planner: Segment events as typed Intercom operations. Pure: imports nothing that does I/O."""

from intercom_destination.mapping.operations import (
    AttachCompany,
    ContactRef,
    CreateEvent,
    DetachCompany,
    Operation,
    Plan,
    Skip,
    UpsertCompany,
    UpsertContact,
    describe,
)
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.mapping.planner import plan

__all__ = [
    "AttachCompany",
    "ContactRef",
    "CreateEvent",
    "DetachCompany",
    "MappingOptions",
    "Operation",
    "Plan",
    "Skip",
    "UpsertCompany",
    "UpsertContact",
    "describe",
    "plan",
]
