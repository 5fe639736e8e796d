"""The `intercom-destination` command line."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import msgspec

from intercom_destination.intercom import (
    Admin,
    DataAttribute,
    IntercomClient,
    IntercomError,
    TransportError,
    Unauthorized,
)
from intercom_destination.intercom.models import MAX_CUSTOM_ATTRIBUTES, Model
from intercom_destination.mapping import Skip, describe, plan
from intercom_destination.settings import Secret, Settings, SettingsError, load_settings
from intercom_destination.spec import InvalidEvent, decode_event
from intercom_destination.spec.documents import read_items

config_option = click.option(
    "--config",
    "--settings",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML settings file; environment variables win over it.",
)


def _settings(config_path: Path | None) -> Settings:
    try:
        return load_settings(config_path, os.environ)
    except SettingsError as error:
        raise click.UsageError(f"settings: {error}") from None


@click.group()
@click.version_option(package_name="intercom-destination")
def main() -> None:
    """A self-hosted, Segment-compatible Intercom destination."""


@main.command("plan")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@config_option
@click.option("--pretty", is_flag=True, help="Indent each document.")
def plan_command(file: Any, config_path: Path | None, pretty: bool) -> None:
    """Print the Intercom operations each event in FILE would become; no network.

    FILE holds one JSON event, a batch envelope, a JSON array of events, or JSON Lines
    ("-" reads standard input). One JSON document is printed per event. Exits 1 when any
    event is invalid.
    """
    settings = _settings(config_path)
    received_at = datetime.now(UTC)
    counts = {"planned": 0, "skipped": 0, "invalid": 0}
    for item in read_items(file.read()):
        document: dict[str, Any] = {"line": item.line}
        value = (
            decode_event(
                item.value,
                received_at=received_at,
                sent_at=item.sent_at,
                make_message_id=lambda: str(uuid.uuid4()),
            )
            if isinstance(item.value, dict)
            else item.value
        )
        if isinstance(value, InvalidEvent):
            counts["invalid"] += 1
            document["error"] = str(value)
        else:
            outcome = plan(value, settings)
            document |= {"messageId": value.message_id, "type": value.type}
            if isinstance(outcome, Skip):
                counts["skipped"] += 1
                document["skipped"] = outcome.reason
            else:
                counts["planned"] += 1
                document["operations"] = [describe(op) for op in outcome.operations]
            document["warnings"] = list(outcome.warnings)
        encoded = msgspec.json.encode(document)
        click.echo(msgspec.json.format(encoded, indent=2 if pretty else 0).decode())
    summary = ", ".join(f"{count} {name}" for name, count in counts.items())
    click.echo(summary, err=True)
    if counts["invalid"]:
        sys.exit(1)


@main.command("check")
@config_option
def check_command(config_path: Path | None) -> None:
    """Check the Intercom connection: the token and region (GET /me), the workspace, and its
    custom attributes against Intercom's cap. Reads only; exits 1 when Intercom cannot be
    reached or refuses the token.
    """
    settings = _settings(config_path)
    if settings.access_token is None:
        raise click.ClickException(
            "no Intercom access token: set INTERCOM_ACCESS_TOKEN (or access_token in --config)"
        )
    source = "INTERCOM_API_URL" if settings.api_url else f"region {settings.region}"
    click.echo(f"API: {settings.base_url} ({source}), Intercom-Version {settings.api_version}")
    try:
        admin, custom = asyncio.run(_inspect_workspace(settings))
    except Unauthorized as error:
        raise click.ClickException(
            f"Intercom refused the access token ({error}). Check INTERCOM_ACCESS_TOKEN, and "
            "check INTERCOM_REGION too: a token works only on its own region's host (us, eu, "
            "au), and another region's host refuses it with this same 401."
        ) from None
    except TransportError as error:
        raise click.ClickException(
            f"cannot reach Intercom at {settings.base_url} ({error}). Check INTERCOM_REGION "
            "or INTERCOM_API_URL, and the network."
        ) from None
    except IntercomError as error:
        raise click.ClickException(f"Intercom answered with an error: {error}") from None
    click.echo(f"Token: accepted, admin {admin.name or admin.email or 'unnamed'}")
    if admin.app is not None:
        app = admin.app
        click.echo(f"Workspace: {app.name} (id {app.id_code}, region {app.region})")
    total = sum(len(attributes) for attributes in custom.values())
    budget = (
        f"the destination creates more while under {settings.max_custom_attributes} "
        "(max_custom_attributes)"
        if settings.auto_create_attributes
        else "the destination creates none (auto_create_attributes is off)"
    )
    click.echo(
        f"Custom attributes: {total} of Intercom's {MAX_CUSTOM_ATTRIBUTES} (both models, "
        f"archived ones included); {budget}"
    )
    for model, attributes in custom.items():
        names = [attribute.name for attribute in attributes]
        click.echo(f"  {model}: {len(names)}" + (f" ({', '.join(names)})" if names else ""))


async def _inspect_workspace(settings: Settings) -> tuple[Admin, dict[Model, list[DataAttribute]]]:
    """Whose token this is, and the workspace's custom attributes per model."""
    async with IntercomClient(settings) as client:
        admin = await client.me()
        custom: dict[Model, list[DataAttribute]] = {}
        for model in ("contact", "company"):
            listed = await client.list_data_attributes(model, include_archived=True)
            custom[model] = [attribute for attribute in listed if attribute.custom]
    return admin, custom


@main.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8089,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one, and the line printed names it.",
)
@click.option(
    "--rate-limit",
    default=1666,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests allowed per 10-second window.",
)
@click.option(
    "--search-lag",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds before a new contact shows up in search.",
)
@click.option(
    "--token",
    envvar="INTERCOM_SANDBOX_TOKEN",
    help="Accept only this bearer token (default: any non-empty one).",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Load the workspace from FILE at start; write it there on shutdown.",
)
@click.option("--access-log/--no-access-log", default=True, help="Log every request.")
def sandbox_command(
    host: str,
    port: int,
    rate_limit: int,
    search_lag: float,
    token: str | None,
    state_file: Path | None,
    access_log: bool,
) -> None:
    """Serve a local Intercom to try a tracking plan against: nothing reaches your workspace."""
    # Imported here so the other commands do not load the web server.
    from intercom_destination.sandbox import Limits, SandboxConfig
    from intercom_destination.sandbox.persistence import StateFileError
    from intercom_destination.sandbox.server import serve

    config = SandboxConfig(
        rate_limit=rate_limit,
        limits=Limits(search_lag=search_lag),
        token=Secret(token) if token else None,
        state_file=state_file,
    )
    try:
        serve(config, host=host, port=port, access_log=access_log, echo=click.echo)
    except (StateFileError, OSError) as error:
        raise click.ClickException(str(error)) from None

