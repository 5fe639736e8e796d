"""`deadletter`: events that could not be delivered, why, and putting them back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import msgspec

from intercom_destination.commands.formats import iso
from intercom_destination.settings import Settings
from intercom_destination.store import DeadLetter, DeadLetters, open_store

PAGE = 500

Echo = Callable[[str], None]


class Changed(msgspec.Struct, frozen=True):
    """How many dead letters a replay or purge took, and the ids that named none."""

    count: int
    missing: list[int]


async def list_dead_letters(settings: Settings, *, as_json: bool, echo: Echo) -> int:
    """One line per dead letter: id, messageId, type, lane, died at, reason; how many."""
    count = 0
    async with await open_store(settings.database_url, create=False) as store:
        async for letter in _all(store):
            count += 1
            fields = summary(letter)
            if as_json:
                echo(msgspec.json.encode(fields).decode())
            else:
                echo("  ".join(" ".join(str(value).split()) for value in fields.values()))
    return count


async def show(settings: Settings, event_id: int, *, as_json: bool, echo: Echo) -> bool:
    """Print one dead letter with its event and every attempt; False if there is none."""
    async with await open_store(settings.database_url, create=False) as store:
        letter = await store.dead_letter(event_id)
    if letter is None:
        return False
    fields = detail(letter)
    if as_json:
        echo(msgspec.json.encode(fields).decode())
        return True
    echo(f"dead letter {event_id}")
    for name in ("messageId", "type", "lane", "receivedAt", "diedAt", "reason"):
        echo(f"  {name}: {fields[name]}")
    echo(f"  attempts ({len(letter.history)}):")
    for attempt in fields["attempts"]:
        echo(f"    {attempt['at']}  {attempt['outcome']}")
    echo("  event:")
    event = msgspec.json.format(msgspec.json.encode(fields["event"]), indent=2).decode()
    for line in event.splitlines():
        echo(f"    {line}")
    return True


async def replay(settings: Settings, event_ids: Sequence[int] | None, *, now: float) -> Changed:
    """Put dead letters (all, or those named) back at the front of their lanes, in order."""
    return await _change(settings, event_ids, lambda store, ids: store.replay(ids, now=now))


async def purge(settings: Settings, event_ids: Sequence[int] | None) -> Changed:
    """Delete dead letters (all, or those named) for good."""
    return await _change(settings, event_ids, lambda store, ids: store.purge(ids))


async def _change(
    settings: Settings,
    event_ids: Sequence[int] | None,
    action: Callable[[DeadLetters, Sequence[int] | None], Awaitable[int]],
) -> Changed:
    async with await open_store(settings.database_url, create=False) as store:
        if event_ids is None:
            return Changed(await action(store, None), [])
        missing = [i for i in event_ids if await store.dead_letter(i) is None]
        found = [i for i in event_ids if i not in missing]
        return Changed(await action(store, found) if found else 0, missing)


def summary(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as `deadletter list --json` prints it."""
    event = letter.event
    return {
        "id": event.id,
        "messageId": event.message_id,
        "type": event.type,
        "lane": event.lane,
        "diedAt": iso(letter.died_at),
        "reason": letter.reason,
    }


def detail(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as `deadletter show --json` prints it: its event and every attempt."""
    return {
        **summary(letter),
        "receivedAt": iso(letter.event.received_at),
        "attempts": [{"at": iso(a.at), "outcome": a.outcome} for a in letter.history],
        "event": _event(letter.event.body),
    }


async def _all(store: DeadLetters) -> AsyncIterator[DeadLetter]:
    after = 0
    while page := await store.dead_letters(PAGE, after_id=after):
        for letter in page:
            yield letter
        after = page[-1].event.id


def _event(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        # What was stored is shown as it is, even when it is not JSON.
        return body.decode("utf-8", errors="replace")
