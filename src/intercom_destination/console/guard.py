"""Who may use the console, and which requests may change things.

On loopback without a password, the console answers only requests addressed to a loopback
name: a web page elsewhere cannot reach it through a name it rebinds to 127.0.0.1. With a
password (required on any other address), every request carries it, by HTTP Basic
authentication: browsers ask for it once, and scripts send it as `curl -u :PASSWORD` does.
Every POST also carries the console's CSRF token, which only its own pages can read, so that
a page on another site cannot replay or purge through a browser that holds the password.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intercom_destination.addresses import is_loopback
from intercom_destination.secret import Secret

REALM = "intercom-destination console"

#: Sent with every answer: no page of the console may be framed (a click on replay or purge
#: made through another site's frame), nor load anything from elsewhere.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
_SECURITY_HEADER_BYTES = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


def exposure_problem(password: Secret | None, host: str) -> str | None:
    """Why the console must not listen on `host`: without a password, anyone who can reach
    the address could read every event and replay or purge dead letters."""
    if password is None and not is_loopback(host):
        return (
            f"the console would listen on {host}, which other machines can reach, without a "
            "password: set CONSOLE_PASSWORD (or console_password in the settings file), or "
            "listen on 127.0.0.1"
        )
    return None


class CsrfToken:
    """The token every POST must carry; one per console, chosen at random when it starts."""

    def __init__(self) -> None:
        self.value = secrets.token_urlsafe(32)

    def matches(self, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self.value.encode())


class Guard:
    """ASGI middleware: the password (or, without one, a loopback Host), and the security
    headers on every answer."""

    def __init__(self, app: ASGIApp, password: Secret | None) -> None:
        self._app = app
        self._password = password.reveal().encode() if password is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_SECURITY_HEADER_BYTES]
            await send(message)

        await self._app(scope, receive, secured)

    def _refusal(self, headers: Headers) -> PlainTextResponse | None:
        if self._password is None:
            if not is_loopback(_hostname(headers.get("host", ""))):
                return PlainTextResponse(
                    "the console answers requests addressed to a loopback name (127.0.0.1, "
                    "localhost) unless it has a password: set CONSOLE_PASSWORD",
                    status_code=403,
                    headers=SECURITY_HEADERS,
                )
            return None
        given = _basic_password(headers.get("authorization", ""))
        if given is not None and hmac.compare_digest(given, self._password):
            return None
        return PlainTextResponse(
            "the console needs its password (HTTP Basic authentication, any user name)",
            status_code=401,
            headers={
                "www-authenticate": f'Basic realm="{REALM}", charset="UTF-8"',
                **SECURITY_HEADERS,
            },
        )


def _hostname(host: str) -> str:
    try:
        return urlsplit(f"//{host}").hostname or ""
    except ValueError:  # an unbalanced "[": no name at all
        return ""


def _basic_password(authorization: str) -> bytes | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except binascii.Error:
        return None
    return decoded.partition(b":")[2]
