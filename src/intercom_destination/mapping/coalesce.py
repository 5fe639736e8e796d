"""Coalescing a lane's run of plans: consecutive updates of one contact become one call.

When a lane holds several events (a backfill, a catch-up after an outage, a burst), sending
every identify's contact body one by one spends a call per identify on what the last one says
anyway. Intercom keeps the fields a create or update names and leaves the others, and merges
`custom_attributes` key by key, so the bodies of a contact's consecutive upserts, merged in
order (a later value wins), leave the contact as sending each of them would. The first upsert
of such a stretch carries the merged body, where it stands, so that the contact exists before
the events and attachments after it; the later ones are folded into it and send nothing of
their own. Events, companies and attachments keep their places and their order.

A stretch ends at an upsert of another contact (or of the same person named otherwise: an
email that changed) and at an event whose visitor the carrier does not link (an identify
naming another anonymousId must link it itself). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from intercom_destination.mapping.operations import ContactRef, Plan, Skip, UpsertContact


class RunItem(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a run: its plan, and the anonymousId its identify links to its user."""

    plan: Plan | Skip
    visitor: str | None = None


class Coalesced(msgspec.Struct, frozen=True, kw_only=True):
    """The run's plans with their contact upserts coalesced."""

    plans: tuple[Plan | Skip, ...]
    #: For each event, the index of the event whose upsert carries its own, else None.
    folded_into: tuple[int | None, ...]
    #: For each event, whether its upsert's body was merged with later ones'.
    carries: tuple[bool, ...]


def coalesce(run: Sequence[RunItem]) -> Coalesced:
    plans: list[Plan | Skip] = [item.plan for item in run]
    folded_into: list[int | None] = [None] * len(run)
    carries = [False] * len(run)
    # The stretch being merged: its carrier's index, contact, visitor and merged body.
    carrier: tuple[int, ContactRef, str | None, dict[str, Any]] | None = None
    for index, item in enumerate(run):
        upsert = _upsert(item.plan)
        if upsert is None:
            continue
        if (
            carrier is not None
            and upsert.contact == carrier[1]
            and item.visitor in (None, carrier[2])
        ):
            first, contact, visitor, body = carrier
            carrier = (first, contact, visitor, merge_bodies(body, upsert.body))
            plans[index] = _without_upsert(item.plan)
            folded_into[index] = first
            carries[first] = True
            plans[first] = _with_body(run[first].plan, carrier[3])
            continue
        carrier = (index, upsert.contact, item.visitor, upsert.body)
    return Coalesced(plans=tuple(plans), folded_into=tuple(folded_into), carries=tuple(carries))


def merge_bodies(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """What sending `earlier` then `later` leaves in Intercom, as one body."""
    merged = {**earlier, **later}
    if "custom_attributes" in earlier and "custom_attributes" in later:
        merged["custom_attributes"] = {
            **earlier["custom_attributes"],
            **later["custom_attributes"],
        }
    return merged


def _upsert(plan: Plan | Skip) -> UpsertContact | None:
    if isinstance(plan, Skip):
        return None
    for operation in plan.operations:
        if isinstance(operation, UpsertContact):
            return operation
    return None


def _without_upsert(plan: Plan | Skip) -> Plan | Skip:
    assert isinstance(plan, Plan)
    return msgspec.structs.replace(
        plan, operations=tuple(o for o in plan.operations if not isinstance(o, UpsertContact))
    )


def _with_body(plan: Plan | Skip, body: dict[str, Any]) -> Plan:
    assert isinstance(plan, Plan)
    return msgspec.structs.replace(
        plan,
        operations=tuple(
            msgspec.structs.replace(o, body=body) if isinstance(o, UpsertContact) else o
            for o in plan.operations
        ),
    )
