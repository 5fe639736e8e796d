"""A local Intercom: an ASGI app that behaves like Intercom's REST API (2.14) for everything
the destination uses, with control endpoints to read its state and inject faults.

Run it with `intercom-destination sandbox`, or build the app with `create_app`.
"""

from intercom_destination.sandbox.app import create_app
from intercom_destination.sandbox.clock import Clock
from intercom_destination.sandbox.faults import Faults
from intercom_destination.sandbox.records import Limits, WorkspaceData
from intercom_destination.sandbox.runtime import SandboxConfig
from intercom_destination.sandbox.state import Workspace

__all__ = ["Clock", "Faults", "Limits", "SandboxConfig", "Workspace", "WorkspaceData", "create_app"]
