"""The console's ASGI app: its pages, its JSON API under /api/, and its assets."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from intercom_destination.console import api, pages
from intercom_destination.console.context import Console
from intercom_destination.console.deletions import Running
from intercom_destination.console.deletions import routes as deletion_routes
from intercom_destination.console.guard import Guard
from intercom_destination.console.views import age, iso
from intercom_destination.deletion import Deletions
from intercom_destination.settings import Settings
from intercom_destination.store import Store


def create_console_app(
    settings: Settings,
    store: Store,
    *,
    deletions: Deletions | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The console over `store`; the caller opens and closes the store. Without `deletions`
    (no Intercom to delete contacts in) `/api/deletions` answers 503 saying so."""
    environment = Environment(
        loader=PackageLoader("intercom_destination.console"),
        autoescape=select_autoescape(default=True),
    )
    environment.filters["iso"] = iso
    environment.filters["age"] = age
    running = Running(deletions) if deletions is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        if running is not None:
            await running.finish()

    app = Starlette(
        routes=[
            *pages.routes,
            Mount("/api", routes=[*api.routes, *deletion_routes]),
            _assets(),
        ],
        middleware=[Middleware(Guard, password=settings.console_password)],
        exception_handlers={HTTPException: _refused},
        lifespan=lifespan,
    )
    app.state.console = Console(settings, store, clock)
    app.state.deletions = running
    app.state.templates = Jinja2Templates(env=environment)
    return app


def _assets() -> Mount:
    return Mount(
        "/static",
        app=StaticFiles(packages=[("intercom_destination.console", "static")]),
        name="static",
    )


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": error.detail}, status_code=error.status_code)
    return PlainTextResponse(error.detail, status_code=error.status_code)
