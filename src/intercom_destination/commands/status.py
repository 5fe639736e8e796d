"""`status`: the store's lanes, backlog and outcomes, and the workspace budgets, at a glance."""

from __future__ import annotations

from datetime import datetime

import msgspec

from intercom_destination.commands.feed import FINISHED
from intercom_destination.commands.formats import duration, iso
from intercom_destination.settings import Settings
from intercom_destination.store import Store, open_store, store_name

#: Outcome log rows `calls_per_event` is measured over.
CALLS_SAMPLE = 1000


class Budget(msgspec.Struct, frozen=True):
    known: int
    max: int


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """`status --json`: one document, its fields documented in docs/operations.md."""

    store: str
    lanes: int
    in_flight: int
    backlog: int
    oldest_pending_age: float | None
    parked: int
    dead: int
    outcomes: dict[str, int]
    calls_per_event: float | None
    event_names: Budget
    attributes: dict[str, Budget]
    paused: bool
    paused_until: str | None
    paused_reason: str | None


async def report(settings: Settings, now: float) -> Report:
    async with await open_store(settings.database_url, create=False) as store:
        return await _report(store, settings, now)


async def _report(store: Store, settings: Settings, now: float) -> Report:
    status = await store.status(now)
    rows = await store.outcomes(CALLS_SAMPLE)
    finished = sum(1 for row in rows if row.outcome in FINISHED)
    pause = await store.pause()
    if pause is not None and pause.until <= now:
        pause = None
    attributes = {
        model: Budget(len(await store.attributes(model)), settings.max_custom_attributes)
        for model in ("contact", "company")
    }
    return Report(
        store=store_name(settings.database_url),
        lanes=status.lanes,
        in_flight=status.in_flight,
        backlog=status.backlog,
        oldest_pending_age=status.oldest_pending_age,
        parked=status.parked,
        dead=status.dead,
        outcomes=status.outcomes,
        calls_per_event=sum(row.calls for row in rows) / finished if finished else None,
        event_names=Budget(await store.count_event_names(), settings.max_event_names),
        attributes=attributes,
        paused=pause is not None,
        paused_until=iso(pause.until) if pause is not None else None,
        paused_reason=pause.reason if pause is not None else None,
    )


def render(report: Report, now: float) -> str:
    age = report.oldest_pending_age
    backlog = f"{report.backlog} events"
    if age is not None:
        backlog += f", the oldest received {duration(age)} ago"
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(report.outcomes.items()))
    calls = report.calls_per_event
    attributes = ", ".join(
        f"{model} {budget.known} of {budget.max}" for model, budget in report.attributes.items()
    )
    delivery = "running"
    if report.paused_until is not None:
        until = datetime.fromisoformat(report.paused_until).timestamp()
        delivery = f"paused until {report.paused_until} ({duration(until - now)} from now)"
        if report.paused_reason is not None:
            delivery += f": {report.paused_reason}"
    rows = [
        ("store", report.store),
        ("lanes", f"{report.lanes} with pending events, {report.in_flight} in flight"),
        ("backlog", backlog),
        ("parked", f"{report.parked} waiting for their contact"),
        ("dead", f"{report.dead} dead letters"),
        ("outcomes", outcomes or "none yet"),
        (
            "calls/event",
            f"{calls:.2f} over the latest {CALLS_SAMPLE:,} outcomes"
            if calls is not None
            else "none yet",
        ),
        (
            "event names",
            f"{report.event_names.known} of {report.event_names.max} (max_event_names)",
        ),
        ("attributes", f"{attributes} (max_custom_attributes)"),
        ("delivery", delivery),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
