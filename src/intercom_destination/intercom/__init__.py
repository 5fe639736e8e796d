"""Talking to Intercom's REST API: the async client, its typed errors, and rate-limit state.

Request validation lives in `intercom_destination.intercom.schema`, imported where it is used.
"""

from intercom_destination.intercom.client import Connection, Exchange, IntercomClient
from intercom_destination.intercom.errors import (
    Conflict,
    ConnectionFailed,
    ContactMerged,
    EventNameLimit,
    Forbidden,
    IntercomError,
    Misconfigured,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    UnknownCustomAttribute,
    Unsendable,
    ValidationFailed,
)
from intercom_destination.intercom.models import (
    Admin,
    App,
    Company,
    Contact,
    ContactPage,
    DataAttribute,
)
from intercom_destination.intercom.ratelimit import RateLimitState, RateLimitWindow
from intercom_destination.intercom.transport import AiohttpTransport, Answer, Request, Transport

__all__ = [
    "Admin",
    "AiohttpTransport",
    "Answer",
    "App",
    "Company",
    "Conflict",
    "Connection",
    "ConnectionFailed",
    "Contact",
    "ContactMerged",
    "ContactPage",
    "DataAttribute",
    "EventNameLimit",
    "Exchange",
    "Forbidden",
    "IntercomClient",
    "IntercomError",
    "Misconfigured",
    "NotFound",
    "RateLimitState",
    "RateLimitWindow",
    "RateLimited",
    "Request",
    "ServerError",
    "Timeout",
    "Transport",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "UnknownCustomAttribute",
    "Unsendable",
    "ValidationFailed",
]
