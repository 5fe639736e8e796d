"""Intercom's failures as typed exceptions, so the executor branches on classes, not strings.

`error_for` turns a non-2xx response into one of them: by HTTP status first, then by
`errors[0].code`, and by the message only where Intercom gives no other signal (the 409's
existing id, an undefined custom attribute, the event-name cap). `transient` says whether the
same request may succeed later without any change to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Literal, TypedDict, Unpack
from urllib.parse import unquote

import msgspec

Resource = Literal["contact", "company", "other"]

# Long enough to keep any Intercom message whole, short enough to keep an HTML error page out
# of the logs.
_MAX_MESSAGE = 500


class ErrorContext(TypedDict, total=False):
    """What every error may carry besides its message."""

    status: int | None
    code: str | None
    request_id: str | None


class IntercomError(Exception):
    """A request Intercom (or the way to it) did not complete.

    Carries only what Intercom answered; the request's headers, and so the access token,
    are never part of an error.
    """

    transient: ClassVar[bool] = False

    def __init__(self, message: str, **context: Unpack[ErrorContext]) -> None:
        super().__init__(message)
        self.message = message
        self.status = context.get("status")
        self.code = context.get("code")
        self.request_id = context.get("request_id")

    def __str__(self) -> str:
        label = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        text = f"{label}: {self.message}" if label else self.message
        return f"{text} (request_id={self.request_id})" if self.request_id else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class Conflict(IntercomError):
    """409 on `POST /contacts`: a contact with these details exists; update it instead."""

    def __init__(self, message: str, **context: Unpack[ErrorContext]) -> None:
        super().__init__(message, **context)
        found = re.search(r"\bid=([0-9a-f]+)", message)
        self.existing_id = found.group(1) if found else None
        self.archived = message.startswith("An archived contact")


class NotFound(IntercomError):
    """404: the contact (e.g. an event's user), the company, or something else is unknown."""

    def __init__(
        self, message: str, *, resource: Resource, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.resource = resource


class ContactMerged(IntercomError):
    """410 (Intercom-Version 2.16+): the contact was merged into the one named by `Link`."""

    def __init__(
        self, message: str, *, canonical_id: str | None, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.canonical_id = canonical_id


class UnknownCustomAttribute(IntercomError):
    """400: a custom attribute was written before it was created in the workspace."""

    def __init__(self, message: str, *, attribute: str, **context: Unpack[ErrorContext]) -> None:
        super().__init__(message, **context)
        self.attribute = attribute


class EventNameLimit(IntercomError):
    """422: the workspace already has its maximum (120) of active event names."""


class ValidationFailed(IntercomError):
    """Any other 400 or 422: the request itself is wrong and will stay wrong."""

    def __init__(self, message: str, *, field: str | None, **context: Unpack[ErrorContext]) -> None:
        super().__init__(message, **context)
        self.field = field


class Misconfigured(IntercomError):
    """No request succeeds until a person changes the settings: every one fails this way."""


class Unauthorized(Misconfigured):
    """401: the access token is invalid or revoked; a configuration error."""


class Forbidden(Misconfigured):
    """403: the token or the workspace's plan does not allow this request."""


class Unsendable(Misconfigured):
    """The request cannot be sent as the settings make it (a header value HTTP cannot carry,
    an `api_url` that is not http or https): nothing reached Intercom."""


class RateLimited(IntercomError):
    """429: the app's 10-second window is spent; wait until `reset_at` (Unix seconds)."""

    transient = True

    def __init__(
        self, message: str, *, reset_at: int | None, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.reset_at = reset_at


class ServerError(IntercomError):
    """5xx: Intercom failed; the same request may succeed later."""

    transient = True


class TransportError(IntercomError):
    """No usable HTTP response arrived."""

    transient = True


class Timeout(TransportError):
    """The request timed out, on the way to Intercom or (408) at Intercom."""


class ConnectionFailed(TransportError):
    """Intercom could not be reached, or the connection broke mid-request."""


def configuration_problem(error: Misconfigured) -> str:
    """What a person must fix for any request to succeed, in one line (`check`, `send`,
    `status` and the logs say it alike)."""
    if isinstance(error, Unsendable):
        return f"no request to Intercom can be sent as configured ({error})"
    if isinstance(error, Forbidden):
        return (
            f"Intercom refused the access token ({error}): the token, or the workspace's plan, "
            "does not allow this request; check the app's permissions in Intercom"
        )
    return (
        f"Intercom refused the access token ({error}). Check INTERCOM_ACCESS_TOKEN, and check "
        "INTERCOM_REGION too: a token works only on its own region's host (us, eu, au), and "
        "another region's host refuses it with this same 401"
    )


class UnexpectedResponse(IntercomError):
    """A 2xx whose body is not what the API documents; retrying would get the same body."""


class _Item(msgspec.Struct):
    # Codes are strings in the API; the Messenger's event-name error sends "422", and a
    # number there must not turn the whole body into an unreadable one.
    code: str | int | None = None
    message: str | None = None
    field: str | None = None


class _Body(msgspec.Struct):
    request_id: str | None = None
    errors: list[_Item] = msgspec.field(default_factory=list)
    # The older body form of the event-name limit (`{"error_message": …}`), seen from clients.
    error_message: str | None = None


_body_decoder = msgspec.json.Decoder(_Body)
_UNKNOWN_ATTRIBUTE = re.compile(r"Custom attribute '(.+)' does not exist")
_EVENT_NAME_LIMIT = re.compile(r"Cannot have more than \d+ active event names")
_CANONICAL = re.compile(r'<[^>]*/contacts/([^/>?]+)>\s*;\s*rel="?canonical"?')


def error_for(status: int, headers: Mapping[str, str], content: bytes) -> IntercomError:
    """The typed error for a non-2xx response; any body, JSON or not, is accepted.

    `headers` is case-insensitive, like an `Answer`'s.
    """
    try:
        body = _body_decoder.decode(content)
    except msgspec.DecodeError:
        body = _Body(error_message=content.decode("utf-8", "replace").strip() or None)
    first = body.errors[0] if body.errors else _Item()
    code = None if first.code is None else str(first.code)
    message = (first.message or body.error_message or code or f"HTTP {status}")[:_MAX_MESSAGE]
    context: ErrorContext = {
        "status": status,
        "code": code,
        "request_id": body.request_id,
    }

    if status == 401:
        return Unauthorized(message, **context)
    if status == 403:
        return Forbidden(message, **context)
    if status == 404:
        return NotFound(message, resource=_resource(code, message), **context)
    if status == 408:
        return Timeout(message, **context)
    if status == 409:
        return Conflict(message, **context)
    if status == 410:
        return ContactMerged(message, canonical_id=_canonical_id(headers), **context)
    if status == 429:
        return RateLimited(message, reset_at=_integer(headers.get("x-ratelimit-reset")), **context)
    if status >= 500:
        return ServerError(message, **context)
    if status in (400, 422):
        if unknown := _UNKNOWN_ATTRIBUTE.search(message):
            return UnknownCustomAttribute(message, attribute=unknown.group(1), **context)
        if _EVENT_NAME_LIMIT.search(message):
            return EventNameLimit(message, **context)
        return ValidationFailed(message, field=first.field, **context)
    return IntercomError(message, **context)


def _resource(code: str | None, message: str) -> Resource:
    if code == "company_not_found":
        return "company"
    if code == "not_found" and message.lower() in ("user not found", "contact not found"):
        return "contact"
    return "other"


def _canonical_id(headers: Mapping[str, str]) -> str | None:
    found = _CANONICAL.search(headers.get("link", ""))
    return unquote(found.group(1)) if found else None


def _integer(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
