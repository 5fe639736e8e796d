"""How `IntercomClient` reaches the network: one request in, one answer out.

`Transport` is the seam tests and wrappers replace; `AiohttpTransport` is the production
one, over a pooled `aiohttp.ClientSession`. A transport neither retries nor follows
redirects, and its failures (`SendFailure`) never quote the request's headers: one of them
carries the access token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

import aiohttp
import msgspec
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL


class Request(msgspec.Struct, frozen=True):
    method: str
    #: Sent byte for byte: its path is already escaped, and "." or "%2F" in it must stay.
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None


class Answer(msgspec.Struct, frozen=True):
    status: int
    #: Case-insensitive.
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


class SendFailure(Exception):
    """No answer came; the message says why, and never holds a request's header."""


class HeaderRefused(SendFailure):
    """A header holds a character HTTP cannot carry; no request left."""


class UrlRefused(SendFailure):
    """The URL is not one an HTTP client can call (another scheme, no host)."""


class TimedOut(SendFailure):
    """Connecting, or the whole request, took longer than its `Timeouts` allow."""


class ConnectionBroken(SendFailure):
    """The connection could not be made, or broke before the answer was whole."""


class Transport(Protocol):
    async def send(self, request: Request) -> Answer:
        """The answer to `request`, whatever its status; `SendFailure` when none came."""
        ...

    async def aclose(self) -> None: ...


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    #: One whole request: waiting for a pooled connection, sending, and reading the answer.
    total: float
    #: Opening a new connection.
    connect: float


#: Generous for one small JSON request; a stuck connection must not hold a lane for long.
DEFAULT_TIMEOUTS = Timeouts(total=30.0, connect=5.0)
#: Connections kept open at most, when nothing says how many requests run at once.
DEFAULT_CONNECTIONS = 32
#: Idle connections older than this are not reused: a server that closed its end first
#: would fail the next request on it.
KEEPALIVE = 5.0

# Control characters but tab: what RFC 9110 leaves out of a field's name and value.
_UNCARRIABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class AiohttpTransport:
    """Requests over one `aiohttp.ClientSession` of at most `connections` kept-alive
    connections.

    The session is made by the first `send`, in the loop that runs it: library mode builds
    its client on the caller's thread and sends from a loop of its own.
    """

    def __init__(
        self, timeouts: Timeouts = DEFAULT_TIMEOUTS, *, connections: int = DEFAULT_CONNECTIONS
    ) -> None:
        self._timeouts = timeouts
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        #: The proxy the environment names for each scheme, host and port, read once: aiohttp
        #: would read it (and netrc) for every request.
        self._proxies: dict[tuple[str, str | None, int | None], _Proxy] = {}

    async def send(self, request: Request) -> Answer:
        session = self._session or self._open()
        if any(_UNCARRIABLE.search(f"{name}{value}") for name, value in request.headers.items()):
            raise HeaderRefused("a header holds a character HTTP cannot carry")
        url = URL(request.url, encoded=True)
        proxy, proxy_auth = self._proxy_for(url)
        failure: SendFailure
        try:
            async with session.request(
                request.method,
                url,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                content = await response.read()
                return Answer(status=response.status, headers=response.headers, content=content)
        # Each failure is raised below, outside its `except`, so that it keeps no link to
        # aiohttp's exception: some of those hold the request, and so its headers.
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as error:  # ClientErrors too
            failure = UrlRefused(_described(error))
        except TimeoutError as error:  # aiohttp's own timeouts are ClientErrors too
            failure = TimedOut(type(error).__name__)
        except aiohttp.ClientError as error:
            failure = ConnectionBroken(_described(error))
        raise failure

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    def _proxy_for(self, url: URL) -> _Proxy:
        """The proxy `HTTPS_PROXY`/`HTTP_PROXY` name for `url` (none where `NO_PROXY` says
        so), as other HTTP clients honour them."""
        where = (url.scheme, url.host, url.port)
        found = self._proxies.get(where)
        if found is None:
            try:
                found = get_env_proxy_for_url(url)
            except LookupError:
                found = (None, None)
            self._proxies[where] = found
        return found

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the transport is closed")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=KEEPALIVE),
            timeout=aiohttp.ClientTimeout(
                total=self._timeouts.total, sock_connect=self._timeouts.connect
            ),
            # Intercom's API needs no cookies; keeping them only costs time.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session


_Proxy = tuple[URL | None, aiohttp.BasicAuth | None]


def _described(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
