"""Company upserts that leave each company as its newest events say, though lanes race.

Each lane delivers its user's events in order, but many lanes write one company at once, so
an older group call can reach Intercom after a newer one. An upsert therefore merges the
event (and the upserts coalesced with it, each at its own event's time) into the company's
merged state (`company_state`), and:

- merges by compare-and-set on the record's version, so of two workers merging at once
  neither loses the other's fields;
- sends nothing when the merge changed no value and Intercom was sent the state already
  (an older event that a newer one superseded, or a repeated group call);
- sends only the fields whose values differ from the record's `confirmed` state, the state
  of the last version whose send was confirmed as the latest (the whole state to a company
  the identity cache does not know, or that Intercom created anew: it holds nothing else);
- after Intercom answers, marks that version synced (and confirmed) only if it is still the
  latest. When a newer version was saved meanwhile, this send may have reached Intercom
  after the newer one's and undone it, so the newest state is sent again, as a difference
  from the confirmed state that also names every field the sends before it named;
- withdraws what the event added when Intercom refuses the state for good (400/422), so that
  one bad value does not make every later call for the company fail too.

Why racing lanes still end with the newest values, field by field, though each send names
only some fields:

1. Only the latest version can be confirmed, so confirmed versions only grow; a send reads
   its version's state and the confirmed state in one read, after its version was saved.
2. Take the last send to reach Intercom that names a field f. Its confirmation succeeded:
   had it failed, its worker's re-send, which names f again, would reach Intercom later.
   So Intercom ends holding f as that send's version v says, v being the latest version
   when the send was confirmed, after it reached Intercom.
3. The newest version N is confirmed (the worker that saved it stops only at a confirmed
   send, and only the latest version can be; a version that only moved times is saved
   synced, its values those of a confirmed one, and stands for it). The first send
   confirming a version u was a difference from the version c(u) < u confirmed when it
   read: a field it did not name has the same value in u as in c(u). Follow N, c(N),
   c(c(N)), ... back to the first version w whose confirming send named f: f's value in N
   is its value in w.
4. w's send reached Intercom no later than the last send naming f, and v was the latest
   version when that one was confirmed, after it reached Intercom: v ≥ w. If v is on the
   chain between w and N, f kept its value from w to v. Otherwise c(u) < v < u for a
   version u of the chain: v was not confirmed when u's first confirming send read (c(u)
   was), so v was confirmed later, when u, newer, existed already, which cannot be.

So f ends as N says, provided each worker finishes its loop: one that dies between a send
and its confirmation, or whose re-send fails, leaves what its send wrote until a later event
changes those fields, as whole-state sends did. The confirmed state is what the destination
sent, as the contacts' stored bodies are: a company changed in Intercom by other means is not
corrected until an event changes the field's value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

from intercom_destination.delivery import company_state
from intercom_destination.delivery.attempt import DeliveryAttempt
from intercom_destination.delivery.attributes import Attributes
from intercom_destination.delivery.company_state import CompanyState
from intercom_destination.delivery.digests import attachments_to
from intercom_destination.intercom import IntercomClient
from intercom_destination.intercom.errors import UnknownCustomAttribute, ValidationFailed
from intercom_destination.mapping import TimedBody
from intercom_destination.store import CompanyRecord, Store

_EMPTY = CompanyState()


class Companies:
    def __init__(self, client: IntercomClient, store: Store, attributes: Attributes) -> None:
        self._client = client
        self._store = store
        self._attributes = attributes

    async def upsert(
        self, attempt: DeliveryAttempt, company_id: str, upserts: Sequence[TimedBody]
    ) -> bool:
        """Merge the `upserts` (bodies, each with its event's time) into the company, in
        order, and have Intercom hold the result; False when it held it already."""
        record = await self._change(
            company_id,
            lambda state: reduce(lambda s, u: company_state.merge(s, u.at, u.body), upserts, state),
        )
        known = await self._store.get_identity("company_id", company_id)
        if record.synced and known is not None:
            return False
        try:
            return await self._sync(attempt, company_id, record, known)
        except ValidationFailed:
            # Refused for good: what these events added must not ride along with later ones.
            await self._change(
                company_id,
                lambda state: reduce(
                    lambda s, u: company_state.withdraw(s, u.at, u.body), upserts, state
                ),
            )
            raise

    async def last_body(self, company_id: str) -> dict[str, Any] | None:
        """The company's merged state as an upsert body; None before any event named it."""
        record = await self._store.company_record(company_id)
        if record is None:
            return None
        return company_state.body(company_id, company_state.decode(record.state))

    async def _sync(
        self, attempt: DeliveryAttempt, company_id: str, record: CompanyRecord, known: str | None
    ) -> bool:
        """Send the record's state until the version sent is still the latest once answered;
        False when Intercom held every value already and nothing was sent."""
        whole = known is None
        named: dict[str, Any] = {}
        called = False
        while True:
            confirmed = None if whole or record.confirmed is None else record.confirmed
            body = company_state.changes(
                company_id,
                company_state.decode(record.state),
                None if confirmed is None else company_state.decode(confirmed),
                covering=named,
            )
            if whole or len(body) > 1:
                company = await self._send(attempt, body)
                called = True
                named = body
                if company != known:
                    await self._store.put_identity("company_id", company_id, company)
                    if known is not None:
                        # Created anew (deleted in Intercom since): it holds only this body,
                        # and none of the contacts attached to the old one.
                        await self._store.delete_digests(**attachments_to(company_id))
                        if not whole:
                            known, whole = company, True
                            continue
                    known = company
            if await self._store.company_synced(company_id, record.version):
                return called
            latest = await self._store.company_record(company_id)
            assert latest is not None, "a company's record is never deleted"
            record = latest

    async def _change(
        self, company_id: str, change: Callable[[CompanyState], CompanyState]
    ) -> CompanyRecord:
        """The company's record with its state changed; saved (by compare-and-set, read again
        when another write came first) unless that changed nothing."""
        while True:
            record = await self._store.company_record(company_id)
            before = _EMPTY if record is None else company_state.decode(record.state)
            after = change(before)
            if record is not None and after == before:
                return record
            changed = CompanyRecord(
                version=1 if record is None else record.version + 1,
                # Newer times for the same values: Intercom holds them if it held the old.
                synced=record is not None
                and record.synced
                and not company_state.values_differ(before, after),
                state=company_state.encode(after),
                confirmed=None if record is None else record.confirmed,
            )
            if await self._store.save_company_record(company_id, changed):
                return changed

    async def _send(self, attempt: DeliveryAttempt, body: dict[str, Any]) -> str:
        """Upsert the company with `body`; its Intercom id."""
        # Admitted when merged, but the workspace's attributes may have changed since.
        body = await self._attributes.admit(attempt, "company", body)
        try:
            company = await attempt.call(lambda: self._client.upsert_company(body))
        except UnknownCustomAttribute:
            body = await self._attributes.readmit(attempt, "company", body)
            company = await attempt.call(lambda: self._client.upsert_company(body))
        return company.id
