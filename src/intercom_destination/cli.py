"""The `intercom-destination` command line."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import msgspec

from intercom_destination.mapping import Skip, describe, plan
from intercom_destination.settings import Settings, SettingsError, load_settings
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
