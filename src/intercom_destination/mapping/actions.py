"""The actions an event can trigger, each a table of fields with a default trigger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from intercom_destination.mapping import group, identify, track
from intercom_destination.mapping.company import COMPANY_IDENTIFIERS
from intercom_destination.mapping.fields import Field, Fields
from intercom_destination.mapping.operations import Plan, Skip
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec import Event

#: An action's code: the event as operations, every value read through `Fields`.
Planner = Callable[[Event, MappingOptions, Fields, list[str]], Plan | Skip]


@dataclass(frozen=True)
class Action:
    name: str
    #: What it does in Intercom, for people.
    summary: str
    fields: tuple[Field, ...]
    #: The trigger a workspace starts with (`page_events` and `screen_events` widen
    #: track_event's).
    trigger: str
    plan: Planner
    #: Keys of the mapped object that name it rather than describe it: never custom values.
    identifiers: frozenset[str] = frozenset()
    #: The object a `@path` into it names, for the keys a field reads.
    subject: str = "traits"

    def compile(self, sources: dict[str, object]) -> Fields:
        return Fields(self.fields, sources, self.identifiers, self.subject)


ACTIONS = {
    action.name: action
    for action in (
        Action(
            "identify_contact",
            "create or update the contact (a user by external_id, or a lead), then upsert and "
            "attach its companies",
            identify.FIELDS,
            'type = "identify"',
            identify.plan_identify,
            identify.IDENTIFIERS,
        ),
        Action(
            "track_event",
            "create a data event on the contact",
            track.FIELDS,
            'type = "track"',
            track.plan_track,
            subject="properties",
        ),
        Action(
            "group_company",
            "create or update the company, then attach the user to it",
            group.FIELDS,
            'type = "group"',
            group.plan_group,
            COMPANY_IDENTIFIERS,
        ),
    )
}


def default_trigger(action: Action, *, page_events: bool, screen_events: bool) -> str:
    """An action's trigger unless the settings replace it: track_event also takes pages and
    screens when `page_events` / `screen_events` ask for them."""
    if action.name != "track_event":
        return action.trigger
    kinds = ["track"]
    if page_events:
        kinds.append("page")
    if screen_events:
        kinds.append("screen")
    return " or ".join(f'type = "{kind}"' for kind in kinds)
