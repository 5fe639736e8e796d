"""What was last delivered for a contact: the contact's state as Intercom holds it (the
bodies sent, merged), so that an update sends only what changed and an unchanged identify
makes no call, and that state's digest (a store written before it kept bodies has only the
digest: its rows are compared by digest, as then, until their next delivery).

Both know only what the destination sent: a field changed in Intercom by other means (an
admin's edit) is not sent again until an event changes its value."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from intercom_destination.mapping import ContactRef

_encoder = msgspec.json.Encoder(order="sorted")
#: The digest of a fact with no body (a contact is attached to a company).
DONE = b"done"
_ABSENT = object()


def digest(body: dict[str, Any], last_seen_precision: int) -> bytes:
    """What identifies `body` for a comparison with the next: its `last_seen_at` counts only
    to `last_seen_precision` seconds (the `last_seen_precision` setting), so that an identify
    that only moves it within that period is not news."""
    if "last_seen_at" in body:
        body = {**body, "last_seen_at": _seen(body["last_seen_at"], last_seen_precision)}
    return hashlib.blake2b(_encoder.encode(body), digest_size=16).digest()


def changes(held: dict[str, Any], body: dict[str, Any], last_seen_precision: int) -> dict[str, Any]:
    """What of `body` a contact Intercom holds as `held` lacks: the fields, and the custom
    attributes key by key, whose values differ. `last_seen_at` counts as a change only when
    it moved to another `last_seen_precision` period (as in `digest`), and rides along with
    any other change. Empty when Intercom holds it all."""
    changed = {
        field: value
        for field, value in body.items()
        if field not in ("custom_attributes", "last_seen_at")
        and not _same(held.get(field, _ABSENT), value)
    }
    held_custom = held.get("custom_attributes") or {}
    custom = {
        name: value
        for name, value in (body.get("custom_attributes") or {}).items()
        if not _same(held_custom.get(name, _ABSENT), value)
    }
    if custom:
        changed["custom_attributes"] = custom
    if "last_seen_at" in body:
        seen, was = body["last_seen_at"], held.get("last_seen_at", _ABSENT)
        moved = was is _ABSENT or _seen(was, last_seen_precision) != _seen(
            seen, last_seen_precision
        )
        if moved or (changed and not _same(was, seen)):
            changed["last_seen_at"] = seen
    return changed


def _seen(last_seen: Any, last_seen_precision: int) -> Any:
    """`last_seen_at` to its `last_seen_precision` period."""
    if isinstance(last_seen, int | float) and not isinstance(last_seen, bool):
        return last_seen - last_seen % last_seen_precision
    return last_seen


def _same(held: Any, value: Any) -> bool:
    # Types count, as in the digest's JSON: 1, 1.0 and true are different values to send.
    return type(held) is type(value) and held == value


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
