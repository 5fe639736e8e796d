"""`DeliveryOptions`: the settings the executor follows, and nothing else."""

from __future__ import annotations

import msgspec

from intercom_destination.settings import UnknownContactPolicy


class DeliveryOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How events wait, retry and use the workspace's budgets; `delivery_options(settings)`
    gives them, with the settings' defaults."""

    unknown_contact: UnknownContactPolicy
    wait_timeout: float
    retry_for: float
    lease_for: float
    max_event_names: int
    last_seen_precision: int
    auto_create_attributes: bool
    max_custom_attributes: int
