"""The `intercom-destination` command line."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec
from rich.console import Console
from rich.logging import RichHandler

from intercom_destination import logs
from intercom_destination.commands import deadletters, status, trace
from intercom_destination.commands.console import CONSOLE_PORT
from intercom_destination.commands.event_file import read_events
from intercom_destination.delivery import connection
from intercom_destination.mapping import Skip, describe, plan, route
from intercom_destination.settings import Secret, Settings, SettingsError, load_settings
from intercom_destination.spec import InvalidEvent
from intercom_destination.store import StoreError, migrate_store, store_name

config_option = click.option(
    "--config",
    "--settings",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML settings file; environment variables win over it.",
)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def listen_options(*, port: int) -> Callable[[F], F]:
    """`--host` (loopback by default) and `--port` (`port` by default) for a command that
    serves HTTP."""

    def decorate(command: F) -> F:
        command = click.option(
            "--port",
            default=port,
            show_default=True,
            type=click.IntRange(0, 65535),
            help="Port to listen on; 0 picks a free one, and the line printed names it.",
        )(command)
        return click.option(
            "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
        )(command)

    return decorate


def _settings(config_path: Path | None) -> Settings:
    try:
        return load_settings(config_path, os.environ)
    except SettingsError as error:
        raise click.UsageError(f"settings: {error}") from None


def _ingest_settings(config_path: Path | None, host: str) -> Settings:
    """The settings of a command taking events on `host`; a usage error where they would
    let it accept any write key from other machines."""
    # Imported here so the other commands do not load the web server.
    from intercom_destination.ingest import WriteKeys, exposure_problem

    settings = _settings(config_path)
    problem = exposure_problem(WriteKeys(settings.write_keys), host)
    if problem:
        raise click.UsageError(problem)
    return settings


@click.group()
@click.version_option(package_name="intercom-destination")
def main() -> None:
    """A self-hosted, Segment-compatible Intercom destination."""


#: A file of events. Bytes that are not UTF-8 are kept (as lone surrogates, which the reader
#: turns back into the bytes), so that the event holding them is reported and the rest read;
#: a byte order mark (editors on Windows put one first) is skipped.
EVENTS_FILE = click.File("r", encoding="utf-8-sig", errors="surrogateescape")


@main.command("plan")
@click.argument("file", type=EVENTS_FILE)
@config_option
@click.option("--pretty", is_flag=True, help="Indent each document.")
def plan_command(file: Any, config_path: Path | None, pretty: bool) -> None:
    """Print the Intercom operations each event in FILE would become; no network.

    FILE holds one JSON event, a batch envelope, a JSON array of events, or JSON Lines
    ("-" reads standard input). One JSON document is printed per event; when the settings
    change the mappings, it names the subscriptions the event matched and the filter that
    dropped it. Exits 1 when any event is invalid.
    """
    options = _settings(config_path).mapping_options
    received_at = datetime.now(UTC)
    counts = {"planned": 0, "skipped": 0, "invalid": 0}
    for line in read_events(file, received_at):
        document: dict[str, Any] = {"line": line.number}
        value = line.event
        if isinstance(value, InvalidEvent):
            counts["invalid"] += 1
            document["error"] = str(value)
        else:
            outcome = plan(value, options)
            document |= {"messageId": value.message_id, "type": value.type}
            if options.mappings.custom:
                way = route(value, options)
                document["subscriptions"] = [each.name for each in way.subscriptions]
                if way.dropped_by is not None:
                    document["filter"] = way.dropped_by
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


@main.command("mappings")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("--markdown", is_flag=True, help="The default fields as docs/mapping.md tables them.")
def mappings_command(config_path: Path | None, as_json: bool, markdown: bool) -> None:
    """Print the effective mappings: each subscription's action, trigger and fields (with
    their sources, after the settings), then the filters."""
    from intercom_destination.mapping.reference import (
        describe_mappings,
        markdown_tables,
        render_mappings,
    )

    if markdown:
        click.echo(markdown_tables(), nl=False)
        return
    mappings = _settings(config_path).mapping_options.mappings
    if as_json:
        click.echo(msgspec.json.encode(describe_mappings(mappings)).decode())
    else:
        click.echo(render_mappings(mappings), nl=False)


def _delivery_settings(config_path: Path | None) -> Settings:
    """The settings, with a way to reach Intercom (or a sandbox); exits with how to give one."""
    try:
        return connection.delivery_settings(_settings(config_path))
    except connection.NoIntercom as error:
        raise click.ClickException(str(error)) from None


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's work; a store that cannot be opened is the user's to fix."""
    try:
        return asyncio.run(work)
    except StoreError as error:
        raise click.ClickException(str(error)) from None


@main.command("send")
@click.argument("file", type=EVENTS_FILE)
@config_option
@click.option("--no-wait", is_flag=True, help="Only store the events; a worker delivers them.")
def send_command(file: Any, config_path: Path | None, no_wait: bool) -> None:
    """Backfill: store the events in FILE and deliver them to Intercom, with progress.

    FILE is read like `plan` reads it (a Segment archive export works). Invalid events are
    reported with their line and skipped. Exits 1 when any event was invalid or ended dead.
    """
    # Imported here, as in `worker`: delivery's metrics would import prometheus_client,
    # which `ingest --processes` must set up first (see `processes.shared_metrics`).
    from intercom_destination.commands import send

    settings = _settings(config_path) if no_wait else _delivery_settings(config_path)
    console = Console(stderr=True, soft_wrap=True)
    if console.is_terminal:
        # Delivery's warnings (an event dead, say) show above the progress bar.
        handler = RichHandler(console=console, show_path=False)
        logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    else:
        # A log file gets what every command writes there: one JSON document a line.
        logs.configure(logging.WARNING)
    try:
        backfill = _run(send.send(settings, file, deliver=not no_wait, console=console))
    except KeyboardInterrupt:
        click.echo(
            "interrupted: the events stored stay stored and a `worker` delivers them; run "
            "send again to store the rest (events stored already count as duplicates)",
            err=True,
        )
        sys.exit(130)
    click.echo(backfill.summary(), err=True)
    if backfill.failed:
        sys.exit(1)


@main.command("worker")
@config_option
def worker_command(config_path: Path | None) -> None:
    """Deliver stored events until SIGTERM or SIGINT, then finish the events in flight."""
    from intercom_destination.commands import worker

    settings = _delivery_settings(config_path)
    logs.configure()
    _run(worker.run_worker(settings))


@main.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document (see docs/operations.md).")
def status_command(config_path: Path | None, as_json: bool) -> None:
    """Lanes, backlog, dead letters, outcomes, budgets, and whether delivery is paused."""
    settings = _settings(config_path)
    now = time.time()
    report = _run(status.report(settings, now))
    click.echo(msgspec.json.encode(report).decode() if as_json else status.render(report, now))


@main.command("trace")
@config_option
@click.argument("message_id")
def trace_command(config_path: Path | None, message_id: str) -> None:
    """One event's story: as received, what it waits for, each attempt, its Intercom requests.

    Traces are kept for trace_retention seconds and at most trace_rows attempts (see
    docs/configuration.md); older attempts show their outcome only.
    """
    settings = _settings(config_path)
    story = _run(trace.story(settings, message_id))
    if story is None:
        where = store_name(settings.database_url)
        raise click.ClickException(f"no event with messageId {message_id!r} in {where}")
    click.echo(trace.render(story))


@main.command("migrate")
@config_option
def migrate_command(config_path: Path | None) -> None:
    """Create or upgrade the store's schema (DATABASE_URL), then exit.

    A PostgreSQL database that a fleet shares is upgraded only by this command: run it once
    before starting processes of a newer version. SQLite files are also migrated as they open.
    """
    settings = _settings(config_path)
    before, after = _run(migrate_store(settings.database_url))
    if before == after:
        click.echo(f"the schema is at version {after}, the latest: nothing to do")
    elif before == 0:
        click.echo(f"created the schema, version {after}")
    else:
        click.echo(f"migrated the schema from version {before} to {after}")


@main.group("deadletter")
def deadletter_group() -> None:
    """Events that could not be delivered: list, show, replay, purge."""


@deadletter_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def deadletter_list(config_path: Path | None, as_json: bool) -> None:
    """One line per dead letter: id, messageId, type, lane, died at, reason."""
    settings = _settings(config_path)
    count = _run(deadletters.list_dead_letters(settings, as_json=as_json, echo=click.echo))
    where = store_name(settings.database_url)
    click.echo(f"{count} dead letter{'' if count == 1 else 's'} in {where}", err=True)


@deadletter_group.command("show")
@click.argument("event_id", metavar="ID", type=click.IntRange(min=1))
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def deadletter_show(event_id: int, config_path: Path | None, as_json: bool) -> None:
    """One dead letter: its event and every attempt."""
    settings = _settings(config_path)
    if not _run(deadletters.show(settings, event_id, as_json=as_json, echo=click.echo)):
        where = store_name(settings.database_url)
        raise click.ClickException(f"no dead letter {event_id} in {where}")


_which_option = click.option("--all", "everything", is_flag=True, help="Every dead letter.")


def _which(event_ids: tuple[int, ...], everything: bool) -> tuple[int, ...] | None:
    if everything == bool(event_ids):
        raise click.UsageError("name dead letters by ID, or give --all")
    return None if everything else event_ids


def _changed(verb: str, changed: deadletters.Changed) -> None:
    for event_id in changed.missing:
        click.echo(f"no dead letter {event_id}", err=True)
    click.echo(f"{verb} {changed.count} dead letter{'' if changed.count == 1 else 's'}")
    if changed.missing:
        sys.exit(1)


@deadletter_group.command("replay")
@click.argument("event_ids", metavar="[ID]...", nargs=-1, type=click.IntRange(min=1))
@_which_option
@config_option
def deadletter_replay(
    event_ids: tuple[int, ...], everything: bool, config_path: Path | None
) -> None:
    """Put dead letters back in their lanes, in their original order, for a worker to deliver."""
    settings = _settings(config_path)
    _changed(
        "replayed",
        _run(deadletters.replay(settings, _which(event_ids, everything), now=time.time())),
    )


@deadletter_group.command("purge")
@click.argument("event_ids", metavar="[ID]...", nargs=-1, type=click.IntRange(min=1))
@_which_option
@config_option
def deadletter_purge(
    event_ids: tuple[int, ...], everything: bool, config_path: Path | None
) -> None:
    """Delete dead letters for good."""
    settings = _settings(config_path)
    _changed("purged", _run(deadletters.purge(settings, _which(event_ids, everything))))


@main.command("delete")
@click.option(
    "--user-id", "user_ids", multiple=True, metavar="ID", help="A userId to delete (repeatable)."
)
@click.option(
    "--anonymous-id",
    "anonymous_ids",
    multiple=True,
    metavar="ID",
    help="An anonymousId to delete (repeatable).",
)
@click.option(
    "--file",
    "file",
    # utf-8-sig: a byte order mark, which editors on Windows put first, is no part of an id.
    type=click.File("r", encoding="utf-8-sig"),
    help='One userId a line, or JSON Lines of {"userId": …} or {"anonymousId": …}.',
)
@click.option("--suppress", is_flag=True, help="Also refuse their future events.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option(
    "--resume",
    is_flag=True,
    help="Run the deletions that did not end (their process stopped), and nothing else.",
)
@config_option
def delete_command(
    user_ids: tuple[str, ...],
    anonymous_ids: tuple[str, ...],
    file: Any,
    suppress: bool,
    dry_run: bool,
    resume: bool,
    config_path: Path | None,
) -> None:
    """Delete people: their Intercom contacts, and everything the store holds of them.

    A userId takes the anonymousIds linked to it along. The store keeps an audit record of
    the deletion (`deletions`), naming the people only by salted hashes. Exits 1 when the
    deletion failed; running it again finishes it.
    """
    from intercom_destination.commands import delete
    from intercom_destination.deletion import BadSubjects, subjects_of
    from intercom_destination.intercom import IntercomError

    if resume:
        if user_ids or anonymous_ids or file or suppress or dry_run:
            raise click.UsageError("--resume takes no ids, --file, --suppress or --dry-run")
        resumed = _run(delete.resume(_delivery_settings(config_path), echo=click.echo))
        for request in resumed:
            click.echo(delete.summary(request))
        click.echo(f"{len(resumed)} unfinished deletion{'' if len(resumed) == 1 else 's'} run")
        if any(request.state == "failed" for request in resumed):
            sys.exit(1)
        return
    try:
        subjects = subjects_of(user_ids, anonymous_ids, file if file is not None else ())
    except BadSubjects as error:
        raise click.UsageError(f"{file.name if file else 'ids'}: {error}") from None
    if not subjects:
        raise click.UsageError("name the people to delete: --user-id, --anonymous-id or --file")
    settings = _delivery_settings(config_path)
    logs.configure(logging.WARNING)
    try:
        ended = _run(
            delete.delete(settings, subjects, suppress=suppress, dry_run=dry_run, echo=click.echo)
        )
    except IntercomError as error:
        # A deletion records its own failures; this is a dry run's lookup failing.
        raise click.ClickException(
            f"cannot look up the people's Intercom contacts: {error}"
        ) from None
    if ended is not None:
        click.echo(delete.summary(ended))
        if ended.state == "failed":
            sys.exit(1)


@main.command("deletions")
@config_option
def deletions_command(config_path: Path | None) -> None:
    """The deletion requests, newest first: their state and counts, the people as hashes."""
    from intercom_destination.commands import delete

    settings = _settings(config_path)
    count = _run(delete.list_deletions(settings, click.echo))
    click.echo(f"{count} deletion{'' if count == 1 else 's'}", err=True)


@main.group("suppressions")
def suppressions_group() -> None:
    """The ids whose events are refused (`delete --suppress`): list, remove."""


@suppressions_group.command("list")
@config_option
def suppressions_list(config_path: Path | None) -> None:
    """One line per suppressed id: its salted hash (the store keeps no id) and since when."""
    from intercom_destination.commands import delete

    settings = _settings(config_path)
    count = _run(delete.list_suppressions(settings, click.echo))
    click.echo(f"{count} suppressed id{'' if count == 1 else 's'}", err=True)


@suppressions_group.command("remove")
@click.argument("value", metavar="ID")
@config_option
def suppressions_remove(value: str, config_path: Path | None) -> None:
    """Accept the events of ID (a userId or anonymousId) again."""
    from intercom_destination.commands import delete

    settings = _settings(config_path)
    if not _run(delete.remove_suppression(settings, value)):
        raise click.ClickException(f"{value!r} is not suppressed")
    click.echo(f"{value!r} is no longer suppressed: its events are accepted again")


@main.command("check")
@config_option
def check_command(config_path: Path | None) -> None:
    """Check the Intercom connection: the token and region (GET /me), the workspace, and its
    custom attributes against Intercom's cap. Reads only; exits 1 when Intercom cannot be
    reached or refuses the token.
    """
    from intercom_destination.commands.check import CheckFailed, check

    try:
        asyncio.run(check(_settings(config_path), click.echo))
    except CheckFailed as error:
        raise click.ClickException(str(error)) from None


@main.command("sandbox")
@listen_options(port=8090)
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


@main.command("ingest")
@config_option
@listen_options(port=8088)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes serving the port, each about one core's worth; /metrics sums them.",
)
def ingest_command(config_path: Path | None, host: str, port: int, processes: int) -> None:
    """Accept events from Segment clients and store them (HTTP only: `serve` delivers too).

    Without SEGMENT_WRITE_KEYS any write key is accepted, and only on a loopback address.
    """
    if processes == 1:
        _ingest(config_path, host, port)
        return
    from intercom_destination.processes import shared_metrics

    # Entered before anything imports prometheus_client (the ingest app does).
    with shared_metrics() as metrics:
        _ingest(config_path, host, port, processes, metrics)


def _ingest(
    config_path: Path | None,
    host: str,
    port: int,
    processes: int = 1,
    metrics: Path | None = None,
) -> None:
    # Imported here so the other commands do not load the web server.
    from intercom_destination.commands.ingest import IngestFailed, run_ingest

    settings = _ingest_settings(config_path, host)
    logs.configure()
    try:
        run_ingest(settings, host, port, echo=click.echo, processes=processes, metrics=metrics)
    except IngestFailed as error:
        raise click.ClickException(str(error)) from None


@main.command("serve")
@config_option
@listen_options(port=8088)
@click.option(
    "--console-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the delivery console listens on; any but loopback needs CONSOLE_PASSWORD.",
)
@click.option(
    "--console-port",
    default=CONSOLE_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the delivery console; 0 picks a free one, and the line printed names it.",
)
@click.option("--no-console", is_flag=True, help="Do not serve the delivery console.")
def serve_command(
    config_path: Path | None,
    host: str,
    port: int,
    console_host: str,
    console_port: int,
    no_console: bool,
) -> None:
    """Accept events from Segment clients and deliver them to Intercom, in one process.

    Without INTERCOM_ACCESS_TOKEN (and INTERCOM_API_URL) it delivers to a local Intercom
    sandbox run in the same process. The delivery console listens on a port of its own
    (see `console`). Stops on SIGTERM or SIGINT once what is in flight is done.
    """
    from intercom_destination.commands.serve import ConsoleUnavailable, run_serve
    from intercom_destination.serving import run

    settings = _ingest_settings(config_path, host)
    console = None if no_console else (console_host, console_port)
    if console is not None:
        _check_console_exposure(settings, console_host)
    logs.configure()
    try:
        run(run_serve(settings, host, port, console=console, echo=click.echo))
    except ConsoleUnavailable as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    except StoreError as error:
        raise click.ClickException(str(error)) from None


def _check_console_exposure(settings: Settings, host: str) -> None:
    from intercom_destination.console import exposure_problem

    problem = exposure_problem(settings.console_password, host)
    if problem:
        raise click.UsageError(problem)


@main.command("console")
@config_option
@listen_options(port=CONSOLE_PORT)
def console_command(config_path: Path | None, host: str, port: int) -> None:
    """Serve the delivery console against the store (DATABASE_URL): what happened to every
    event, dead letters, and an event tester.

    On any address but loopback it needs a password (CONSOLE_PASSWORD). `serve` runs the
    console too; this command watches a store that other processes deliver from.
    """
    from intercom_destination.commands.console import run_console
    from intercom_destination.serving import run

    settings = _settings(config_path)
    _check_console_exposure(settings, host)
    logs.configure()
    try:
        run(run_console(settings, host, port, echo=click.echo))
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    except StoreError as error:
        raise click.ClickException(str(error)) from None
