"""The delivery console: web pages and a JSON API over the store, and the event tester."""

from intercom_destination.console.app import create_console_app
from intercom_destination.console.guard import exposure_problem

__all__ = ["create_console_app", "exposure_problem"]
