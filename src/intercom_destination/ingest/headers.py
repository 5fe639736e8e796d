"""Request headers read straight from the ASGI scope.

`request.headers.get(name)` builds Starlette's `Headers`, lowercases and encodes the name, and
raises and catches a `KeyError` for each header the request lacks (most have no
`Content-Encoding`, servers' no `Origin`, many no `Authorization`): with a few lookups per
request, that is a share of the event loop's time worth saving.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope


def header(scope: Scope, name: bytes) -> str | None:
    """The request's first value of header `name`, which is lowercase: ASGI servers give names
    lowercased, and Starlette's `Headers` compares them as given too."""
    headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None
