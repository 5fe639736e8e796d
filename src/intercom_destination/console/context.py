"""What every page and API answer of one console shares."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from intercom_destination.console.guard import CsrfToken
from intercom_destination.mapping import MappingOptions
from intercom_destination.settings import Settings
from intercom_destination.store import Store
from intercom_destination.store.suppression import SuppressionList


@dataclass(frozen=True)
class Console:
    settings: Settings
    store: Store
    #: Unix seconds now; tests give their own clock.
    clock: Callable[[], float]
    csrf: CsrfToken = field(default_factory=CsrfToken)

    @functools.cached_property
    def mapping(self) -> MappingOptions:
        """What the tester plans with, read from the settings once."""
        return self.settings.mapping_options

    @functools.cached_property
    def suppressions(self) -> SuppressionList:
        """The people whose events the tester refuses, as ingest refuses them."""
        return SuppressionList(self.store)

    @staticmethod
    def new_message_id() -> str:
        """The messageId of an event sent from the tester without one."""
        return f"console-{uuid.uuid4()}"
