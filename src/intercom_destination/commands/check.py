"""`check`: is the token good for this region, which workspace is it, and how many custom
attributes does the workspace have against Intercom's cap. Reads only."""

from __future__ import annotations

from collections.abc import Callable

from intercom_destination.delivery.connection import intercom_connection
from intercom_destination.intercom import (
    Admin,
    Connection,
    DataAttribute,
    IntercomClient,
    IntercomError,
    Misconfigured,
    TransportError,
)
from intercom_destination.intercom.errors import configuration_problem
from intercom_destination.intercom.models import MAX_CUSTOM_ATTRIBUTES, Model
from intercom_destination.settings import Settings


class CheckFailed(Exception):
    """Intercom cannot be reached or refuses the token; the message says what to fix."""


async def check(settings: Settings, echo: Callable[[str], None]) -> None:
    if settings.access_token is None:
        raise CheckFailed(
            "no Intercom access token: set INTERCOM_ACCESS_TOKEN (or access_token in --config)"
        )
    source = "INTERCOM_API_URL" if settings.api_url else f"region {settings.region}"
    echo(f"API: {settings.base_url} ({source}), Intercom-Version {settings.api_version}")
    try:
        admin, custom = await _inspect_workspace(intercom_connection(settings))
    except Misconfigured as error:
        raise CheckFailed(configuration_problem(error)) from None
    except TransportError as error:
        raise CheckFailed(
            f"cannot reach Intercom at {settings.base_url} ({error}). Check INTERCOM_REGION "
            "or INTERCOM_API_URL, and the network."
        ) from None
    except IntercomError as error:
        raise CheckFailed(f"Intercom answered with an error: {error}") from None
    echo(f"Token: accepted, admin {admin.name or admin.email or 'unnamed'}")
    if admin.app is not None:
        app = admin.app
        echo(f"Workspace: {app.name} (id {app.id_code}, region {app.region})")
    total = sum(len(attributes) for attributes in custom.values())
    budget = (
        f"the destination creates more while under {settings.max_custom_attributes} "
        "(max_custom_attributes)"
        if settings.auto_create_attributes
        else "the destination creates none (auto_create_attributes is off)"
    )
    echo(
        f"Custom attributes: {total} of Intercom's {MAX_CUSTOM_ATTRIBUTES} (both models, "
        f"archived ones included); {budget}"
    )
    for model, attributes in custom.items():
        names = [attribute.name for attribute in attributes]
        echo(f"  {model}: {len(names)}" + (f" ({', '.join(names)})" if names else ""))


async def _inspect_workspace(
    connection: Connection,
) -> tuple[Admin, dict[Model, list[DataAttribute]]]:
    """Whose token this is, and the workspace's custom attributes per model."""
    async with IntercomClient(connection) as client:
        admin = await client.me()
        custom: dict[Model, list[DataAttribute]] = {}
        for model in ("contact", "company"):
            listed = await client.list_data_attributes(model, include_archived=True)
            custom[model] = [attribute for attribute in listed if attribute.custom]
    return admin, custom
