"""Write keys: which one a request carries, and whether it is one of ours.

A request names its write key as the HTTP Basic username (with or without the trailing colon),
or as `writeKey` in the body; clients send either or both, and analytics-swift, -kotlin,
-react-native and older analytics.js and analytics-node send no Authorization header at all.
The header wins when both are present, as at Segment.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

from intercom_destination.addresses import is_loopback
from intercom_destination.ingest.responses import bad_request
from intercom_destination.settings import Secret


class WriteKeys:
    """The write keys allowed to send events. None configured means any request is accepted:
    that is for trying the destination on one's own machine (see `exposure_problem`)."""

    def __init__(self, keys: Sequence[Secret]) -> None:
        self._keys = [key.reveal().encode() for key in keys]

    @property
    def open(self) -> bool:
        return not self._keys

    def check(self, header: str | None, body_key: object) -> None:
        """Raises a Refusal unless the request's write key is allowed."""
        if self.open:
            return
        key = basic_username(header) or (body_key if isinstance(body_key, str) else None)
        if not key:
            raise bad_request(
                "missing_write_key",
                "no write key: send it as the HTTP Basic username or as writeKey in the body",
            )
        if not self._known(key.encode()):
            raise bad_request(
                "invalid_write_key",
                "unknown write key: this destination accepts only the keys in SEGMENT_WRITE_KEYS",
            )

    def _known(self, candidate: bytes) -> bool:
        # Every key is compared, each in constant time, so the time taken tells nothing about
        # which key, or how much of one, matched.
        found = False
        for key in self._keys:
            found |= hmac.compare_digest(key, candidate)
        return found


def basic_username(header: str | None) -> str | None:
    """The username of an `Authorization: Basic` header; None for any other header."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    credentials = credentials.strip()
    try:
        # Some clients leave the padding out.
        decoded = base64.b64decode(credentials + "=" * (-len(credentials) % 4), validate=True)
        text = decoded.decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return text.partition(":")[0] or None


def exposure_problem(keys: WriteKeys, host: str) -> str | None:
    """Why ingest must not listen on `host`: accepting any write key on an address other
    machines can reach would let anyone send events."""
    if keys.open and not is_loopback(host):
        return (
            f"no write keys are configured, so anyone who can reach {host} could send events: "
            "set SEGMENT_WRITE_KEYS, or listen on 127.0.0.1 to try the destination locally"
        )
    return None
