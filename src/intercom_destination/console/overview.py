"""The overview: how deliveries go over the last hour, day or week, and the budgets.

Pure: the store's `Overview` and the settings in, one document out, which the page renders
and `/api/overview` encodes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Literal

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request

from intercom_destination.console.views import iso
from intercom_destination.settings import Settings
from intercom_destination.store.console import ACCEPTED, Overview, RefusedName

WindowName = Literal["hour", "day", "week"]
WINDOWS: dict[WindowName, int] = {"hour": 3600, "day": 86400, "week": 7 * 86400}

#: The chart's lines, and the outcomes each counts: an attempt that ended waiting (for a
#: retry, or for its contact) is counted as waiting.
SERIES: dict[str, tuple[str, ...]] = {
    "accepted": (ACCEPTED,),
    "delivered": ("delivered",),
    "skipped": ("skipped",),
    "waiting": ("retry", "parked"),
    "dead": ("dead",),
}
_SERIES_OF = {outcome: name for name, outcomes in SERIES.items() for outcome in outcomes}

#: Calls per 10-second window Intercom allows a private app unless it says otherwise; the
#: destination uses `rate_share` of it (see delivery's pacer).
INTERCOM_RATE_LIMIT = 1666
RATE_WINDOW = 10.0


def window_of(request: Request) -> WindowName:
    """The `window` a request asks for (`hour` unless it says); a 400 naming it otherwise."""
    window = request.query_params.get("window", "hour")
    if window not in WINDOWS:
        raise HTTPException(400, f"window: {window!r} is not one of {', '.join(WINDOWS)}")
    return window


class Budget(msgspec.Struct, frozen=True):
    used: int
    max: int
    #: The names in use (event names, or custom attributes with their Intercom data type).
    names: list[str]
    #: What the budget refused: event names not sent, attributes dropped.
    refused: list[RefusedName]


class Paused(msgspec.Struct, frozen=True):
    until: str
    reason: str | None


class OverviewView(msgspec.Struct, frozen=True, kw_only=True):
    window: WindowName
    step: int
    #: The start of each step of the chart (Unix seconds), and each series' counts by step.
    starts: list[int]
    series: dict[str, list[int]]
    #: Events of the window by series, in all and by type.
    totals: dict[str, int]
    by_type: dict[str, dict[str, int]]
    calls: int
    calls_per_event: float | None
    #: The share of the rate budget (`rate_share` of Intercom's limit) the window's calls used.
    rate_budget_used: float
    backlog: int
    lanes: int
    in_flight: int
    parked: int
    dead: int
    oldest_waiting_age: float | None
    event_names: Budget
    attributes: dict[str, Budget]
    paused: Paused | None


def overview_view(overview: Overview, settings: Settings, window: WindowName) -> OverviewView:
    step = overview.step
    first = int(overview.now - overview.window) // step * step
    starts = list(range(first, int(overview.now) + 1, step))
    index = {start: i for i, start in enumerate(starts)}
    series = {name: [0] * len(starts) for name in SERIES}
    totals: Counter[str] = Counter()
    by_type: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for count in overview.counts:
        name = _SERIES_OF.get(count.outcome)
        if name is None:
            continue
        if count.start in index:
            series[name][index[count.start]] += count.events
        totals[name] += count.events
        by_type[count.type][name] += count.events
    refused = {kind: [r for r in overview.refused if r.kind == kind] for kind in _REFUSALS}
    pause = overview.pause
    budget_rate = settings.rate_share * INTERCOM_RATE_LIMIT / RATE_WINDOW
    return OverviewView(
        window=window,
        step=step,
        starts=starts,
        series=series,
        totals={name: totals[name] for name in SERIES},
        by_type={kind: {n: counts[n] for n in SERIES} for kind, counts in sorted(by_type.items())},
        calls=overview.calls,
        calls_per_event=overview.calls_per_event,
        rate_budget_used=overview.rate_share(budget_rate),
        backlog=overview.status.backlog,
        lanes=overview.status.lanes,
        in_flight=overview.status.in_flight,
        parked=overview.status.parked,
        dead=overview.status.dead,
        oldest_waiting_age=overview.status.oldest_pending_age,
        event_names=Budget(
            len(overview.event_names),
            settings.max_event_names,
            list(overview.event_names),
            refused["event_name"],
        ),
        attributes={
            model: Budget(
                len(known),
                settings.max_custom_attributes,
                [f"{name} ({data_type})" for name, data_type in sorted(known.items())],
                refused[f"{model}_attribute"],
            )
            for model, known in (
                ("contact", overview.attributes.get("contact", {})),
                ("company", overview.attributes.get("company", {})),
            )
        },
        paused=(
            Paused(iso(pause.until), pause.reason)
            if pause is not None and pause.until > overview.now
            else None
        ),
    )


_REFUSALS = ("event_name", "contact_attribute", "company_attribute")
