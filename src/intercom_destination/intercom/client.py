"""The async Intercom REST client: one request per call, typed results, typed errors.

It neither retries nor waits: it records the rate-limit headers of every response in its
`RateLimitState` and raises a typed error for every failure, and the delivery engine decides
what to do next. Nothing is global, so tests and the sandbox point any number of clients at
any URL.
"""

from __future__ import annotations

import string
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from importlib.metadata import version
from itertools import pairwise
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from intercom_destination.intercom.errors import (
    ConnectionFailed,
    IntercomError,
    NotFound,
    Timeout,
    UnexpectedResponse,
    Unsendable,
    error_for,
)
from intercom_destination.intercom.models import (
    Admin,
    Company,
    Contact,
    ContactPage,
    DataAttribute,
    DataType,
    Model,
)
from intercom_destination.intercom.ratelimit import RateLimitState
from intercom_destination.secret import Secret

#: Generous for one small JSON request; a stuck connection must not hold a lane for long.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
USER_AGENT = f"intercom-destination/{version('intercom-destination')}"

T = TypeVar("T")
#: A neighbour of these makes the token part of a longer word ("=" does not: `token=...`).
_WORD_BYTES = frozenset(bytes([c]) for c in (string.ascii_letters + string.digits + "_").encode())
_encoder = msgspec.json.Encoder()


class _Cursor(msgspec.Struct):
    starting_after: str | None = None


class _CursorPages(msgspec.Struct):
    next: _Cursor | None = None


class _ContactList(msgspec.Struct):
    data: list[Contact] = msgspec.field(default_factory=list)
    total_count: int | None = None
    pages: _CursorPages | None = None


class _CompanyList(msgspec.Struct):
    type: str | None = None
    data: list[Company] | None = None


class _DataAttributeList(msgspec.Struct):
    data: list[DataAttribute] = msgspec.field(default_factory=list)


class _BearerAuth(httpx.Auth):
    # The token is revealed only into the outgoing request, never kept on the client's
    # default headers.
    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """Where a client calls Intercom, as whom, with which pinned `Intercom-Version`, and how
    long one request may take."""

    base_url: str
    token: Secret
    api_version: str
    timeout: httpx.Timeout = DEFAULT_TIMEOUT


class IntercomClient:
    """Intercom's REST API for one workspace, over one pooled `httpx.AsyncClient`.

    `connection` says where and as whom to call. `transport` replaces the network (tests use
    `httpx.MockTransport`); `rate_limit` lets several clients of one app share what the
    headers say; `observe` hears of every call (method, path, and the status, or None when
    no answer came), for metrics.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limit: RateLimitState | None = None,
        observe: Callable[[str, str, int | None], None] | None = None,
    ) -> None:
        self.connection = connection
        self._token = connection.token
        self.api_version = connection.api_version
        self.rate_limit = rate_limit if rate_limit is not None else RateLimitState()
        self._observe = observe or _unobserved
        self._http = httpx.AsyncClient(
            base_url=connection.base_url,
            auth=_BearerAuth(connection.token),
            headers={
                "Intercom-Version": connection.api_version,
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=connection.timeout,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def __repr__(self) -> str:
        return f"IntercomClient(base_url={self.base_url!r}, api_version={self.api_version!r})"

    async def __aenter__(self) -> IntercomClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # Contacts.

    async def create_contact(self, body: dict[str, Any]) -> Contact:
        return await self._call(Contact, "POST", "/contacts", body=body)

    async def update_contact(self, contact_id: str, body: dict[str, Any]) -> Contact:
        return await self._call(Contact, "PUT", f"/contacts/{_segment(contact_id)}", body=body)

    async def get_contact(self, contact_id: str) -> Contact:
        return await self._call(Contact, "GET", f"/contacts/{_segment(contact_id)}")

    async def find_contact_by_external_id(self, external_id: str) -> Contact | None:
        """The user with this external_id, or None (Intercom looks up users only, not leads)."""
        path = f"/contacts/find_by_external_id/{_segment(external_id)}"
        try:
            return await self._call(Contact, "GET", path)
        except NotFound:
            return None

    async def search_contacts(
        self, query: dict[str, Any], *, per_page: int = 50, starting_after: str | None = None
    ) -> ContactPage:
        """One page of `POST /contacts/search`; new contacts may take minutes to show up."""
        pagination: dict[str, Any] = {"per_page": per_page}
        if starting_after is not None:
            # In the query string Intercom ignores the cursor and answers page 1 again.
            pagination["starting_after"] = starting_after
        body = {"query": query, "pagination": pagination}
        found = await self._call(_ContactList, "POST", "/contacts/search", body=body)
        cursor = found.pages.next.starting_after if found.pages and found.pages.next else None
        return ContactPage(
            contacts=tuple(found.data), total_count=found.total_count, next_cursor=cursor
        )

    async def search_all_contacts(
        self, query: dict[str, Any], *, per_page: int = 150
    ) -> AsyncIterator[Contact]:
        """Every contact matching `query`, page after page."""
        cursor: str | None = None
        while True:
            page = await self.search_contacts(query, per_page=per_page, starting_after=cursor)
            for contact in page.contacts:
                yield contact
            if page.next_cursor is None or not page.contacts:
                return
            if page.next_cursor == cursor:
                raise UnexpectedResponse("contact search returned the cursor it was given")
            cursor = page.next_cursor

    async def contacts_by_email(self, email: str) -> list[Contact]:
        """Every contact with this email; there may be several, or none yet (search lags)."""
        query = {"field": "email", "operator": "=", "value": email}
        return [contact async for contact in self.search_all_contacts(query)]

    async def delete_contact(self, contact_id: str) -> None:
        await self._send("DELETE", f"/contacts/{_segment(contact_id)}")

    async def archive_contact(self, contact_id: str) -> None:
        await self._send("POST", f"/contacts/{_segment(contact_id)}/archive")

    async def unarchive_contact(self, contact_id: str) -> None:
        await self._send("POST", f"/contacts/{_segment(contact_id)}/unarchive")

    # Companies.

    async def upsert_company(self, body: dict[str, Any]) -> Company:
        """Create or update the company named by `body["company_id"]`."""
        return await self._call(Company, "POST", "/companies", body=body)

    async def get_company_by_company_id(self, company_id: str) -> Company | None:
        try:
            response = await self._send("GET", "/companies", params={"company_id": company_id})
        except NotFound:
            return None
        # Intercom answers with the company; its 2.14 description shows a list instead.
        found = _decode(_CompanyList, response)
        if found.type != "list":
            return _decode(Company, response)
        return next((c for c in found.data or () if c.company_id == company_id), None)

    async def attach_company(self, contact_id: str, company_intercom_id: str) -> Company:
        """Attach by the company's Intercom `id` (from `upsert_company`), not its company_id."""
        path = f"/contacts/{_segment(contact_id)}/companies"
        return await self._call(Company, "POST", path, body={"id": company_intercom_id})

    async def detach_company(self, contact_id: str, company_intercom_id: str) -> Company:
        path = f"/contacts/{_segment(contact_id)}/companies/{_segment(company_intercom_id)}"
        return await self._call(Company, "DELETE", path)

    # Events and data attributes.

    async def create_event(self, body: dict[str, Any]) -> None:
        """`POST /events`; Intercom answers 202 with no body, duplicates included."""
        await self._send("POST", "/events", body=body)

    async def list_data_attributes(
        self, model: Model, *, include_archived: bool = False
    ) -> list[DataAttribute]:
        params = {"model": model, "include_archived": "true" if include_archived else "false"}
        found = await self._call(_DataAttributeList, "GET", "/data_attributes", params=params)
        return found.data

    async def create_data_attribute(
        self, name: str, model: Model, data_type: DataType, description: str | None = None
    ) -> DataAttribute:
        body = {"name": name, "model": model, "data_type": data_type}
        if description is not None:
            body["description"] = description
        return await self._call(DataAttribute, "POST", "/data_attributes", body=body)

    async def me(self) -> Admin:
        """The admin whose token this is, and the workspace (app) it belongs to."""
        return await self._call(Admin, "GET", "/me")

    # Plumbing.

    async def _call(
        self,
        kind: type[T],
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> T:
        return _decode(kind, await self._send(method, path, body=body, params=params))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        content = None if body is None else _encoder.encode(body)
        try:
            response = await self._http.request(method, path, content=content, params=params)
        except httpx.TransportError as error:
            # Raised below, outside this block, so that the error keeps no link to httpx's
            # exception: that holds the request, and so the Authorization header.
            failure = _transport_failure(f"{method} {path}", error, self._token.reveal())
            self._observe(method, path, None)
        else:
            self._observe(method, path, response.status_code)
            self.rate_limit.record(response.headers)
            if response.is_success:
                return response
            # An error page that echoes the request must not carry the token into an error.
            content = _redact(response.content, self._token.reveal().encode())
            failure = error_for(response.status_code, response.headers, content)
        raise failure


def _redact(content: bytes, token: bytes) -> bytes:
    """`content` with the token masked where it stands alone, not inside a longer word: a
    short token (the sandbox takes any, "t" too) must not garble every message, and with it
    the 409's id or an attribute's name."""
    pieces = content.split(token)
    redacted = [pieces[0]]
    for before, after in pairwise(pieces):
        inside = before[-1:] in _WORD_BYTES or after[:1] in _WORD_BYTES
        redacted += [token if inside else b"********", after]
    return b"".join(redacted)


def _unobserved(method: str, path: str, status: int | None) -> None:
    pass


def _transport_failure(request: str, error: httpx.TransportError, token: str) -> IntercomError:
    kind = type(error).__name__
    if isinstance(error, httpx.LocalProtocolError):
        # h11 quotes the header it refuses, and the header may be the Authorization one: the
        # message is dropped, the setting to fix is named instead.
        return Unsendable(
            f"{request}: {kind}: a header holds a character HTTP cannot carry (check "
            "access_token and api_version)"
        )
    text = _redact(str(error).encode(), token.encode()).decode()
    if isinstance(error, httpx.UnsupportedProtocol):
        return Unsendable(f"{request}: {kind}: {text} (check INTERCOM_API_URL)")
    if isinstance(error, httpx.TimeoutException):
        return Timeout(f"{request}: {kind}")
    return ConnectionFailed(f"{request}: {kind}: {text}")


def _decode(kind: type[T], response: httpx.Response) -> T:
    try:
        return msgspec.json.decode(response.content, type=kind)
    except msgspec.DecodeError as error:
        where = f"{response.request.method} {response.request.url.path}"
        raise UnexpectedResponse(f"{where}: {error}", status=response.status_code) from None


def _segment(value: str) -> str:
    """`value` as one URL path segment: ids may hold '/', '?', spaces or be '..'."""
    if not value:
        raise ValueError("an id in a URL path cannot be empty")
    escaped = quote(value, safe="")
    # httpx resolves "." and ".." segments, which would change the resource addressed.
    return escaped.replace(".", "%2E") if escaped in (".", "..") else escaped
