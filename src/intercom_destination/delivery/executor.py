"""Runs a plan against Intercom and classifies how it ended.

Every outcome is one of delivered, skipped (with the reason), retry (when), park (waiting
for what) or dead (with a reason a person can act on). Operations are idempotent and each
one's success is remembered (digests, identity cache), so an event retried after a partial
failure repeats only what did not happen yet.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import Any

from intercom_destination.delivery.attempt import Attempt
from intercom_destination.delivery.attributes import Attributes
from intercom_destination.delivery.contacts import Contacts, Refused, WaitingForContact, describe
from intercom_destination.delivery.digests import (
    DONE,
    attachment_key,
    company_key,
    contact_key,
    digest,
)
from intercom_destination.delivery.outcomes import Dead, Delivered, Outcome, Park, Retry, Skipped
from intercom_destination.delivery.pacer import Pacer
from intercom_destination.intercom import IntercomClient
from intercom_destination.intercom.errors import (
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
    UpsertCompany,
    UpsertContact,
)
from intercom_destination.settings import Settings
from intercom_destination.spec import Event, Identify
from intercom_destination.store import Model, Store

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
        settings: Settings,
        pacer: Pacer,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        backoff_base: float = BACKOFF_BASE,
    ) -> None:
        self._client = client
        self._store = store
        self._settings = settings
        self._pacer = pacer
        self._clock = clock
        self._rng = rng
        self._backoff_base = backoff_base
        self._contacts = Contacts(client, store, settings)
        self._attributes = Attributes(client, store, settings)

    async def execute(
        self, event: Event, plan: Plan, *, lane: str, attempts: int, received_at: float
    ) -> Outcome:
        """Run `plan` for `event`, which sits in `lane` and was tried `attempts` times before."""
        attempt = Attempt(self._pacer, lane, self._clock(), list(plan.warnings))
        changed = False
        try:
            for operation in plan.operations:
                attempt.step = f"{operation.method} {operation.path}"
                changed |= await self._run(attempt, event, operation)
        except WaitingForContact as waiting:
            return Park(
                waiting_for=waiting.waiting_for,
                until=attempt.now + self._settings.wait_timeout,
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
                reason="unchanged: Intercom already has everything this event says",
                calls=attempt.calls,
                warnings=warnings,
            )
        return Delivered(calls=attempt.calls, warnings=warnings)

    async def _run(self, attempt: Attempt, event: Event, operation: Operation) -> bool:
        """Run one operation; False when it had nothing to change."""
        match operation:
            case UpsertContact():
                changed = await self._upsert_contact(attempt, operation)
                await self._contact_known(attempt, event)
                return changed
            case CreateEvent():
                await self._create_event(attempt, operation)
                return True
            case UpsertCompany():
                return await self._upsert_company(attempt, operation)
            case AttachCompany():
                return await self._attach(attempt, operation)
            case DetachCompany():
                return await self._detach(attempt, operation)

    async def _upsert_contact(self, attempt: Attempt, operation: UpsertContact) -> bool:
        body = await self._attributes.admit(attempt, "contact", operation.body)
        key = contact_key(operation.contact)
        fingerprint = digest(body)
        if await self._store.get_digest(key) == fingerprint:
            return False
        try:
            await self._contacts.upsert(attempt, operation.contact, body)
        except UnknownCustomAttribute:
            body = await self._readmit(attempt, "contact", operation.body)
            await self._contacts.upsert(attempt, operation.contact, body)
        await self._store.put_digest(key, fingerprint)
        return True

    async def _contact_known(self, attempt: Attempt, event: Event) -> None:
        """The contact exists now: events that waited for it go next, before the lane's others."""
        await self._store.unpark(lane=attempt.lane, now=attempt.now)
        user_id = event.user_id if isinstance(event, Identify) else None
        if user_id and event.anonymous_id and event.anonymous_id != user_id:
            await self._store.link(event.anonymous_id, user_id, now=attempt.now)

    async def _create_event(self, attempt: Attempt, operation: CreateEvent) -> None:
        name = operation.body["event_name"]
        if not await self._store.add_event_name(
            event_name_key(name), budget=self._settings.max_event_names
        ):
            raise Refused(event_budget_reason(name, self._settings.max_event_names))
        contact = self._linked(attempt, operation.contact)
        body = await self._event_body(attempt, contact, operation.body)
        try:
            await attempt.call(lambda: self._client.create_event(body))
        except NotFound:
            await self._contacts.unknown(attempt, contact)
            await attempt.call(lambda: self._client.create_event(body))
        except EventNameLimit:
            raise Refused(event_budget_reason(name, None)) from None

    async def _event_body(
        self, attempt: Attempt, contact: ContactRef, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The event's body naming its contact as Intercom can find it."""
        named = {k: v for k, v in body.items() if k not in ("id", "user_id", "email")}
        if contact.external_id is not None:
            return {**named, "user_id": contact.external_id}
        if contact.email is not None:
            return {**named, "email": contact.email}
        # A lead: Intercom finds leads by their Intercom id only.
        contact_id = await self._contacts.find(attempt, contact)
        if contact_id is None:
            contact_id = await self._contacts.create(attempt, contact, {"role": "lead"})
        return {**named, "id": contact_id}

    async def _upsert_company(self, attempt: Attempt, operation: UpsertCompany) -> bool:
        body = await self._attributes.admit(attempt, "company", operation.body)
        key = company_key(operation.company_id)
        fingerprint = digest(body)
        known = await self._store.get_identity("company_id", operation.company_id)
        if known is not None and await self._store.get_digest(key) == fingerprint:
            return False
        try:
            company = await attempt.call(lambda: self._client.upsert_company(body))
        except UnknownCustomAttribute:
            body = await self._readmit(attempt, "company", operation.body)
            company = await attempt.call(lambda: self._client.upsert_company(body))
        await self._store.put_identity("company_id", operation.company_id, company.id)
        await self._store.put_digest(key, fingerprint)
        return True

    async def _attach(self, attempt: Attempt, operation: AttachCompany) -> bool:
        contact = self._linked(attempt, operation.contact)
        key = attachment_key(contact, operation.company_id)
        if await self._store.get_digest(key) == DONE:
            return False
        contact_id = await self._contacts.ensure(attempt, contact)
        company_id = await self._company_id(attempt, operation.company_id)
        try:
            await attempt.call(lambda: self._client.attach_company(contact_id, company_id))
        except NotFound as missing:
            # A cached id Intercom no longer has: look both up again, then try once more.
            if missing.resource == "company":
                await self._store.delete_identity("company_id", operation.company_id)
                company_id = await self._company_id(attempt, operation.company_id)
            else:
                await self._contacts.forget(contact)
                contact_id = await self._contacts.ensure(attempt, contact)
            await attempt.call(lambda: self._client.attach_company(contact_id, company_id))
        await self._store.put_digest(key, DONE)
        return True

    async def _detach(self, attempt: Attempt, operation: DetachCompany) -> bool:
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

    async def _company_id(self, attempt: Attempt, company_id: str) -> str:
        """The company's Intercom id; a company Intercom lacks is created with its id alone."""
        cached = await self._store.get_identity("company_id", company_id)
        if cached is not None:
            return cached
        company = await attempt.call(lambda: self._client.get_company_by_company_id(company_id))
        if company is None:
            company = await attempt.call(
                lambda: self._client.upsert_company({"company_id": company_id})
            )
        await self._store.put_identity("company_id", company_id, company.id)
        return company.id

    async def _readmit(
        self, attempt: Attempt, model: Model, body: dict[str, Any]
    ) -> dict[str, Any]:
        # Intercom lacks an attribute we believed it had: learn its attributes afresh.
        await self._attributes.refresh(attempt, model)
        return await self._attributes.admit(attempt, model, body)

    def _linked(self, attempt: Attempt, contact: ContactRef) -> ContactRef:
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
        self, attempt: Attempt, error: IntercomError, attempts: int, received_at: float
    ) -> Outcome:
        reason = f"{attempt.step}: {error}"
        if isinstance(error, RateLimited):
            pause = await self._store.pause()
            at = pause.until if pause is not None else attempt.now
            return Retry(at=at, reason=reason, calls=attempt.calls)
        if isinstance(error, Misconfigured):
            # Every event would fail the same way: every lane waits, and the worker says why.
            halt = configuration_problem(error)
            until = attempt.now + AUTH_PAUSE
            await self._store.pause_until(until, halt)
            return Retry(at=until, reason=reason, calls=attempt.calls, halt=halt)
        if error.transient:
            age = attempt.now - received_at
            if age > self._settings.retry_for:
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
