"""The control endpoints, under `/_sandbox` (Intercom's paths never start with an underscore).

They need no token and are neither rate limited nor counted: tests and users drive the
sandbox through them.

- `GET /_sandbox/state`: contacts, companies, events, data attributes and plans.
- `POST /_sandbox/reset`: an empty workspace, the starting configuration, the real clock, no
  faults, no calls.
- `GET /_sandbox/calls`: counts per endpoint and status, and the latest calls (each with its
  `Intercom-Version` header).
- `GET`, `POST /_sandbox/faults`: read or replace the injected faults (`faults.Faults`).
- `GET`, `POST /_sandbox/clock`: read the time; `{"now": t}` freezes it at t, `{"now": null}`
  follows the real clock again, `{"advance": s}` moves it forward.
- `GET`, `POST /_sandbox/config`: read or change `rate_limit`, `search_lag`, `event_names`,
  `custom_attributes`.
- `POST /_sandbox/save`: write the state file now.
- `DELETE /_sandbox/companies/{id}`: delete a company (by its Intercom id) as an admin can in
  Intercom's UI; the 2.14 API has no such request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_destination.sandbox.errors import ApiError, error_body, invalid
from intercom_destination.sandbox.faults import Faults
from intercom_destination.sandbox.runtime import Sandbox

PREFIX = "/_sandbox"

_T = TypeVar("_T")
_Positive = Annotated[int, msgspec.Meta(ge=1)]
_Seconds = Annotated[float, msgspec.Meta(ge=0)]


class ClockChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: Freeze at this Unix time; null follows the real clock again; absent leaves it.
    now: float | msgspec.UnsetType | None = msgspec.UNSET
    advance: _Seconds = 0.0


class ConfigChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rate_limit: _Positive | None = None
    search_lag: _Seconds | None = None
    event_names: _Positive | None = None
    custom_attributes: _Positive | None = None


def routes(sandbox: Sandbox) -> list[Route]:
    def state(_: None) -> Any:
        return msgspec.to_builtins(sandbox.workspace.snapshot())

    def reset(_: None) -> Any:
        sandbox.reset()
        return {"reset": True}

    def calls(_: None) -> Any:
        return sandbox.calls.document()

    def faults(change: Faults | None) -> Any:
        if change is not None:
            sandbox.faults.configure(change, sandbox.clock.now())
            seconds = change.throttle_seconds
            sandbox.limiter.refuse_until(sandbox.clock.now() + seconds if seconds else None)
        return sandbox.faults.document()

    def clock(change: ClockChange | None) -> Any:
        if change is not None:
            if change.now is None:
                sandbox.clock.release()
            elif not isinstance(change.now, msgspec.UnsetType):
                sandbox.clock.freeze(change.now)
            sandbox.clock.advance(change.advance)
        return {"now": sandbox.clock.now(), "frozen": sandbox.clock.frozen}

    def config(change: ConfigChange | None) -> Any:
        limits = sandbox.workspace.limits
        if change is not None:
            for name in ("search_lag", "event_names", "custom_attributes"):
                value = getattr(change, name)
                if value is not None:
                    setattr(limits, name, value)
            if change.rate_limit is not None:
                sandbox.limiter.limit = change.rate_limit
        return {
            "rate_limit": sandbox.limiter.limit,
            **msgspec.to_builtins(limits),
            "token_required": sandbox.config.token is not None,
            "state_file": str(sandbox.config.state_file) if sandbox.config.state_file else None,
        }

    def save(_: None) -> Any:
        path = sandbox.save()
        if path is None:
            raise ApiError.of(409, "conflict", "The sandbox was started without --state FILE")
        return {"saved": str(path)}

    async def delete_company(request: Request) -> Response:
        try:
            sandbox.workspace.delete_company(request.path_params["company_id"])
        except ApiError as error:
            return _error(error)
        return Response(msgspec.json.encode({"deleted": True}), media_type="application/json")

    return [
        Route(f"{PREFIX}/companies/{{company_id}}", delete_company, methods=["DELETE"]),
        Route(f"{PREFIX}/state", _endpoint(None, state), methods=["GET"]),
        Route(f"{PREFIX}/reset", _endpoint(None, reset), methods=["POST"]),
        Route(f"{PREFIX}/calls", _endpoint(None, calls), methods=["GET"]),
        Route(f"{PREFIX}/faults", _endpoint(Faults, faults), methods=["GET", "POST"]),
        Route(f"{PREFIX}/clock", _endpoint(ClockChange, clock), methods=["GET", "POST"]),
        Route(f"{PREFIX}/config", _endpoint(ConfigChange, config), methods=["GET", "POST"]),
        Route(f"{PREFIX}/save", _endpoint(None, save), methods=["POST"]),
    ]


def _endpoint(
    body_type: type[_T] | None, action: Callable[[_T | None], Any]
) -> Callable[[Request], Awaitable[Response]]:
    """A route that decodes a POST body as `body_type` (GET passes None) and answers JSON."""

    async def endpoint(request: Request) -> Response:
        try:
            change = None
            if body_type is not None and request.method == "POST":
                try:
                    change = msgspec.json.decode(await request.body() or b"{}", type=body_type)
                except msgspec.DecodeError as error:
                    raise invalid(str(error)) from None
            document = action(change)
        except ApiError as error:
            return _error(error)
        return Response(msgspec.json.encode(document), media_type="application/json")

    return endpoint


def _error(error: ApiError) -> Response:
    return Response(
        msgspec.json.encode(error_body(error.errors, None)),
        error.status,
        media_type="application/json",
    )
