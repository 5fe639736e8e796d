"""Which Intercom contact a plan's `ContactRef` is, creating it when that is the job.

The store's identity cache answers first. A user with a userId is created straight away on
a cache miss: when the contact exists already, Intercom's 409 names its id, which is then
updated (unarchived first if need be), so a new user costs one call and a known one two,
never a search (searches lag creation by minutes). A user known only by email is searched
for, and several contacts sharing that email are reported, never guessed between.
"""

from __future__ import annotations

from typing import Any

from intercom_destination.delivery.attempt import DeliveryAttempt
from intercom_destination.delivery.digests import attachments_of
from intercom_destination.intercom import IntercomClient
from intercom_destination.intercom.errors import Conflict, ContactMerged, IntercomError, NotFound
from intercom_destination.mapping import ContactRef
from intercom_destination.settings import UnknownContactPolicy
from intercom_destination.store import Store


class WaitingForContact(Exception):
    """The event needs a contact Intercom does not have yet: it waits for `waiting_for`."""

    def __init__(self, waiting_for: str, reason: str) -> None:
        super().__init__(reason)
        self.waiting_for = waiting_for
        self.reason = reason


class NotVisibleYet(IntercomError):
    """A 409 named no id and the contact cannot be found yet: Intercom's search lags."""

    transient = True


class Refused(Exception):
    """The event cannot be delivered as it is; `reason` says what a person can do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe(ref: ContactRef) -> str:
    kind, key = ref.identity
    return {"external_id": "user", "email": "the contact with email", "anonymous_id": "the lead"}[
        kind
    ] + f" {key!r}"


class Contacts:
    def __init__(
        self, client: IntercomClient, store: Store, *, unknown_contact: UnknownContactPolicy
    ) -> None:
        self._client = client
        self._store = store
        self._unknown_contact = unknown_contact

    async def upsert(
        self,
        attempt: DeliveryAttempt,
        ref: ContactRef,
        body: dict[str, Any],
        *,
        cached: str | None,
        update: dict[str, Any] | None = None,
    ) -> str:
        """Create or update the contact with `body`; its Intercom id. `cached` is its id as
        the identity cache holds it (read with what was delivered for it:
        `Store.contact_record`). `update`, when given, is what the contact Intercom holds
        lacks of `body`: sent instead to the `cached` contact, which holds the rest. Any
        other contact (created, found, merged into) is sent the whole of `body`."""
        kind, key = ref.identity
        if cached is not None:
            sent = body if update is None else update
            try:
                await attempt.call(lambda: self._client.update_contact(cached, sent))
                return cached
            except ContactMerged as merged:
                # Merged into another contact: update that one. When Intercom does not say
                # which, create it anew: the 409 names the contact holding its userId.
                canonical = merged.canonical_id
                if canonical is not None:
                    await attempt.call(lambda: self._client.update_contact(canonical, body))
                    await self._store.put_identity(kind, key, canonical)
                    return canonical
                await self.forget(ref)
            except NotFound:
                # Deleted in Intercom since: forget it and create the contact anew.
                await self.forget(ref)
        if kind == "email":
            found = await self._by_email(attempt, ref, key)
            if found is not None:
                await attempt.call(lambda: self._client.update_contact(found, body))
                await self._store.put_identity(kind, key, found)
                return found
        return await self.create(attempt, ref, body)

    async def create(self, attempt: DeliveryAttempt, ref: ContactRef, body: dict[str, Any]) -> str:
        """Create the contact; one that exists already (a 409) is updated instead."""
        kind, key = ref.identity
        try:
            contact_id = (await attempt.call(lambda: self._client.create_contact(body))).id
        except Conflict as conflict:
            contact_id = conflict.existing_id or await self._find_conflicting(
                attempt, ref, conflict
            )
            if conflict.archived:
                await attempt.call(lambda: self._client.unarchive_contact(contact_id))
            await attempt.call(lambda: self._client.update_contact(contact_id, body))
        await self._store.put_identity(kind, key, contact_id)
        return contact_id

    async def find(self, attempt: DeliveryAttempt, ref: ContactRef) -> str | None:
        """The contact's Intercom id if Intercom has it; never creates it."""
        kind, key = ref.identity
        cached = await self._store.get_identity(kind, key)
        if cached is not None:
            return cached
        found: str | None = None
        if kind == "external_id":
            contact = await attempt.call(lambda: self._client.find_contact_by_external_id(key))
            found = contact.id if contact is not None else None
        elif kind == "email":
            found = await self._by_email(attempt, ref, key)
        if found is not None:
            await self._store.put_identity(kind, key, found)
        return found

    async def ensure(self, attempt: DeliveryAttempt, ref: ContactRef) -> str:
        """The contact's Intercom id; if Intercom does not have it, the `unknown_contact` policy."""
        found = await self.find(attempt, ref)
        if found is not None:
            return found
        return await self.unknown(attempt, ref)

    async def unknown(self, attempt: DeliveryAttempt, ref: ContactRef) -> str:
        """Intercom does not know the contact: wait for it, create it, or give up, as set."""
        match self._unknown_contact:
            case "wait":
                raise WaitingForContact(
                    f"contact:{attempt.lane}",
                    f"Intercom does not know {describe(ref)} yet: waiting for their identify",
                )
            case "create":
                return await self.create(attempt, ref, minimal_body(ref))
            case _:
                raise Refused(
                    f'Intercom does not know {describe(ref)} (unknown_contact = "dead"): send '
                    "their identify first, then replay this event"
                )

    async def forget(self, ref: ContactRef) -> None:
        """Intercom lost the contact: forget its id, and its companies, which went with it
        (the next group call for each attaches it again)."""
        await self._store.delete_identity(*ref.identity)
        await self._store.delete_digests(**attachments_of(ref))

    async def _by_email(self, attempt: DeliveryAttempt, ref: ContactRef, email: str) -> str | None:
        found = await attempt.call(lambda: self._client.contacts_by_email(email))
        matches = [contact for contact in found if contact.role == ref.role]
        if len(matches) > 1:
            raise Refused(
                f"{len(matches)} Intercom contacts have the email {email!r}: refusing to guess "
                "which one this is; send a userId with the event, or merge the duplicates in "
                "Intercom, then replay this event"
            )
        return matches[0].id if matches else None

    async def _find_conflicting(
        self, attempt: DeliveryAttempt, ref: ContactRef, conflict: Conflict
    ) -> str:
        # A 409 without an id in its message: look the contact up once instead.
        found = await self.find(attempt, ref)
        if found is None:
            raise NotVisibleYet(f"409 without a contact id, and no contact found yet: {conflict}")
        return found


def minimal_body(ref: ContactRef) -> dict[str, Any]:
    """The smallest body that creates this contact."""
    body: dict[str, Any] = {"role": ref.role}
    if ref.external_id is not None:
        body["external_id"] = ref.external_id
    if ref.email is not None:
        body["email"] = ref.email
    return body
