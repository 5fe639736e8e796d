"""Coalescing a lane's run of plans: consecutive upserts of one contact, or of one company,
become one call.

When a lane holds several events (a backfill, a catch-up after an outage, a burst), sending
every identify's contact body one by one spends a call per identify on what the last one says
anyway. Intercom keeps the fields a create or update names and leaves the others, and merges
`custom_attributes` key by key, so a contact's consecutive upserts, applied in order (a later
value wins), leave the contact as sending each of them would. The first upsert of such a
stretch carries the later ones' bodies (`UpsertContact.folded`), where it stands, so that the
contact exists before the events and attachments after it; the later ones send nothing of
their own. The executor admits each body's custom attributes in turn before merging them, as
one-by-one delivery would: the first value given a new attribute decides its type, and a
later value of another type is converted or dropped, not made the attribute's type.

A company's consecutive upserts go likewise with the first (`UpsertCompany.folded`), each with
its event's time: the executor merges each into the company's state at its own time, as
one-by-one delivery would, then has Intercom hold the result once. Events, attachments and
detachments keep their places and their order.

A contact's stretch ends at an upsert of another contact (or of the same person named
otherwise: an email that changed) and at an event whose visitor the carrier does not link
(an identify naming another anonymousId must link it itself); a company's at an upsert of
another company. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from intercom_destination.mapping.operations import (
    ContactRef,
    Operation,
    Plan,
    Skip,
    TimedBody,
    UpsertCompany,
    UpsertContact,
)


class RunItem(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a run: its plan, the anonymousId its identify links to its user, and its
    time (Unix seconds), which orders a company's writes."""

    plan: Plan | Skip
    visitor: str | None = None
    at: float = 0.0


class Fold(msgspec.Struct, frozen=True):
    """An event's upsert went with the call of the `carrier`th event's upsert."""

    kind: Literal["contact", "company"]
    carrier: int


class Coalesced(msgspec.Struct, frozen=True, kw_only=True):
    """The run's plans with their upserts coalesced."""

    plans: tuple[Plan | Skip, ...]
    #: For each event, the upserts of its own that other events' calls carry.
    folded_into: tuple[tuple[Fold, ...], ...]
    #: For each event, whether its upserts carry later events' too.
    carries: tuple[bool, ...]


def coalesce(run: Sequence[RunItem]) -> Coalesced:
    folded_into: list[list[Fold]] = [[] for _ in run]
    contacts: dict[int, list[dict[str, Any]]] = {}
    companies: dict[int, list[TimedBody]] = {}
    # The stretches being merged: the carrier's index and what its stretch is of.
    contact: tuple[int, ContactRef, str | None] | None = None
    company: tuple[int, str] | None = None
    for index, item in enumerate(run):
        if isinstance(item.plan, Skip):
            continue
        for operation in item.plan.operations:
            if isinstance(operation, UpsertContact):
                if (
                    contact is not None
                    and operation.contact == contact[1]
                    and item.visitor in (None, contact[2])
                ):
                    contacts[contact[0]].append(operation.body)
                    folded_into[index].append(Fold("contact", contact[0]))
                else:
                    contact = (index, operation.contact, item.visitor)
                    contacts[index] = []
            elif isinstance(operation, UpsertCompany):
                if company is not None and operation.company_id == company[1]:
                    companies[company[0]].append(TimedBody(at=item.at, body=operation.body))
                    folded_into[index].append(Fold("company", company[0]))
                else:
                    company = (index, operation.company_id)
                    companies[index] = []
    plans = [
        _rebuilt(item.plan, folded_into[index], contacts.get(index), companies.get(index))
        for index, item in enumerate(run)
    ]
    return Coalesced(
        plans=tuple(plans),
        folded_into=tuple(tuple(folds) for folds in folded_into),
        carries=tuple(bool(contacts.get(i)) or bool(companies.get(i)) for i in range(len(run))),
    )


def merge_bodies(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """What sending `earlier` then `later` leaves in Intercom, as one body."""
    merged = {**earlier, **later}
    if "custom_attributes" in earlier and "custom_attributes" in later:
        merged["custom_attributes"] = {
            **earlier["custom_attributes"],
            **later["custom_attributes"],
        }
    return merged


def _rebuilt(
    plan: Plan | Skip,
    folds: list[Fold],
    contact_bodies: list[dict[str, Any]] | None,
    company_bodies: list[TimedBody] | None,
) -> Plan | Skip:
    """`plan` without its upserts other events carry, and carrying the ones it does."""
    if isinstance(plan, Skip) or not (folds or contact_bodies or company_bodies):
        return plan
    gone = {fold.kind for fold in folds}
    operations: list[Operation] = []
    for operation in plan.operations:
        if isinstance(operation, UpsertContact):
            if "contact" in gone:
                continue
            if contact_bodies:
                operation = msgspec.structs.replace(operation, folded=tuple(contact_bodies))
        elif isinstance(operation, UpsertCompany):
            if "company" in gone:
                continue
            if company_bodies:
                operation = msgspec.structs.replace(operation, folded=tuple(company_bodies))
        operations.append(operation)
    return msgspec.structs.replace(plan, operations=tuple(operations))
