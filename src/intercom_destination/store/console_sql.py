"""The console's reads (`protocols.Console`), the same statements on SQLite and PostgreSQL.

Each reads an index or the counters, never the whole outcome log: search walks one index per
key newest first (keyset pagination, not OFFSET), a story looks its messageId up in each
table, dead-letter groups read their partial index, and the overview sums at most a day of
per-minute or a week of per-hour counters.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import msgspec

from intercom_destination.store.base import (
    Attempt,
    Pause,
    Status,
    Trace,
)
from intercom_destination.store.console import (
    ACCEPTED,
    HOUR,
    MINUTE,
    SEARCH_KEYS,
    Count,
    DeadGroup,
    EventQuery,
    EventState,
    Found,
    Overview,
    Page,
    RefusedName,
    Story,
    TracedAttempt,
    Waits,
)
from intercom_destination.store.rows import DEAD, DONE, PARKED, PENDING
from intercom_destination.store.shapes import reason_shape

FOUND_COLUMNS = (
    "id, at, message_id, lane, type, event, user_id, anonymous_id, email, outcome, reason, calls"
)


def outcome_totals(counts: str) -> str:
    """Every outcome recorded, from the counters `counts` names (`Status.outcomes`)."""
    return (
        f"SELECT outcome, sum(events) FROM {counts} WHERE outcome <> '{ACCEPTED}' GROUP BY outcome"
    )


#: Outcomes that end an event's way through the store.
FINISHED = frozenset({"delivered", "skipped", "dead"})
_STATES: dict[int, EventState] = {PENDING: "pending", PARKED: "parked", DEAD: "dead", DONE: "done"}

_history = msgspec.json.Decoder(tuple[Attempt, ...])
_trace = msgspec.json.Decoder(Trace)


class SQLConsole(abc.ABC):
    """`protocols.Console` over the tables both stores share."""

    #: The counters, as a table or a subquery of the columns of `outcome_counts`.
    COUNTS: ClassVar[str] = "outcome_counts"

    @abc.abstractmethod
    async def _read(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """The rows one statement gives."""

    @abc.abstractmethod
    async def status(self, now: float) -> Status: ...

    @abc.abstractmethod
    async def pause(self) -> Pause | None: ...

    @abc.abstractmethod
    async def event_names(self) -> list[str]: ...

    async def overview(self, now: float, window: int) -> Overview:
        step = MINUTE if window <= HOUR else HOUR
        # The window's steps end with the one `now` is in.
        since = (int(now) // step - window // step + 1) * step
        rows = await self._read(
            f"SELECT bucket / %s * %s, type, outcome, sum(events), sum(calls) FROM {self.COUNTS}"
            " WHERE bucket >= %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (step, step, since),
        )
        counts = tuple(
            Count(start=int(start), type=type_, outcome=outcome, events=int(n), calls=int(calls))
            for start, type_, outcome, n, calls in rows
        )
        attributes: dict[str, dict[str, str]] = {}
        for model, name, data_type in await self._read(
            "SELECT model, name, data_type FROM attributes ORDER BY model, name", ()
        ):
            attributes.setdefault(model, {})[name] = data_type
        refused = await self._read(
            "SELECT kind, name, reason, at, times FROM refusals ORDER BY at DESC LIMIT 1000", ()
        )
        return Overview(
            now=now,
            window=window,
            step=step,
            counts=counts,
            calls=sum(count.calls for count in counts if count.outcome != ACCEPTED),
            finished=sum(count.events for count in counts if count.outcome in FINISHED),
            status=await self.status(now),
            pause=await self.pause(),
            event_names=tuple(await self.event_names()),
            attributes=attributes,
            refused=tuple(
                RefusedName(kind=kind, name=name, reason=reason, at=at, times=int(times))
                for kind, name, reason, at, times in refused
            ),
        )

    async def search(self, query: EventQuery) -> Page:
        filters: list[str] = []
        parameters: list[Any] = []
        keys: Sequence[str | None] = [None]
        if query.text:
            keys = [query.key] if query.key else SEARCH_KEYS
        for column, value in (("outcome", query.outcome), ("type", query.type)):
            if value is not None:
                # `|| ''` keeps the planner on the key's index (the outcome has one too).
                filters.append(f"{column} || '' = %s" if query.text else f"{column} = %s")
                parameters.append(value)
        if query.before is not None:
            filters.append("id < %s")
            parameters.append(query.before)
        found: dict[int, Found] = {}
        for key in keys:
            where = list(filters)
            given = list(parameters)
            if key is not None:
                where.insert(0, f"{key} = %s")
                given.insert(0, query.text.strip().lower() if key == "email" else query.text)
            rows = await self._read(
                f"SELECT {FOUND_COLUMNS} FROM outcomes"
                + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY id DESC LIMIT %s",
                (*given, query.limit + 1),
            )
            found.update((row[0], found_row(row)) for row in rows)
        newest = sorted(found.values(), key=lambda row: row.id, reverse=True)
        page = newest[: query.limit]
        more = len(newest) > query.limit
        return Page(rows=tuple(page), next=page[-1].id if more and page else None)

    async def story(self, message_id: str) -> Story | None:
        events = await self._read(
            "SELECT id, lane, type, received_at, body, attempts, state, waiting_for, until,"
            " not_before, CAST(history AS text) FROM events WHERE message_id = %s",
            (message_id,),
        )
        outcomes = await self._read(
            f"SELECT {FOUND_COLUMNS} FROM outcomes WHERE message_id = %s ORDER BY id",
            (message_id,),
        )
        traces = await self._read(
            "SELECT at, body, trace FROM traces WHERE message_id = %s ORDER BY id", (message_id,)
        )
        if not (events or outcomes or traces):
            return None
        [pruned_before] = [
            row[0] for row in await self._read("SELECT traces_before FROM pruned", ())
        ] or [None]
        attempts = tuple(found_row(row) for row in outcomes)
        traced_at = {at for at, _, _ in traces}
        story = Story(
            message_id=message_id,
            state=None,
            lane=attempts[0].lane if attempts else None,
            type=attempts[0].type if attempts else None,
            received_at=None,
            body=bytes(traces[-1][1]) if traces and traces[-1][1] is not None else None,
            attempts=sum(1 for row in attempts if row.outcome != "parked"),
            waits=None,
            history=(),
            outcomes=attempts,
            traces=tuple(
                TracedAttempt(at=at, trace=_trace.decode(trace)) for at, _, trace in traces
            ),
            pruned=pruned_before is not None
            and any(row.at <= pruned_before and row.at not in traced_at for row in attempts),
        )
        if not events:
            return story
        (_, lane, type_, received_at, body, attempts, state, waiting_for, until, not_before,
         history) = events[0]  # fmt: skip
        return msgspec.structs.replace(
            story,
            state=_STATES[state],
            lane=lane,
            type=type_,
            received_at=received_at,
            body=bytes(body) if body is not None else story.body,
            attempts=max(attempts, story.attempts),
            waits=await self._waits(events[0][0], lane, state, waiting_for, until, not_before),
            history=_history.decode(history) if history else (),
        )

    async def _waits(
        self,
        event_id: int,
        lane: str,
        state: int,
        waiting_for: str | None,
        until: float | None,
        not_before: float,
    ) -> Waits | None:
        if state == PARKED:
            return Waits(waiting_for=waiting_for, until=until)
        if state != PENDING:
            return None
        rows = await self._read(
            "SELECT owner, lease_until FROM lanes WHERE lane = %s AND head = %s",
            (lane, event_id),
        )
        owner, leased_until = rows[0] if rows else (None, None)
        return Waits(
            leased_by=owner,
            leased_until=leased_until,
            retry_at=not_before if not_before else None,
        )

    async def dead_groups(self, limit: int = 100) -> list[DeadGroup]:
        # Grouped by reason in SQL (over the dead-letters index), then by shape here: there
        # are far fewer distinct reasons than dead letters.
        rows = await self._read(
            "SELECT reason, count(*), min(finished_at), max(finished_at), min(id) FROM events"
            f" WHERE state = {DEAD} GROUP BY reason",
            (),
        )
        shapes: dict[str, _Gathered] = {}
        for reason, count, first, last, oldest in rows:
            shape = reason_shape(reason)
            gathered = shapes.get(shape)
            shapes[shape] = (
                gathered.add(reason, int(count), first, last, oldest)
                if gathered
                else _Gathered(int(count), first, last, oldest, reason)
            )
        largest = sorted(shapes.items(), key=lambda item: (-item[1].letters, item[0]))[:limit]
        if not largest:
            return []
        samples = dict(
            await self._read(
                "SELECT id, message_id FROM events WHERE id IN ("
                + ", ".join("%s" for _ in largest)
                + ")",
                [gathered.sample_id for _, gathered in largest],
            )
        )
        return [
            DeadGroup(
                shape=shape,
                count=gathered.letters,
                first_died=gathered.first_died,
                last_died=gathered.last_died,
                sample_id=gathered.sample_id,
                sample_message_id=samples[gathered.sample_id],
                sample_reason=gathered.sample_reason,
            )
            for shape, gathered in largest
        ]


class _Gathered(NamedTuple):
    """A dead-letter group as its reasons are folded in; the sample is its oldest letter."""

    letters: int
    first_died: float
    last_died: float
    sample_id: int
    sample_reason: str

    def add(self, reason: str, count: int, first: float, last: float, oldest: int) -> _Gathered:
        older = oldest < self.sample_id
        return _Gathered(
            self.letters + count,
            min(self.first_died, first),
            max(self.last_died, last),
            oldest if older else self.sample_id,
            reason if older else self.sample_reason,
        )


def found_row(row: Sequence[Any]) -> Found:
    """A Found from a row of `FOUND_COLUMNS`."""
    (id_, at, message_id, lane, type_, event, user_id, anonymous_id, email, outcome, reason,
     calls) = row  # fmt: skip
    return Found(
        id=id_,
        at=at,
        message_id=message_id,
        lane=lane,
        type=type_,
        event=event,
        user_id=user_id,
        anonymous_id=anonymous_id,
        email=email,
        outcome=outcome,
        reason=reason,
        calls=calls,
    )
