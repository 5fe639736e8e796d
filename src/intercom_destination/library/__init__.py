"""Library mode: the Intercom destination inside a Python application, as device mode puts it
inside a mobile app. An analytics timeline (`Analytics`, `AsyncAnalytics`) with plugins, and
`IntercomDestination`, which delivers through the service's planner, store and executor.

    from intercom_destination.library import Analytics, IntercomDestination

    analytics = Analytics()
    analytics.add(IntercomDestination(access_token="..."))
    analytics.identify("u1", {"email": "ada@example.com", "plan": "pro"})
"""

from intercom_destination.library.analytics import Analytics, AsyncAnalytics
from intercom_destination.library.destination import IntercomDestination
from intercom_destination.library.failures import Failure, OnError
from intercom_destination.library.forwarding import SegmentForwarder
from intercom_destination.library.timeline import (
    DestinationPlugin,
    Event,
    Flushed,
    FlushTimeout,
    Plugin,
    PluginType,
    Timeline,
)

__all__ = [
    "Analytics",
    "AsyncAnalytics",
    "DestinationPlugin",
    "Event",
    "Failure",
    "FlushTimeout",
    "Flushed",
    "IntercomDestination",
    "OnError",
    "Plugin",
    "PluginType",
    "SegmentForwarder",
    "Timeline",
]
