"""The planner: Segment events as typed Intercom operations. Pure: imports nothing that does I/O."""

from intercom_destination.mapping.operations import (
    AttachCompany,
    ContactRef,
    CreateEvent,
    DetachCompany,
    Operation,
    Plan,
    Skip,
    TimedBody,
    UpsertCompany,
    UpsertContact,
    describe,
)
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.mapping.planner import Route, plan, route
from intercom_destination.mapping.subscriptions import MappingError, Mappings, compile_mappings

__all__ = [
    "AttachCompany",
    "ContactRef",
    "CreateEvent",
    "DetachCompany",
    "MappingError",
    "MappingOptions",
    "Mappings",
    "Operation",
    "Plan",
    "Route",
    "Skip",
    "TimedBody",
    "UpsertCompany",
    "UpsertContact",
    "compile_mappings",
    "describe",
    "plan",
    "route",
]
