"""The delivery loop: lease lanes, plan and execute each lane's head event, record the outcome.

Many lanes are in flight at once (`concurrency`), one event per lane, so one user's events
arrive in order while a slow or failing user holds up only their own lane. Leases are
extended while an event is being worked on; a crashed process's leases expire and another
worker takes its lanes (delivery is at-least-once, and every operation is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import NamedTuple

import msgspec

from intercom_destination.delivery.executor import UNCHANGED, Executor
from intercom_destination.delivery.metrics import DeliveryMetrics
from intercom_destination.delivery.outcomes import Dead, Delivered, Outcome, Park, Retry, Skipped
from intercom_destination.delivery.pauses import Pauses
from intercom_destination.delivery.traces import TraceRecorder, start_trace
from intercom_destination.delivery.visitors import named_visitor
from intercom_destination.mapping import MappingOptions, Plan, Skip, plan
from intercom_destination.mapping.coalesce import RunItem, coalesce
from intercom_destination.spec import Alias, Event, Identify, InvalidEvent, decode_event
from intercom_destination.store import (
    Finished,
    Lease,
    LeaseLost,
    Parked,
    Store,
    StoredEvent,
    Trace,
)

log = logging.getLogger(__name__)

#: How long an idle worker waits before asking for ready lanes again.
IDLE_POLL = 0.05
MAX_IDLE_POLL = 1.0
UPKEEP_EVERY = 30.0
#: How long a worker waits after the store failed before it asks again.
STORE_RETRY = 5.0
#: Events behind a lane's head a lease hands out with it, to deliver as one run: enough for
#: a user's backlog to coalesce, few enough that a lane's run holds its worker briefly.
RUN_BEHIND = 49
_NOTHING = Skip(reason="not planned")


class Ended(NamedTuple):
    """One event of a run that ended: how, and its attempt's trace."""

    stored: StoredEvent
    outcome: Outcome
    trace: Trace


class Halted(Exception):
    """Delivery cannot go on until a person changes the settings; the message says what."""


class Worker:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        mapping: MappingOptions,
        *,
        concurrency: int,
        lease_for: float,
        clock: Callable[[], float],
        pauses: Pauses,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        worker_id: str | None = None,
        metrics: DeliveryMetrics | None = None,
        store_retry: float = STORE_RETRY,
    ) -> None:
        self._store = store
        self._store_retry = store_retry
        self._metrics = metrics
        self._executor = executor
        self._mapping = mapping
        self._concurrency = concurrency
        self._lease_for = lease_for
        self._clock = clock
        self._sleep = sleep
        self._pauses = pauses
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self._in_flight: set[asyncio.Task[None]] = set()
        self._last_upkeep = 0.0
        #: The latest outcome that halted every lane, until `run` logs it or `drain` stops.
        self._halted: Retry | None = None

    async def run(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Deliver until `stop` is set; then finish the events in flight.

        Idle, the worker asks the store for ready lanes at growing intervals, and at once
        when an event in flight is finished (its lane may have another ready). Code that
        enqueues in the same process sets `wake` to have it ask at once too.
        """
        events = [stop] if wake is None else [stop, wake]
        idle = IDLE_POLL
        while not stop.is_set():
            if wake is not None:
                wake.clear()
            self._report_halt()
            try:
                started = await self.step()
            except Exception:
                # The store is down (a database restart, a full disk): nothing is lost,
                # since nothing was taken from it; wait, then ask again.
                log.exception("the store failed; trying again in %.0f s", self._store_retry)
                await self._idle(events, timeout=self._store_retry)
                continue
            if started:
                idle = IDLE_POLL
                continue
            await self._idle(events, timeout=idle)
            idle = min(MAX_IDLE_POLL, idle * 2)
        await self.settle()
        self._report_halt()

    async def drain(self) -> None:
        """Deliver until no event is pending: every one delivered, skipped, dead, or parked
        waiting for its contact (backfills, tests). Waits out retries on the way, but not a
        halt: Halted as soon as Intercom refuses the token (or a request cannot be sent), the
        events in flight let go (their leases expire) and every event left in the store."""
        idle = IDLE_POLL
        while True:
            if self._halted is not None:
                # Taken, so that a drain after the token is fixed goes on.
                halted, self._halted = self._halted, None
                await self._abandon()
                raise Halted(halted.halt)
            if await self.step():
                idle = IDLE_POLL
            elif self._in_flight:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            elif (await self._store.status(self._clock())).backlog:
                await self._sleep(idle)
                idle = min(MAX_IDLE_POLL, idle * 2)
            else:
                return

    async def step(self) -> int:
        """Start work on as many ready lanes as there is room for; how many were started."""
        if len(self._in_flight) >= self._concurrency:
            # Full: lease as soon as an event ends, as a step that starts nothing has its
            # caller idle though lanes may be ready.
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        now = self._clock()
        if now - self._last_upkeep >= UPKEEP_EVERY:
            self._last_upkeep = now
            await self.upkeep(now)
        room = self._concurrency - len(self._in_flight)
        leases = await self._store.lease(
            self.worker_id, room, self._lease_for, now, following=RUN_BEHIND
        )
        for lease in leases:
            task = asyncio.create_task(self._process(lease))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(leases)

    async def _idle(self, events: list[asyncio.Event], timeout: float) -> None:
        """Wait until one of `events` is set, an event in flight is finished, or `timeout`."""
        waiters = [asyncio.create_task(event.wait()) for event in events]
        try:
            await asyncio.wait(
                [*waiters, *self._in_flight], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def settle(self) -> None:
        if self._in_flight:
            await asyncio.wait(self._in_flight)

    async def _abandon(self) -> None:
        """Stop work on the events in flight: those waiting out the halt's pause would hold
        a stop up for as long. A request on its way is answered first, and recorded."""
        with self._pauses.interrupted():
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _report_halt(self) -> None:
        # Once per halted attempt, not once per lane: the others wait for the pause it set.
        if self._halted is not None:
            log.error(
                "%s; every lane waits until %s, then tries again",
                self._halted.halt,
                datetime.fromtimestamp(self._halted.at, UTC).isoformat(timespec="seconds"),
            )
            self._halted = None

    async def upkeep(self, now: float) -> None:
        """Dead-letter events that waited too long; forget what is no longer needed."""
        for parked in await self._store.expired_parked(now):
            await self._store.dead_parked(parked.event.id, waited_too_long(parked), now=now)
        while await self._store.prune(now) > 0:
            pass

    async def _process(self, lease: Lease) -> None:
        keeper = asyncio.create_task(self._keep(lease))
        results: list[Ended] = []
        try:
            try:
                await self._attempt_run(lease, results)
            except BaseException:
                if results:
                    # Stopped mid-run (a halt interrupted it, or a bug): the events already
                    # delivered are recorded, and the next one waits for the lease to expire.
                    finished = [_finished(ended) for ended in results]
                    done = [each for each in finished if each is not None]
                    await self._store.finish_many(lease, done, now=self._clock(), keep=True)
                raise
            finally:
                keeper.cancel()
            await self._record_run(lease, results)
        except LeaseLost:
            # The lease expired and another worker took the lane: the event is delivered
            # from there.
            log.info("lane %r changed hands while its head was being delivered", lease.lane)
        except Exception:
            # A bug must not take the worker down with it: the lease expires and the event
            # is tried again, and the log says why.
            log.exception("delivering event %s failed unexpectedly", lease.event.message_id)

    async def _attempt_run(self, lease: Lease, results: list[Ended]) -> None:
        """Deliver the lease's head and the events behind it, in order, their contact and
        company updates coalesced (`mapping.coalesce`); stop at the first that is not
        delivered or skipped, or that put events back into the lane ahead of the rest. Each
        event's outcome and trace are added to `results` as it ends."""
        stored_events = (lease.event, *lease.following)
        prepared = [self._prepare(stored) for stored in stored_events]
        coalesced = coalesce(
            [
                # An event that cannot be planned sends nothing, and ends the run.
                RunItem(plan=_NOTHING)
                if isinstance(ready, Dead)
                else RunItem(
                    plan=ready[1], visitor=_visitor(ready[0]), at=ready[0].timestamp.timestamp()
                )
                for ready in prepared
            ]
        )
        for index, (stored, ready) in enumerate(zip(stored_events, prepared, strict=True)):
            if index and not isinstance(ready, Dead) and _links_lane(ready[0], lease.lane):
                # It would merge this very lane into its user's, taking the lease with it:
                # what the run delivered is recorded first, and it goes as the next head.
                return
            alone = False
            # Each event's requests are traced on their own, the task running them in turn.
            recorder = start_trace()
            if isinstance(ready, Dead):
                outcome: Outcome = ready
            else:
                event, planned = ready
                outcome = await self._deliver(
                    lease, stored, event, coalesced.plans[index], recorder
                )
                if isinstance(outcome, Dead) and coalesced.carries[index]:
                    # Refused with later events' values merged in: the event alone may pass.
                    # The run ends with it, so that the later ones, whose values Intercom
                    # did not take, are planned and sent again in the next.
                    outcome = await self._deliver(lease, stored, event, planned, recorder)
                    alone = True
                for fold in coalesced.folded_into[index]:
                    outcome = _folded(outcome, fold.kind, results[fold.carrier])
            results.append(Ended(stored, outcome, _trace(outcome, recorder)))
            if alone or not isinstance(outcome, Delivered | Skipped) or outcome.reordered:
                return

    def _prepare(self, stored: StoredEvent) -> tuple[Event, Plan | Skip] | Dead:
        """The stored event decoded and planned, or why it cannot be."""
        received_at = datetime.fromtimestamp(stored.received_at, UTC)
        try:
            obj = msgspec.json.decode(stored.body)
        except msgspec.DecodeError as error:
            return Dead(reason=f"the stored event is not JSON: {error}", calls=0)
        if not isinstance(obj, dict):
            return Dead(reason="the stored event is not a JSON object", calls=0)
        event = decode_event(
            obj, received_at=received_at, make_message_id=lambda: stored.message_id
        )
        if isinstance(event, InvalidEvent):
            return Dead(reason=f"the stored event is invalid: {event}", calls=0)
        return event, plan(event, self._mapping)

    async def _deliver(
        self,
        lease: Lease,
        stored: StoredEvent,
        event: Event,
        planned: Plan | Skip,
        recorder: TraceRecorder,
    ) -> Outcome:
        moved = 0
        if isinstance(event, Alias):
            # Intercom has no alias; here it links an anonymous visitor to their user, whose
            # waiting events follow.
            moved = await self._executor.link_visitor(event)
        if isinstance(planned, Skip):
            return Skipped(reason=planned.reason, warnings=planned.warnings, reordered=moved > 0)
        recorder.planned(planned)
        return await self._executor.execute(
            event,
            planned,
            lane=lease.lane,
            attempts=stored.attempts,
            received_at=stored.received_at,
            parked=lease.parked,
        )

    async def _record_run(self, lease: Lease, results: list[Ended]) -> None:
        """Record a run's outcomes: the delivered and skipped events leave the lane together,
        and the one that ended the run otherwise (a retry, a park, a dead letter) after them."""
        finished = [_finished(ended) for ended in results]
        done = [each for each in finished if each is not None]
        last = results[-1]
        if self._metrics is not None:
            for each in done:
                self._metrics.outcomes.labels(each.outcome).inc()
        if finished[-1] is not None:
            await self._store.finish_many(lease, done, now=self._clock())
            return
        kept: Lease | None = lease
        if done:
            kept = await self._store.finish_many(lease, done, now=self._clock(), keep=True)
        if kept is None or kept.event.id != last.stored.id:
            # Events were put in front of it meanwhile (a replay): the lease expires, and
            # the event is tried again after them.
            log.info("lane %r changed while its run was delivered", lease.lane)
            return
        await self._record(kept, last)

    async def _record(self, lease: Lease, ended: Ended) -> None:
        """Record the outcome of an event that was neither delivered nor skipped."""
        outcome, trace = ended.outcome, ended.trace
        now = self._clock()
        match outcome:
            case Retry():
                await self._store.retry(
                    lease,
                    outcome.at,
                    outcome.reason,
                    now=now,
                    calls=outcome.calls,
                    trace=trace,
                )
                if outcome.halt is not None:
                    self._halted = outcome
            case Park():
                await self._store.park(
                    lease,
                    outcome.waiting_for,
                    outcome.until,
                    now=now,
                    calls=outcome.calls,
                    trace=trace,
                    reason=outcome.reason,
                )
            case Dead():
                log.warning("event %s is dead: %s", lease.event.message_id, outcome.reason)
                await self._store.dead(
                    lease, outcome.reason, now=now, calls=outcome.calls, trace=trace
                )
        if self._metrics is not None:
            self._metrics.outcomes.labels(outcome.name).inc()

    async def _keep(self, lease: Lease) -> None:
        """Extend the lease while the event is worked on (pacing can make that slow)."""
        with contextlib.suppress(LeaseLost):
            while True:
                await self._sleep(self._lease_for / 3)
                lease = await self._store.extend(lease, self._lease_for, self._clock())


def waited_too_long(parked: Parked) -> str:
    kind, _, key = parked.waiting_for.partition(":")
    waited = "an identify (or alias) naming the userId of anonymous visitor"
    if kind == "contact":
        waited = "the identify of user"
    return (
        f"waited until the wait_timeout for {waited} {key!r}, which never came: Intercom cannot "
        "attach an event to a person it does not know. Send that identify, then replay this event"
    )


def _note(warnings: tuple[str, ...]) -> str | None:
    return "; ".join(warnings) or None


def _visitor(event: Event) -> str | None:
    """The anonymous visitor an identify links to its user once its contact exists."""
    named = named_visitor(event)
    return named[0] if named is not None and isinstance(event, Identify) else None


def _links_lane(event: Event, lane: str) -> bool:
    """Whether `event` names the visitor whose lane is `lane` as a user's."""
    named = named_visitor(event)
    return named is not None and named[0] == lane


def _folded(outcome: Outcome, kind: str, carrier: Ended) -> Outcome:
    """The outcome of an event whose `kind` (contact, company) update went with `carrier`'s
    call: delivered when that call was made (a note names the carrier), unchanged when it was
    not needed."""
    carried_by, carried = carrier.stored, carrier.outcome
    if (
        isinstance(outcome, Skipped)
        and outcome.reason == UNCHANGED
        and isinstance(carried, Delivered)
    ):
        note = f"its {kind} update went with the call of event {carried_by.message_id}"
        return Delivered(
            calls=outcome.calls, warnings=(*outcome.warnings, note), reordered=outcome.reordered
        )
    return outcome


def _trace(outcome: Outcome, recorder: TraceRecorder) -> Trace:
    match outcome:
        case Delivered():
            return recorder.trace(outcome.warnings)
        case Skipped():
            return recorder.trace(outcome.warnings, skip_reason=outcome.reason)
    return recorder.trace()


def _finished(ended: Ended) -> Finished | None:
    stored, outcome, trace = ended
    match outcome:
        case Delivered():
            return Finished(
                event=stored,
                outcome="delivered",
                reason=_note(outcome.warnings),
                calls=outcome.calls,
                trace=trace,
            )
        case Skipped():
            reason = "; ".join((outcome.reason, *outcome.warnings))
            return Finished(
                event=stored, outcome="skipped", reason=reason, calls=outcome.calls, trace=trace
            )
    return None
