"""`trace MESSAGE_ID`: one event's story, for a terminal: the event as received, where it is
and what it waits for, and each attempt with its outcome, plan and Intercom's answers."""

from __future__ import annotations

from intercom_destination.commands.formats import iso
from intercom_destination.settings import Settings
from intercom_destination.store import Found, Story, TracedAttempt, Waits, open_store

_STATES = {
    "pending": "waiting in its lane",
    "parked": "set aside, waiting",
    "dead": "a dead letter",
    "done": "finished",
}


async def story(settings: Settings, message_id: str) -> Story | None:
    async with await open_store(settings.database_url, create=False) as store:
        return await store.story(message_id)


def render(story: Story) -> str:
    lines = [f"event     {story.message_id}" + (f" ({story.type})" if story.type else "")]
    if story.received_at is not None:
        lines.append(f"received  {iso(story.received_at)}")
    if story.lane is not None:
        lines.append(f"lane      {story.lane}")
    state = _STATES[story.state] if story.state else "no longer in the store"
    lines.append(f"state     {state}")
    lines += _waits(story.waits)
    if story.body is not None:
        lines.append(f"as received  {story.body.decode('utf-8', 'replace')}")
    traces = {attempt.at: attempt for attempt in story.traces}
    for number, row in enumerate(story.outcomes, 1):
        lines += _attempt(number, row, traces.get(row.at))
    if story.history and story.state == "dead":
        lines.append("dead-letter history")
        lines += [f"  {iso(attempt.at)}  {attempt.outcome}" for attempt in story.history]
    if story.pruned:
        lines.append("traces    the traces of its older attempts were pruned")
    elif not story.outcomes:
        lines.append("attempts  none yet")
    return "\n".join(lines)


def _waits(waits: Waits | None) -> list[str]:
    if waits is None:
        return []
    lines = []
    if waits.waiting_for is not None:
        until = f" until {iso(waits.until)}" if waits.until is not None else ""
        lines.append(f"waits for {waits.waiting_for}{until}")
    if waits.leased_by is not None and waits.leased_until is not None:
        lines.append(f"leased    by {waits.leased_by} until {iso(waits.leased_until)}")
    if waits.retry_at is not None:
        lines.append(f"retry at  {iso(waits.retry_at)}")
    return lines


def _attempt(number: int, row: Found, traced: TracedAttempt | None) -> list[str]:
    calls = "1 call" if row.calls == 1 else f"{row.calls} calls"
    outcome = f"{row.outcome}, {calls}" + (f": {row.reason}" if row.reason else "")
    lines = [f"attempt {number}  {iso(row.at)}  {outcome}"]
    if traced is None:
        return lines
    trace = traced.trace
    if trace.skip_reason is not None:
        lines.append(f"  skipped   {trace.skip_reason}")
    for operation in trace.operations:
        lines.append(f"  plan      {operation.get('method')} {operation.get('path')}")
    lines += [f"  warning   {warning}" for warning in trace.warnings]
    for call in trace.calls:
        status = "no answer" if call.status is None else str(call.status)
        request_id = f"  request {call.request_id}" if call.request_id else ""
        lines.append(
            f"  {call.method} {call.path}  {status}  {call.duration * 1000:.0f} ms{request_id}"
        )
        if call.body is not None:
            lines.append(f"    sent      {call.body}")
        if call.error is not None:
            lines.append(f"    answered  {call.error}")
    lines += [f"  refused   {r.kind} {r.name!r}: {r.reason}" for r in trace.refusals]
    return lines
