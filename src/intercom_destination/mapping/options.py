"""`MappingOptions`: the settings the planner reads, and nothing else (no token, no store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

if TYPE_CHECKING:
    from intercom_destination.mapping.subscriptions import Mappings

#: What happens to an object or array value, which Intercom cannot store.
NestedPolicy = Literal["drop", "flatten", "stringify"]
#: An identify without userId: skip it (the seed: leads are not created) or upsert a lead.
UnidentifiedPolicy = Literal["skip", "lead"]
#: A track/group/page known only by anonymousId: wait for the user's identify, send it to a
#: lead, or skip it.
AnonymousPolicy = Literal["wait", "lead", "skip"]


class MappingOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How events map; `Settings.mapping_options` gives them, with the settings' defaults."""

    collect_context: bool
    nested: NestedPolicy
    max_metadata_keys: int
    max_string_length: int
    unidentified: UnidentifiedPolicy
    anonymous: AnonymousPolicy
    page_events: bool
    screen_events: bool
    send_nulls: bool
    language_override_attribute: str | None
    #: The subscriptions, fields and filters, compiled from the settings' tables.
    mappings: Mappings
