"""What ingest answers: `{"success": true}` once events are durable, or a refusal whose JSON
body names the problem.

The status of each refusal is chosen by how Segment's clients react to it (see
docs/sending-events.md): 400 for a request that can never succeed, since every client drops
it instead of resending it forever; 429 or 503 with `Retry-After` for trouble that passes, which
every client retries. Never a 3xx: analytics-node and analytics.js take one for success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from intercom_destination.spec import InvalidEvent
from intercom_destination.spec.events import MAX_MESSAGE_ID_LENGTH

Handler = Callable[[Request], Awaitable[Response]]


class RejectedItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An event of a request that was not stored, by its position in the request."""

    index: int
    message_id: str | None = msgspec.field(default=None, name="messageId")
    field: str
    reason: str

    @classmethod
    def of(cls, index: int, error: InvalidEvent, message_id: object = None) -> RejectedItem:
        return cls(
            index=index,
            # An overlong messageId is itself the problem; it is not echoed back.
            message_id=message_id
            if isinstance(message_id, str) and len(message_id) < MAX_MESSAGE_ID_LENGTH
            else None,
            field=error.field,
            reason=error.reason,
        )


class Refusal(Exception):
    """A request ingest does not accept; nothing of it was stored."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        rejected: list[RejectedItem] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.rejected = rejected or []


def bad_request(code: str, message: str, rejected: list[RejectedItem] | None = None) -> Refusal:
    return Refusal(400, code, message, rejected=rejected)


class _Success(msgspec.Struct, frozen=True, omit_defaults=True):
    success: bool
    rejected: list[RejectedItem] = []


class _Failure(msgspec.Struct, frozen=True, omit_defaults=True):
    success: bool
    code: str
    message: str
    rejected: list[RejectedItem] = []


_encoder = msgspec.json.Encoder()
_SUCCESS = _encoder.encode(_Success(True))


def success(rejected: list[RejectedItem]) -> Response:
    """200: the accepted events are durable; `rejected` lists the others of the batch."""
    body = _encoder.encode(_Success(True, rejected)) if rejected else _SUCCESS
    return json_response(body)


def refused(refusal: Refusal) -> Response:
    body = _Failure(False, refusal.code, refusal.message, refusal.rejected)
    response = json_response(_encoder.encode(body), refusal.status)
    if refusal.status == 408:
        # The rest of the body is not waited for (RFC 9110 §15.5.9).
        response.headers["Connection"] = "close"
    if refusal.retry_after is not None:
        # Segment documents both; clients read one or the other.
        response.headers["Retry-After"] = str(refusal.retry_after)
        response.headers["X-RateLimit-Reset"] = str(refusal.retry_after)
    return response


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type="application/json")


def json_document(document: object, status: int = 200) -> Response:
    return json_response(_encoder.encode(document), status)
