"""A self-hosted, Segment-compatible Intercom destination."""

from intercom_destination.mapping import Plan, Skip, plan
from intercom_destination.settings import Settings, load_settings

__all__ = ["Plan", "Settings", "Skip", "load_settings", "plan"]
__version__ = "0.1.0"
