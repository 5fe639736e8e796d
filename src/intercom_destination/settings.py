"""One typed settings object with Segment's defaults, from a TOML file and the environment.

The environment wins over the file. Connection settings use their usual names
(`INTERCOM_ACCESS_TOKEN`, `SEGMENT_WRITE_KEYS`, ...); every other setting can be given as
`INTERCOM_DESTINATION_<NAME>` (e.g. `INTERCOM_DESTINATION_COLLECT_CONTEXT=true`).
"""

from __future__ import annotations

import functools
import tomllib
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_type_hints

import msgspec

from intercom_destination.mapping.options import (
    AnonymousPolicy,
    MappingOptions,
    NestedPolicy,
    UnidentifiedPolicy,
)
from intercom_destination.mapping.subscriptions import MappingError, compile_mappings
from intercom_destination.secret import Secret as Secret  # re-exported: settings hold Secrets

Region = Literal["us", "eu", "au"]
#: A track or group for a contact Intercom does not know: wait for its identify, create a
#: minimal contact, or give up.
UnknownContactPolicy = Literal["wait", "create", "dead"]

REGION_URLS: dict[str, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}


class SettingsError(ValueError):
    """A setting that cannot be used, with the setting's name in the message."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        #: The top-level setting at fault, when the message is about one.
        self.setting = setting


# `dict=True` lets `mapping_options` be computed once per settings object.
class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, dict=True):
    # Where Intercom is.
    access_token: Secret | None = None
    region: Region = "us"
    api_url: str | None = None
    api_version: str = "2.14"
    # Who may send events.
    write_keys: tuple[Secret, ...] = ()
    database_url: str = "sqlite:///./intercom-destination.db"
    #: Where clients reach ingest (`https://events.example.com`), for the settings document
    #: mobile SDKs fetch; without it, the Host of their request is used.
    public_url: str | None = None
    #: Events waiting for delivery past which ingest answers 429 until delivery catches up.
    max_backlog: Annotated[int, msgspec.Meta(ge=1)] = 1_000_000
    #: Seconds a request's headers may take to arrive, from the connection's opening or the
    #: request's first byte; then seconds its body may take. Past them ingest answers 408 and
    #: closes the connection, so slow or stalled clients cannot hold the server's connections.
    header_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    body_timeout: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    #: The delivery console's password; required when it listens on anything but loopback.
    console_password: Secret | None = None

    # How events map (Segment's defaults).
    collect_context: bool = False
    nested: NestedPolicy = "drop"
    max_metadata_keys: Annotated[int, msgspec.Meta(ge=1, le=10)] = 10
    max_string_length: Annotated[int, msgspec.Meta(ge=1, le=255)] = 255
    unidentified: UnidentifiedPolicy = "skip"
    anonymous: AnonymousPolicy = "wait"
    page_events: bool = False
    screen_events: bool = False
    #: Send `null` traits (which clear the attribute in Intercom) instead of omitting them.
    send_nulls: bool = False
    #: Intercom's REST API has no writable language field; name a custom attribute to carry
    #: `integrations.Intercom.language_override` there instead of dropping it.
    language_override_attribute: str | None = None
    #: Each action's trigger, field sources, or `enabled = false` (docs/mapping.md).
    actions: dict[str, Any] = msgspec.field(default_factory=dict)
    #: More subscriptions: `action`, `trigger`, `mapping`, and a `name`.
    subscriptions: tuple[dict[str, Any], ...] = ()
    #: Destination filters: drop events, or properties and traits, before any action.
    filters: tuple[dict[str, Any], ...] = ()

    # How events are delivered.
    #: A track or group for a contact Intercom does not know: wait for the contact's identify,
    #: create a minimal contact, or dead-letter the event.
    unknown_contact: UnknownContactPolicy = "wait"
    #: How long an event waits for its contact (or an anonymous one for its user), seconds.
    wait_timeout: Annotated[float, msgspec.Meta(gt=0)] = 7 * 24 * 3600.0
    #: How long transient failures are retried before the event is dead-lettered, seconds.
    retry_for: Annotated[float, msgspec.Meta(gt=0)] = 24 * 3600.0
    #: Active event names the workspace may have; Intercom refuses the 121st.
    max_event_names: Annotated[int, msgspec.Meta(ge=1)] = 120
    #: Seconds to which an identify's `last_seen_at` is counted: an identify that only moves
    #: it within the same period changes nothing and makes no call.
    last_seen_precision: Annotated[int, msgspec.Meta(ge=1)] = 3600
    #: Create custom attributes Intercom does not know yet, while the workspace has fewer
    #: than `max_custom_attributes` (Intercom's cap is 250, and attributes cannot be deleted).
    auto_create_attributes: bool = True
    max_custom_attributes: Annotated[int, msgspec.Meta(ge=0, le=250)] = 200
    #: The share of Intercom's rate limit the destination uses, leaving room for other apps.
    rate_share: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.9
    #: Lanes (users) one worker delivers to at once.
    concurrency: Annotated[int, msgspec.Meta(ge=1)] = 32
    #: How long a worker holds a lane before another may take it, seconds. A worker extends
    #: its leases while it works; a crashed worker's lanes wait this long to be picked up.
    lease_for: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    #: How long each attempt's trace (its Intercom requests and answers) is kept, seconds,
    #: and how many attempts' traces at most (0: none is kept).
    trace_retention: Annotated[float, msgspec.Meta(gt=0)] = 3 * 24 * 3600.0
    trace_rows: Annotated[int, msgspec.Meta(ge=0)] = 100_000

    @property
    def base_url(self) -> str:
        return (self.api_url or REGION_URLS[self.region]).rstrip("/")

    @functools.cached_property
    def mapping_options(self) -> MappingOptions:
        """What the planner reads, the mappings compiled; pass it to every `plan` call.

        Raises `MappingError` for mapping tables that cannot be used (`settings_from`
        reports it as a `SettingsError`)."""
        mappings = compile_mappings(
            self.actions,
            self.subscriptions,
            self.filters,
            page_events=self.page_events,
            screen_events=self.screen_events,
        )
        names = (name for name in MappingOptions.__struct_fields__ if name != "mappings")
        return MappingOptions(mappings=mappings, **{name: getattr(self, name) for name in names})


_Options = TypeVar("_Options", bound=msgspec.Struct)


def options_of(settings: Settings, kind: type[_Options]) -> _Options:
    """The settings a part reads, in a struct whose fields are named as the settings are."""
    return kind(**{name: getattr(settings, name) for name in kind.__struct_fields__})


_ENVIRONMENT_NAMES = {
    "INTERCOM_ACCESS_TOKEN": "access_token",
    "INTERCOM_REGION": "region",
    "INTERCOM_API_URL": "api_url",
    "INTERCOM_API_VERSION": "api_version",
    "SEGMENT_WRITE_KEYS": "write_keys",
    "DATABASE_URL": "database_url",
    "CONSOLE_PASSWORD": "console_password",
}
_PREFIX = "INTERCOM_DESTINATION_"
_SECRETS = frozenset({"access_token", "write_keys", "console_password"})


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Settings from a TOML file, then the environment, then keyword overrides."""
    values: dict[str, Any] = {}
    file_values: dict[str, Any] = {}
    if path is not None:
        try:
            # utf-8-sig: a byte order mark (editors on Windows put one first) is skipped.
            file_values = tomllib.loads(path.read_text(encoding="utf-8-sig"))
            values.update(file_values)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"{path}: {error}") from None
    for name, value in (environ or {}).items():
        if name in _ENVIRONMENT_NAMES:
            values[_ENVIRONMENT_NAMES[name]] = value
        elif name.startswith(_PREFIX) and value != "":
            values[name.removeprefix(_PREFIX).lower()] = value
    values.update(overrides)
    if isinstance(values.get("write_keys"), str):
        values["write_keys"] = [key.strip() for key in values["write_keys"].split(",")]
        values["write_keys"] = [key for key in values["write_keys"] if key]
    for key in ("api_url", "access_token", "console_password"):
        if isinstance(values.get(key), str) and not values[key].strip():
            del values[key]
    try:
        return settings_from(values)
    except SettingsError as error:
        # A bad value the file gave: say which file, as TOML errors do.
        at_fault = _MAPPING_TABLES if isinstance(error, _MappingSettingsError) else (error.setting,)
        given = [key for key in at_fault if key in values]
        if path is not None and given and all(values[key] is file_values.get(key) for key in given):
            raise SettingsError(f"{path}: {error}", error.setting) from None
        raise


#: The settings holding mapping tables, which are compiled (and checked) as settings load.
_MAPPING_TABLES = ("actions", "subscriptions", "filters")


class _MappingSettingsError(SettingsError):
    """A mapping table that cannot be used."""


def settings_from(values: Mapping[str, Any]) -> Settings:
    try:
        settings = msgspec.convert(values, Settings, strict=False, dec_hook=_secret)
    except msgspec.ValidationError as error:
        raise SettingsError(*_describe(error)) from None
    try:
        settings.mapping_options  # noqa: B018 - compiled now, so a bad mapping fails the load
    except MappingError as error:
        raise _MappingSettingsError(str(error)) from None
    return settings


#: Characters no credential holds: what a copy from a file or a web page brings along.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
_CONTROL_CHARACTER = (
    "contains a control or invisible character (a line break, a tab, a byte order mark); "
    "the value is not shown"
)
_EMPTY = "is empty"


def _secret(kind: type, value: Any) -> Any:
    if kind is Secret and isinstance(value, Secret):
        value = value.reveal()
    if kind is Secret and isinstance(value, str):
        return Secret(_credential(value))
    raise NotImplementedError


def _credential(value: str) -> str:
    """`value` without the whitespace around it; a ValueError (which never holds the value)
    if it is empty or holds a character no header or key can: a token with a line break
    would fail every request to Intercom, and the failure would carry the header."""
    value = value.strip()
    if not value:
        raise ValueError(_EMPTY)
    if any(unicodedata.category(character) in _INVISIBLE for character in value):
        raise ValueError(_CONTROL_CHARACTER)
    return value


def _describe(error: msgspec.ValidationError) -> tuple[str, str | None]:
    """The message for `error`, and the setting at fault."""
    # msgspec says "... - at `$.max_metadata_keys`"; lead with the setting's name instead, and
    # never echo a secret's value.
    text = str(error)
    if text.startswith("Object contains unknown field `"):
        unknown = text.split("`")[1]
        return f"{unknown}: not a setting", unknown
    message, _, where = text.rpartition(" - at `$.")
    name = where.rstrip("`").split("[")[0].split(".")[0]
    if not message:
        return text, None
    if name in _SECRETS:
        # Only this module's own messages: they never hold the value.
        problem = message if message in (_CONTROL_CHARACTER, _EMPTY) else "must be a string"
        return f"{where.rstrip('`')}: {problem}", name
    choices = get_args(get_type_hints(Settings).get(name))
    if message.startswith("Invalid enum value") and all(isinstance(c, str) for c in choices):
        value = message.removeprefix("Invalid enum value ")
        return f"{name}: {value} is not one of {', '.join(choices)}", name
    return f"{name}: {message}", name
