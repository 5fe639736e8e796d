"""Reading what a POST to the console carries: its fields, and its CSRF token checked."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.datastructures import ImmutableMultiDict
from starlette.exceptions import HTTPException
from starlette.requests import Request

from intercom_destination.console.context import Console
from intercom_destination.console.guard import CsrfToken

#: The largest POST body the console reads: an event pasted in the tester, with room to spare.
MAX_BODY_BYTES = 64 * 1024
#: The form field, or the header (for the JSON API), that carries the CSRF token.
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

_object = msgspec.json.Decoder(dict[str, Any])


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """The query parameter `name` as a number from `low` to `high`; 400 naming it if not."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise HTTPException(400, f"{name}: not a number") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name}: must be from {low} to {high}")
    return value


async def posted(request: Request, csrf: CsrfToken) -> ImmutableMultiDict[str, Any]:
    """The fields of a form or a JSON object posted to the console; 403 without the CSRF
    token, 400 for a body that is neither, 413 for one too large."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, f"the body is larger than {MAX_BODY_BYTES:,} bytes")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            fields: ImmutableMultiDict[str, Any] = ImmutableMultiDict(
                _object.decode(bytes(body) or b"{}")
            )
        except msgspec.DecodeError as error:
            raise HTTPException(400, f"the body is not a JSON object: {error}") from None
    else:
        text = body.decode("utf-8", errors="replace")
        fields = ImmutableMultiDict(parse_qsl(text, keep_blank_values=True))
    if not csrf.matches(request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD)):
        raise HTTPException(
            403,
            f"the request has no valid CSRF token: send the one of GET /api/csrf in the "
            f"{CSRF_HEADER} header (pages hold it in their forms)",
        )
    return fields
