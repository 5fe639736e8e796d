"""`console`: the delivery console on its own, against any store (a fleet's PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from intercom_destination.console import create_console_app
from intercom_destination.deadlines import Deadlines
from intercom_destination.deletion import Deletions, open_deletions
from intercom_destination.delivery.connection import NoIntercom, delivery_settings
from intercom_destination.serving import bind, serve
from intercom_destination.settings import Settings
from intercom_destination.store import Store, open_store, store_name

#: Where the console listens unless told otherwise, alone or beside `serve`.
CONSOLE_PORT = 8089


async def run_console(
    settings: Settings, host: str, port: int, *, echo: Callable[[str], None]
) -> None:
    sock, url = bind(host, port)
    async with (
        await open_store(settings.database_url, create=False) as store,
        _deletions(settings, store) as deletions,
    ):
        app = create_console_app(settings, store, deletions=deletions)
        echo(f"Delivery console on {url}{announce(settings)}")
        echo(f"  reading {store_name(settings.database_url)}")
        if deletions is None:
            echo("  no INTERCOM_ACCESS_TOKEN: /api/deletions cannot delete people")
        await serve(app, sock, Deadlines.of(settings))


@contextlib.asynccontextmanager
async def _deletions(settings: Settings, store: Store) -> AsyncIterator[Deletions | None]:
    """Deletions in the Intercom the settings name; None when they name none."""
    try:
        with_intercom = delivery_settings(settings)
    except NoIntercom:
        yield None
        return
    async with open_deletions(with_intercom, store) as deletions:
        yield deletions


def announce(settings: Settings) -> str:
    """What the line naming the console's address adds: how to get in."""
    return " (password required)" if settings.console_password is not None else ""
