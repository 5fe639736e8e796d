"""The optional state file: a workspace saved as JSON, loaded when the sandbox starts."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from intercom_destination.sandbox.records import WorkspaceData


class StateFileError(Exception):
    """A state file that exists but cannot be read as a sandbox workspace."""


def load(path: Path) -> WorkspaceData:
    """The saved workspace, or an empty one when the file does not exist yet."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return WorkspaceData()
    try:
        return msgspec.json.decode(content, type=WorkspaceData)
    except msgspec.DecodeError as error:
        raise StateFileError(f"{path} is not a sandbox state file: {error}") from None


def save(path: Path, data: WorkspaceData) -> None:
    """Writes atomically, so a crash mid-write leaves the previous file whole."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(msgspec.json.format(msgspec.json.encode(data), indent=2))
    os.replace(partial, path)
