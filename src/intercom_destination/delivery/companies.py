"""Company upserts that leave each company as its newest events say, though lanes race.

Each lane delivers its user's events in order, but many lanes write one company at once, so
an older group call can reach Intercom after a newer one. An upsert therefore merges the
event (and the upserts coalesced with it, each at its own event's time) into the company's
merged state (`company_state`), sends that state, not the event's body alone, and:

- merges the event into the state the store keeps, by compare-and-set on its version, so of
  two workers merging at once neither loses the other's fields;
- sends nothing when the merge changed no value and Intercom was sent the state already
  (an older event that a newer one superseded, or a repeated group call);
- after Intercom answers, marks that version synced only if it is still the latest. When a
  newer version was saved meanwhile, this send may have reached Intercom after the newer
  one's and undone it, so the newest state is sent again: whichever send lands last, the
  worker that hears last sends the newest state;
- withdraws what the event added when Intercom refuses the state for good (400/422), so that
  one bad value does not make every later call for the company fail too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

from intercom_destination.delivery import company_state
from intercom_destination.delivery.attempt import DeliveryAttempt
from intercom_destination.delivery.attributes import Attributes
from intercom_destination.delivery.company_state import CompanyState
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
            await self._sync(attempt, company_id, record, known)
        except ValidationFailed:
            # Refused for good: what these events added must not ride along with later ones.
            await self._change(
                company_id,
                lambda state: reduce(
                    lambda s, u: company_state.withdraw(s, u.at, u.body), upserts, state
                ),
            )
            raise
        return True

    async def last_body(self, company_id: str) -> dict[str, Any] | None:
        """The company's merged state as an upsert body; None before any event named it."""
        record = await self._store.company_record(company_id)
        if record is None:
            return None
        return company_state.body(company_id, company_state.decode(record.state))

    async def _sync(
        self, attempt: DeliveryAttempt, company_id: str, record: CompanyRecord, known: str | None
    ) -> None:
        """Send the record's state until the version sent is still the latest once answered."""
        while True:
            company = await self._send(attempt, company_id, record)
            if company != known:
                await self._store.put_identity("company_id", company_id, company)
                known = company
            if await self._store.company_synced(company_id, record.version):
                return
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
            )
            if await self._store.save_company_record(company_id, changed):
                return changed

    async def _send(self, attempt: DeliveryAttempt, company_id: str, record: CompanyRecord) -> str:
        """Upsert the record's state; the company's Intercom id."""
        body = company_state.body(company_id, company_state.decode(record.state))
        # Admitted when merged, but the workspace's attributes may have changed since.
        body = await self._attributes.admit(attempt, "company", body)
        try:
            company = await attempt.call(lambda: self._client.upsert_company(body))
        except UnknownCustomAttribute:
            body = await self._attributes.readmit(attempt, "company", body)
            company = await attempt.call(lambda: self._client.upsert_company(body))
        return company.id
