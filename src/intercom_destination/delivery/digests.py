"""Digests of what was last delivered, so that an unchanged identify makes no call, and the
bodies they digest, to rebuild a contact Intercom lost."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from intercom_destination.mapping import ContactRef

_encoder = msgspec.json.Encoder(order="sorted")
#: The digest of a fact with no body (a contact is attached to a company).
DONE = b"done"


def digest(body: dict[str, Any], last_seen_precision: int) -> bytes:
    """What identifies `body` for a comparison with the next: its `last_seen_at` counts only
    to `last_seen_precision` seconds (the `last_seen_precision` setting), so that an identify
    that only moves it within that period is not news."""
    if "last_seen_at" in body:
        last_seen = body["last_seen_at"]
        body = {**body, "last_seen_at": last_seen - last_seen % last_seen_precision}
    return hashlib.blake2b(_encoder.encode(body), digest_size=16).digest()


def encode_body(body: dict[str, Any]) -> bytes:
    """A delivered body as the store keeps it beside its digest."""
    return _encoder.encode(body)


def decode_body(stored: bytes) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.json.decode(stored)
    return body


def contact_key(ref: ContactRef) -> str:
    kind, key = ref.identity
    return f"contact:{kind}:{key}"


def attachment_key(ref: ContactRef, company_id: str) -> str:
    return f"attached:{contact_key(ref)}:{company_id}"


def attachments_of(ref: ContactRef) -> dict[str, str]:
    """The start and end (`Store.delete_digests`) of the keys of a contact's attachments."""
    return {"prefix": attachment_key(ref, "")}


def attachments_to(company_id: str) -> dict[str, str]:
    """The start and end of the keys of the attachments to a company."""
    return {"prefix": "attached:", "suffix": f":{company_id}"}
