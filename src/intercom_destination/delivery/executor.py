"""Runs a plan against Intercom and classifies how it ended.

Every outcome is one of delivered, skipped (with the reason), retry (when), park (waiting
for what) or dead (with a reason a person can act on). Operations are idempotent and each
one's success is remembered (digests, identity cache), so an event retried after a partial
failure repeats only what did not happen yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from intercom_destination.delivery.attempt import DeliveryAttempt
from intercom_destination.delivery.attributes import Attributes
from intercom_destination.delivery.companies import Companies
from intercom_destination.delivery.contacts import Contacts, Refused, WaitingForContact, describe
from intercom_destination.delivery.digests import (
    DONE,
    attachment_key,
    attachments_to,
    changes,
    contact_key,
    decode_body,
    digest,
    encode_body,
)
from intercom_destination.delivery.options import DeliveryOptions
from intercom_destination.delivery.outcomes import Dead, Delivered, Outcome, Park, Retry, Skipped
from intercom_destination.delivery.pacer import Pacer
from intercom_destination.delivery.traces import refused
from intercom_destination.delivery.visitors import link_visitor
from intercom_destination.delivery.workspace import Workspace
from intercom_destination.intercom import IntercomClient
from intercom_destination.intercom.errors import (
    ContactMerged,
    EventNameLimit,
    IntercomError,
    Misconfigured,
    NotFound,
    RateLimited,
    UnknownCustomAttribute,
    configuration_problem,
)
from intercom_destination.mapping import (
    AttachCompany,
    ContactRef,
    CreateEvent,
    DetachCompany,
    Operation,
    Plan,
    TimedBody,
    UpsertCompany,
    UpsertContact,
)
from intercom_destination.mapping.coalesce import merge_bodies
from intercom_destination.mapping.contacts import CONTACT_ID, identity_fields
from intercom_destination.spec import Event
from intercom_destination.store import ContactRecord, Model, Store

UNCHANGED = "unchanged: Intercom already has everything this event says"
#: After a 401 or 403 (or a request that cannot be sent) every worker pauses this long, then
#: tries once more.
AUTH_PAUSE = 60.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0


class Executor:
    def __init__(
        self,
        client: IntercomClient,
        store: Store,
        options: DeliveryOptions,
        pacer: Pacer,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_base: float = BACKOFF_BASE,
        auth_pause: float = AUTH_PAUSE,
    ) -> None:
        self._client = client
        self._store = store
        self._options = options
        self._pacer = pacer
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._auth_pause = auth_pause
        self._contacts = Contacts(client, store, unknown_contact=options.unknown_contact)
        self._attributes = Attributes(
            client,
            store,
            auto_create_attributes=options.auto_create_attributes,
            max_custom_attributes=options.max_custom_attributes,
        )
        self._companies = Companies(client, store, self._attributes)
        self._workspace = Workspace(client, store)
        #: Event names Intercom accepted an event with, as this process saw: they keep their
        #: slot for good, so their events need no reservation in the store.
        self._accepted_names: set[str] = set()

    async def execute(
        self,
        event: Event,
        plan: Plan,
        *,
        lane: str,
        attempts: int,
        received_at: float,
        parked: bool = True,
    ) -> Outcome:
        """Run `plan` for `event`, which sits in `lane` and was tried `attempts` times before;
        `parked` False when no event of the lane is parked (`Lease.parked`)."""
        attempt = DeliveryAttempt(
            self._pacer, lane, self._clock(), list(plan.warnings), parked=parked
        )
        changed = False
        try:
            attempt.step = "GET /me"
            await self._workspace.claim(attempt)
            for operation in plan.operations:
                attempt.step = f"{operation.method} {operation.path}"
                changed |= await self._run(attempt, event, operation)
        except WaitingForContact as waiting:
            return Park(
                waiting_for=waiting.waiting_for,
                until=attempt.now + self._options.wait_timeout,
                reason=waiting.reason,
                calls=attempt.calls,
            )
        except Refused as refused:
            return Dead(reason=refused.reason, calls=attempt.calls)
        except IntercomError as error:
            return await self._failure(attempt, error, attempts, received_at)
        warnings = tuple(attempt.warnings)
        if not changed:
            return Skipped(
                reason=UNCHANGED,
                calls=attempt.calls,
                warnings=warnings,
                reordered=attempt.reordered,
            )
        return Delivered(calls=attempt.calls, warnings=warnings, reordered=attempt.reordered)

    async def _run(self, attempt: DeliveryAttempt, event: Event, operation: Operation) -> bool:
        """Run one operation; False when it had nothing to change."""
        match operation:
            case UpsertContact():
                changed = await self._upsert_contact(attempt, operation)
                await self._contact_known(attempt, event)
                return changed
            case CreateEvent():
                await self._create_named_event(attempt, operation)
                return True
            case UpsertCompany():
                return await self._upsert_company(attempt, event, operation)
            case AttachCompany():
                return await self._attach(attempt, operation)
            case DetachCompany():
                return await self._detach(attempt, operation)

    async def _upsert_contact(self, attempt: DeliveryAttempt, operation: UpsertContact) -> bool:
        """Have Intercom hold what the upsert (and those folded into it) says: an update
        sends what differs from what Intercom holds, a create the contact's whole state."""
        key = contact_key(operation.contact)
        for refreshed in (False, True):
            record = await self._store.contact_record(*operation.contact.identity, key)
            change = await self._contact_change(attempt, operation, record)
            if change is None:
                return False
            state, update = change
            try:
                await self._contacts.upsert(
                    attempt, operation.contact, state, cached=record.intercom_id, update=update
                )
                break
            except UnknownCustomAttribute:
                if refreshed:
                    raise
                await self._attributes.refresh(attempt, "contact")
        fingerprint = digest(state, self._options.last_seen_precision)
        await self._store.put_digest(key, fingerprint, encode_body(state))
        return True

    async def _contact_change(
        self, attempt: DeliveryAttempt, operation: UpsertContact, record: ContactRecord
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The contact's state once Intercom holds the upsert, and the update that brings
        the state Intercom holds (`record`) to it (None: the whole state); None when it
        holds it all."""
        body = await self._admitted(attempt, "contact", (operation.body, *operation.folded))
        if record.body is None:
            # Nothing kept beyond a digest (a store from before bodies were), or nothing at all.
            if record.digest == digest(body, self._options.last_seen_precision):
                return None
            return body, None
        held = decode_body(record.body)
        update = changes(held, body, self._options.last_seen_precision)
        return (merge_bodies(held, body), update) if update else None

    async def _admitted(
        self, attempt: DeliveryAttempt, model: Model, bodies: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """The bodies merged in order, each admitted on its own first, as one-by-one delivery
        would: a new attribute takes the type of the first value it is given."""
        merged: dict[str, Any] = {}
        for body in bodies:
            merged = merge_bodies(merged, await self._attributes.admit(attempt, model, body))
        return merged

    async def _contact_known(self, attempt: DeliveryAttempt, event: Event) -> None:
        """The contact exists now: events that waited for it go next, before the lane's others."""
        unparked = 0
        if attempt.parked:
            unparked = await self._store.unpark(lane=attempt.lane, now=attempt.now)
        moved = await self.link_visitor(event)
        attempt.reordered |= bool(unparked or moved)

    async def link_visitor(self, event: Event) -> int:
        """Merge the lane of the anonymous visitor `event` names into their user's (an
        identify once its contact exists, an alias as it comes); how many events moved."""
        return await link_visitor(
            self._store,
            event,
            patience=self._options.lease_for,
            clock=self._clock,
            sleep=self._sleep,
        )

    async def _create_named_event(self, attempt: DeliveryAttempt, operation: CreateEvent) -> None:
        """Create the event within the event-name budget: a new name reserves a slot while
        its event is sent, and keeps it only once Intercom has accepted the event. An event
        that must wait for its contact reserves nothing: it is judged when it can be sent."""
        await self._behind_waiting(attempt)
        contact = self._linked(attempt, operation.contact)
        name = operation.body["event_name"]
        key = event_name_key(name)
        if key in self._accepted_names:
            await self._create_event(attempt, operation, contact)
            return
        if not await self._store.add_event_name(key, budget=self._options.max_event_names):
            reason = event_budget_reason(name, self._options.max_event_names)
            refused("event_name", name, reason)
            raise Refused(reason)
        try:
            await self._create_event(attempt, operation, contact)
        except Exception:
            await self._store.release_event_name(key)
            raise
        await self._store.accept_event_name(key)
        self._accepted_names.add(key)

    async def _create_event(
        self, attempt: DeliveryAttempt, operation: CreateEvent, contact: ContactRef
    ) -> None:
        name = operation.body["event_name"]
        body = await self._event_body(attempt, contact, operation.body)
        try:
            await attempt.call(lambda: self._client.create_event(body))
        except NotFound:
            if await self._recreate(attempt, contact) is None:
                await self._contacts.unknown(attempt, contact)
            body = await self._event_body(attempt, contact, operation.body)
            await attempt.call(lambda: self._client.create_event(body))
        except EventNameLimit:
            reason = event_budget_reason(name, None)
            refused("event_name", name, reason)
            raise Refused(reason) from None

    async def _behind_waiting(self, attempt: DeliveryAttempt) -> None:
        """A person's events reach Intercom in the order they happened: while an earlier event
        of the lane waits for its contact, a later one waits behind it rather than overtake it
        (a visitor's track naming an email Intercom has come to know since, say)."""
        if not attempt.parked:
            return
        waiting_for = await self._store.waiting_in(attempt.lane)
        if waiting_for is not None:
            raise WaitingForContact(
                waiting_for,
                f"an earlier event of {attempt.lane!r} waits for {waiting_for}: this one waits "
                "behind it, to reach Intercom after it",
            )

    async def _recreate(self, attempt: DeliveryAttempt, contact: ContactRef) -> str | None:
        """Intercom has lost a contact the cache knew (deleted, merged away): forget its id
        and create it again from the body last delivered for it; None if none was."""
        await self._contacts.forget(contact)
        last = await self._store.last_body(contact_key(contact))
        if last is None:
            return None
        body = await self._attributes.admit(attempt, "contact", decode_body(last))
        return await self._contacts.create(attempt, contact, body)

    async def _event_body(
        self, attempt: DeliveryAttempt, contact: ContactRef, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The event's body as planned, with `CONTACT_ID` resolved: a visitor linked since is
        named as their user (`_linked`), a lead by its Intercom id."""
        if body.get("id") != CONTACT_ID:
            return body
        unnamed = {k: v for k, v in body.items() if k != "id"}
        if contact.role == "user":
            return {**unnamed, **identity_fields(contact)}
        # A lead: Intercom finds leads by their Intercom id only.
        contact_id = await self._contacts.find(attempt, contact)
        if contact_id is None:
            contact_id = await self._contacts.create(attempt, contact, {"role": "lead"})
        return {**unnamed, "id": contact_id}

    async def _upsert_company(
        self, attempt: DeliveryAttempt, event: Event, operation: UpsertCompany
    ) -> bool:
        # Other users' lanes write the same company: the event's time orders their writes.
        own = TimedBody(at=event.timestamp.timestamp(), body=operation.body)
        # Each admitted on its own, as one by one (see `_admitted`).
        admitted = [
            TimedBody(at=part.at, body=await self._attributes.admit(attempt, "company", part.body))
            for part in (own, *operation.folded)
        ]
        return await self._companies.upsert(attempt, operation.company_id, admitted)

    async def _attach(self, attempt: DeliveryAttempt, operation: AttachCompany) -> bool:
        contact = self._linked(attempt, operation.contact)
        key = attachment_key(contact, operation.company_id)
        if await self._store.get_digest(key) == DONE:
            return False
        contact_id = await self._contacts.ensure(attempt, contact)
        company_id = await self._company_id(attempt, operation.company_id)
        try:
            await attempt.call(lambda: self._client.attach_company(contact_id, company_id))
        except (NotFound, ContactMerged) as missing:
            # A cached id Intercom no longer has: rebuild or look it up again, then try once more.
            if isinstance(missing, NotFound) and missing.resource == "company":
                await self._store.delete_identity("company_id", operation.company_id)
                await self._store.delete_digests(**attachments_to(operation.company_id))
                company_id = await self._company_id(attempt, operation.company_id)
            else:
                contact_id = await self._recreate(attempt, contact) or await self._contacts.ensure(
                    attempt, contact
                )
            await attempt.call(lambda: self._client.attach_company(contact_id, company_id))
        await self._store.put_digest(key, DONE)
        return True

    async def _detach(self, attempt: DeliveryAttempt, operation: DetachCompany) -> bool:
        contact = self._linked(attempt, operation.contact)
        contact_id = await self._contacts.find(attempt, contact)
        company_id = await self._store.get_identity("company_id", operation.company_id)
        if company_id is None:
            company = await attempt.call(
                lambda: self._client.get_company_by_company_id(operation.company_id)
            )
            company_id = company.id if company is not None else None
        if contact_id is None or company_id is None:
            attempt.warnings.append(
                f"{describe(contact)} was not attached to company {operation.company_id!r}"
            )
            return False
        with contextlib.suppress(NotFound):  # not attached: what leaving asks for
            await attempt.call(lambda: self._client.detach_company(contact_id, company_id))
        await self._store.put_digest(attachment_key(contact, operation.company_id), b"")
        return True

    async def _company_id(self, attempt: DeliveryAttempt, company_id: str) -> str:
        """The company's Intercom id; a company Intercom lacks is created with its id alone."""
        cached = await self._store.get_identity("company_id", company_id)
        if cached is not None:
            return cached
        company = await attempt.call(lambda: self._client.get_company_by_company_id(company_id))
        if company is None:
            body = await self._company_body(attempt, company_id)
            company = await attempt.call(lambda: self._client.upsert_company(body))
        await self._store.put_identity("company_id", company_id, company.id)
        return company.id

    async def _company_body(self, attempt: DeliveryAttempt, company_id: str) -> dict[str, Any]:
        """What creates a company Intercom lacks: its merged state (it was deleted since),
        else its id alone."""
        last = await self._companies.last_body(company_id)
        if last is None:
            return {"company_id": company_id}
        return await self._attributes.admit(attempt, "company", last)

    def _linked(self, attempt: DeliveryAttempt, contact: ContactRef) -> ContactRef:
        """An anonymous visitor's user, once an identify linked them (their lanes merged);
        until then the event waits for that identify."""
        if contact.role != "user" or contact.external_id or contact.email:
            return contact
        if contact.anonymous_id is not None and attempt.lane != contact.anonymous_id:
            return ContactRef(role="user", external_id=attempt.lane)
        raise WaitingForContact(
            f"anonymous:{contact.anonymous_id}",
            f"anonymous visitor {contact.anonymous_id!r} is not identified yet: waiting for an "
            "identify (or alias) that names their userId",
        )

    async def _failure(
        self, attempt: DeliveryAttempt, error: IntercomError, attempts: int, received_at: float
    ) -> Outcome:
        reason = f"{attempt.step}: {error}"
        if isinstance(error, RateLimited):
            pause = await self._store.pause()
            at = pause.until if pause is not None else attempt.now
            return Retry(at=at, reason=reason, calls=attempt.calls)
        if isinstance(error, Misconfigured):
            # Every event would fail the same way: every lane waits, and the worker says why.
            halt = configuration_problem(error)
            until = attempt.now + self._auth_pause
            await self._store.pause_until(until, halt)
            return Retry(at=until, reason=reason, calls=attempt.calls, halt=halt)
        if error.transient:
            age = attempt.now - received_at
            if age > self._options.retry_for:
                return Dead(
                    reason=f"gave up after {attempts + 1} attempts over {age / 3600:.1f} hours "
                    f"(retry_for); the last failure was {reason}",
                    calls=attempt.calls,
                )
            delay = min(BACKOFF_CAP, self._backoff_base * 2**attempts) * self._rng.uniform(0.5, 1.0)
            return Retry(at=attempt.now + delay, reason=reason, calls=attempt.calls)
        return Dead(reason=f"Intercom refused {reason}", calls=attempt.calls)


def event_name_key(name: str) -> str:
    """An event name as Intercom counts it: case-insensitive, `.` and `$` read as `-`."""
    return name.casefold().replace(".", "-").replace("$", "-")


def event_budget_reason(name: str, budget: int | None) -> str:
    full = "Intercom refused a new event name: the workspace has its 120 active event names"
    if budget is not None:
        full = f"the workspace's event-name budget is full ({budget} names, max_event_names)"
    return (
        f"event {name!r} was not sent: {full}. Archive unused events in Intercom (Settings > "
        "Data > Events) or raise max_event_names, then replay this dead letter"
    )
