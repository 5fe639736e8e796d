"""`console`: the delivery console on its own, against any store (a fleet's PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from intercom_destination.console import create_console_app
from intercom_destination.deadlines import Deadlines
from intercom_destination.serving import bind, serve
from intercom_destination.settings import Settings
from intercom_destination.store import open_store, store_name

#: Where the console listens unless told otherwise, alone or beside `serve`.
CONSOLE_PORT = 8089


async def run_console(
    settings: Settings, host: str, port: int, *, echo: Callable[[str], None]
) -> None:
    sock, url = bind(host, port)
    async with await open_store(settings.database_url, create=False) as store:
        app = create_console_app(settings, store)
        echo(f"Delivery console on {url}{announce(settings)}")
        echo(f"  reading {store_name(settings.database_url)}")
        await serve(app, sock, Deadlines.of(settings))


def announce(settings: Settings) -> str:
    """What the line naming the console's address adds: how to get in."""
    return " (password required)" if settings.console_password is not None else ""
