"""Where delivery sends events: the workspace the token names, or a sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from intercom_destination.delivery.options import DeliveryOptions
from intercom_destination.settings import Secret, Settings, SettingsError, options_of

if TYPE_CHECKING:
    from intercom_destination.intercom import Connection

#: The token sent when only INTERCOM_API_URL is set: the sandbox takes any non-empty one.
SANDBOX_TOKEN = "intercom-destination-sandbox"

NO_INTERCOM = (
    "no Intercom access token: set INTERCOM_ACCESS_TOKEN (or access_token in the settings "
    "file) to deliver to your workspace, or try it on a local Intercom: run "
    "`intercom-destination sandbox` and set INTERCOM_API_URL=http://127.0.0.1:8090"
)


class NoIntercom(Exception):
    def __str__(self) -> str:
        return NO_INTERCOM


def delivery_settings(settings: Settings) -> Settings:
    """`settings` with a token to call Intercom with; NoIntercom when there is none.

    With INTERCOM_API_URL and no token the destination talks to a sandbox, which accepts
    any token unless it was started with `--token` (then set INTERCOM_ACCESS_TOKEN to it).
    """
    if settings.access_token is not None:
        return settings
    if settings.api_url is None:
        raise NoIntercom
    return msgspec.structs.replace(settings, access_token=Secret(SANDBOX_TOKEN))


def intercom_connection(settings: Settings) -> Connection:
    """Where and as whom `settings` call Intercom, for an `IntercomClient`."""
    # Imported here: the CLI imports this module, and `plan` must not load the network stack.
    from intercom_destination.intercom import Connection

    if settings.access_token is None:
        raise SettingsError("access_token: required to call Intercom")
    return Connection(
        base_url=settings.base_url,
        token=settings.access_token,
        api_version=settings.api_version,
        connections=settings.concurrency,
    )


def delivery_options(settings: Settings) -> DeliveryOptions:
    """What the executor follows, of `settings`."""
    return options_of(settings, DeliveryOptions)
