"""`plan(event, options)`: a Segment event as the Intercom operations it becomes.

Pure: no network, clock or globals. The same event and options always give the same plan.
"""

from __future__ import annotations

from intercom_destination.mapping.operations import Plan, Skip
from intercom_destination.mapping.options import MappingOptions
from intercom_destination.spec import Alias, Event, Group, Identify, Page, Screen, Track
from tests.mapping.legacy.group import plan_group
from tests.mapping.legacy.identify import plan_identify
from tests.mapping.legacy.integrations import intercom_options, is_enabled
from tests.mapping.legacy.track import plan_data_event


def plan(event: Event, options: MappingOptions) -> Plan | Skip:
    if not is_enabled(event.integrations):
        return Skip(reason="integrations: Intercom is switched off for this event")
    warnings: list[str] = []
    match event:
        case Identify():
            return plan_identify(event, options, intercom_options(event), warnings)
        case Track():
            return plan_data_event(event, event.event, event.properties, options, warnings)
        case Group():
            return plan_group(event, options, warnings)
        case Page() | Screen():
            return _plan_view(event, options, warnings)
        case Alias():
            return Skip(
                reason="alias: Intercom has no alias operation; the userId's own identify "
                "updates the contact"
            )


def _plan_view(event: Page | Screen, options: MappingOptions, warnings: list[str]) -> Plan | Skip:
    noun = "Page" if isinstance(event, Page) else "Screen"
    if not (options.page_events if isinstance(event, Page) else options.screen_events):
        return Skip(
            reason=f"{event.type}: not sent to Intercom "
            f"(set {event.type}_events = true to send it as a 'Viewed … {noun}' event)"
        )
    name = f"Viewed {event.name} {noun}" if event.name else f"Viewed {noun}"
    return plan_data_event(event, name, event.properties, options, warnings)
