"""Reading a request body within a size limit, inflating gzip as it arrives.

The limit applies to the body as decoded: a gzip body is inflated only up to the limit, so a
small compressed request cannot expand into gigabytes (a zip bomb). A `Content-Length` past
the limit is refused before anything is read; a chunked body is counted as it streams.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator

from starlette.requests import Request

from intercom_destination.ingest.headers import header
from intercom_destination.ingest.responses import Refusal, bad_request

#: gzip framing only (not zlib or raw deflate), with the largest window.
_GZIP = 16 + zlib.MAX_WBITS


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The body as sent, or inflated when `Content-Encoding: gzip`; raises a 400 Refusal when
    it is larger than `limit` bytes, or its encoding is unknown or broken, and a 408 when it
    has not arrived whole within `timeout` seconds (a stalled or very slow client)."""
    length = header(request.scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    encoding = (header(request.scope, b"content-encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        read = _read(request.stream(), limit)
    elif encoding in ("gzip", "x-gzip"):
        read = _inflate(request.stream(), limit)
    else:
        raise bad_request(
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported; send the body as is or gzipped",
        )
    try:
        async with asyncio.timeout(timeout):
            return await read
    except TimeoutError:
        raise Refusal(
            408, "request_timeout", f"the body did not arrive within {timeout:g} s"
        ) from None


async def _read(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def _inflate(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    inflater = zlib.decompressobj(_GZIP)
    member_started = False
    parts: list[bytes] = []
    size = received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise _too_large(limit)
            pending = chunk
            while pending:
                member_started = True
                # Never more than one byte past the limit, however much the input expands
                # (the limit is at least 1 here: 0 would mean no limit to zlib).
                part = inflater.decompress(pending, limit + 1 - size)
                size += len(part)
                if size > limit:
                    raise _too_large(limit)
                parts.append(part)
                if inflater.eof:
                    # A gzip body may hold several members, one after another (RFC 1952).
                    pending = inflater.unused_data
                    inflater = zlib.decompressobj(_GZIP)
                    member_started = False
                else:
                    pending = inflater.unconsumed_tail
    except zlib.error as error:
        raise bad_request("invalid_gzip", f"the gzip body cannot be inflated: {error}") from None
    if member_started:
        raise bad_request("invalid_gzip", "the gzip body ends before its end-of-stream marker")
    return b"".join(parts)


def _too_large(limit: int) -> Refusal:
    return bad_request("request_too_large", f"the body is larger than {limit:,} bytes")
