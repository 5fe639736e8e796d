"""A self-hosted, Segment-compatible Intercom destination.

`plan(event, settings.mapping_options)` maps one Segment event to Intercom operations (pure);
`Settings` and `load_settings` configure it. The Intercom client and library mode's `Analytics`,
`AsyncAnalytics` and `IntercomDestination` load on first use, so that importing the planner
does not import the network stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from intercom_destination.mapping import MappingOptions, Plan, Skip, plan
from intercom_destination.settings import Settings, load_settings

if TYPE_CHECKING:
    from intercom_destination.intercom import IntercomClient
    from intercom_destination.library import Analytics, AsyncAnalytics, IntercomDestination

_LAZY = {
    "IntercomClient": "intercom_destination.intercom",
    "Analytics": "intercom_destination.library",
    "AsyncAnalytics": "intercom_destination.library",
    "IntercomDestination": "intercom_destination.library",
}

__all__ = [
    "Analytics",
    "AsyncAnalytics",
    "IntercomClient",
    "IntercomDestination",
    "MappingOptions",
    "Plan",
    "Settings",
    "Skip",
    "load_settings",
    "plan",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'intercom_destination' has no attribute {name!r}")
