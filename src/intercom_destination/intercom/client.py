"""The async Intercom REST client: one request per call, typed results, typed errors.

It neither retries nor waits: it records the rate-limit headers of every response in its
`RateLimitState` and raises a typed error for every failure, and the delivery engine decides
what to do next. Nothing is global, so tests and the sandbox point any number of clients at
any URL.
"""

from __future__ import annotations

import string
import time
from collections.abc import AsyncIterator, Callable, Mapping
from importlib.metadata import version
from itertools import pairwise
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

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
from intercom_destination.intercom.transport import (
    DEFAULT_CONNECTIONS,
    DEFAULT_TIMEOUTS,
    AiohttpTransport,
    Answer,
    HeaderRefused,
    Request,
    SendFailure,
    TimedOut,
    Timeouts,
    Transport,
    UrlRefused,
)
from intercom_destination.secret import Secret

USER_AGENT = f"intercom-destination/{version('intercom-destination')}"

T = TypeVar("T")
#: A neighbour of these makes the token part of a longer word ("=" does not: `token=...`).
_WORD_BYTES = frozenset(bytes([c]) for c in (string.ascii_letters + string.digits + "_").encode())
_encoder = msgspec.json.Encoder()
#: How much of a request's body, or of an error's answer, an `Exchange` keeps.
EXCHANGE_TEXT = 4096


class Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """One request and its answer, as `IntercomClient`'s `record` hears of it: the body
    and the answer are cut to `EXCHANGE_TEXT` characters, with the token masked."""

    at: float
    method: str
    path: str
    body: str | None
    #: None when no answer came.
    status: int | None
    #: Intercom's id for the request: its `X-Request-Id` header, or an error's `request_id`.
    request_id: str | None
    duration: float
    #: An error's answer, or why no answer came.
    error: str | None = None


class _ErrorBody(msgspec.Struct):
    request_id: str | None = None


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


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """Where a client calls Intercom, as whom, with which pinned `Intercom-Version`, how
    long one request may take, and over how many connections at most."""

    base_url: str
    token: Secret
    api_version: str
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    #: As many as requests run at once: more would only idle.
    connections: int = DEFAULT_CONNECTIONS


class IntercomClient:
    """Intercom's REST API for one workspace, over one `Transport` (a pooled
    `AiohttpTransport` unless told otherwise).

    `connection` says where and as whom to call. `transport` replaces the network (tests
    answer from recordings); the client closes it when it closes. `rate_limit` lets several
    clients of one app share what the headers say; `observe` hears of every call (method,
    path, and the status, or None when no answer came), for metrics; `record` hears of every
    call with its body and answer, for traces.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        transport: Transport | None = None,
        rate_limit: RateLimitState | None = None,
        observe: Callable[[str, str, int | None], None] | None = None,
        record: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.connection = connection
        self._token = connection.token
        self.api_version = connection.api_version
        self.rate_limit = rate_limit if rate_limit is not None else RateLimitState()
        self._observe = observe or _unobserved
        self._record = record
        self._base_url = connection.base_url.rstrip("/")
        # The token is not among them: it is revealed only into each outgoing request.
        self._headers = {
            "Intercom-Version": connection.api_version,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._transport = (
            transport
            if transport is not None
            else AiohttpTransport(connection.timeouts, connections=connection.connections)
        )
        self._closed = False

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return f"IntercomClient(base_url={self.base_url!r}, api_version={self.api_version!r})"

    async def __aenter__(self) -> IntercomClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        await self._transport.aclose()

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
            answer = await self._send("GET", "/companies", params={"company_id": company_id})
        except NotFound:
            return None
        # Intercom answers with the company; its 2.14 description shows a list instead.
        found = _decode(_CompanyList, answer, "GET /companies")
        if found.type != "list":
            return _decode(Company, answer, "GET /companies")
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
        answer = await self._send(method, path, body=body, params=params)
        return _decode(kind, answer, f"{method} {path}")

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        if self._closed:
            raise RuntimeError("the IntercomClient is closed")
        url = self._base_url + path
        if params:
            url += "?" + urlencode(params, quote_via=quote)
        headers = {**self._headers, "Authorization": f"Bearer {self._token.reveal()}"}
        content = None if body is None else _encoder.encode(body)
        started, clock = time.time(), time.perf_counter()
        try:
            answer = await self._transport.send(Request(method, url, headers, content))
        except SendFailure as error:
            # Raised below, outside this block, so that the error keeps no link to the
            # transport's.
            failure = _transport_failure(f"{method} {path}", error, self._token.reveal())
            self._observe(method, path, None)
            if self._record is not None:
                self._record(
                    self._exchange(started, clock, method, path, content, None, str(failure))
                )
        else:
            self._observe(method, path, answer.status)
            self.rate_limit.record(answer.headers)
            if answer.is_success:
                if self._record is not None:
                    self._record(
                        self._exchange(started, clock, method, path, content, answer, None)
                    )
                return answer
            # An error page that echoes the request must not carry the token into an error.
            redacted = _redact(answer.content, self._token.reveal().encode())
            failure = error_for(answer.status, answer.headers, redacted)
            if self._record is not None:
                self._record(
                    self._exchange(started, clock, method, path, content, answer, _text(redacted))
                )
        raise failure

    def _exchange(
        self,
        started: float,
        clock: float,
        method: str,
        path: str,
        content: bytes | None,
        answer: Answer | None,
        error: str | None,
    ) -> Exchange:
        request_id = None
        if answer is not None:
            request_id = answer.headers.get("x-request-id")
            if request_id is None and not answer.is_success:
                try:
                    request_id = msgspec.json.decode(answer.content, type=_ErrorBody).request_id
                except msgspec.DecodeError:
                    request_id = None
        token = self._token.reveal().encode()
        return Exchange(
            at=started,
            method=method,
            path=path,
            body=None if content is None else _text(_redact(content, token)),
            status=None if answer is None else answer.status,
            request_id=request_id,
            duration=time.perf_counter() - clock,
            error=None if error is None else error[:EXCHANGE_TEXT],
        )


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


def _text(content: bytes) -> str:
    return content[:EXCHANGE_TEXT].decode("utf-8", "replace")


def _unobserved(method: str, path: str, status: int | None) -> None:
    pass


def _transport_failure(request: str, failure: SendFailure, token: str) -> IntercomError:
    if isinstance(failure, HeaderRefused):
        # The header may be the Authorization one: the setting to fix is named instead.
        return Unsendable(f"{request}: {failure} (check access_token and api_version)")
    text = _redact(str(failure).encode(), token.encode()).decode()
    if isinstance(failure, UrlRefused):
        return Unsendable(f"{request}: {text} (check INTERCOM_API_URL)")
    if isinstance(failure, TimedOut):
        return Timeout(f"{request}: {text}")
    return ConnectionFailed(f"{request}: {text}")


def _decode(kind: type[T], answer: Answer, request: str) -> T:
    try:
        return msgspec.json.decode(answer.content, type=kind)
    except msgspec.DecodeError as error:
        raise UnexpectedResponse(f"{request}: {error}", status=answer.status) from None


def _segment(value: str) -> str:
    """`value` as one URL path segment: ids may hold '/', '?', spaces or be '..'."""
    if not value:
        raise ValueError("an id in a URL path cannot be empty")
    escaped = quote(value, safe="")
    # A server (or a proxy) may resolve "." and ".." segments, which would change the
    # resource addressed.
    return escaped.replace(".", "%2E") if escaped in (".", "..") else escaped
