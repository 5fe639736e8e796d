"""Custom attributes: only ones the workspace has are written.

Intercom rejects a write naming an attribute it does not have. The workspace's attributes
are read from Intercom once per process (and kept in the store for `status`); an unknown one
is created with the type its value implies while `auto_create_attributes` is on and the
workspace is under `max_custom_attributes` (attributes cannot be deleted), and dropped with
a warning otherwise. A name Intercom uses for a standard attribute (`role`, `os`, ...) can
never be a custom one: it is dropped with a warning, without asking. A value of the wrong
type is converted when that loses nothing, else dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from intercom_destination.delivery.attempt import DeliveryAttempt
from intercom_destination.delivery.conversions import convert, implied_type
from intercom_destination.delivery.traces import refused
from intercom_destination.intercom import IntercomClient
from intercom_destination.intercom.errors import ValidationFailed
from intercom_destination.store import Model, Store


class Attributes:
    def __init__(
        self,
        client: IntercomClient,
        store: Store,
        *,
        auto_create_attributes: bool,
        max_custom_attributes: int,
    ) -> None:
        self._client = client
        self._store = store
        self._auto_create = auto_create_attributes
        self._budget = max_custom_attributes
        self._lock = asyncio.Lock()
        #: Custom attribute name → data type, per model, once read from Intercom.
        self._custom: dict[Model, dict[str, str]] = {}
        #: Names that cannot be custom attributes, and why (standard ones, refused ones).
        self._unusable: dict[Model, dict[str, str]] = {}

    async def admit(
        self, attempt: DeliveryAttempt, model: Model, body: dict[str, Any]
    ) -> dict[str, Any]:
        """`body` with its custom attributes limited to what the workspace can take."""
        custom = body.get("custom_attributes")
        if not custom:
            return body
        known = await self._known(attempt, model)
        kept: dict[str, Any] = {}
        for name, value in custom.items():
            data_type = known.get(name)
            if data_type is None:
                # One at a time, so that two lanes never create the same attribute.
                async with self._lock:
                    data_type = known.get(name) or await self._create(attempt, model, name, value)
                if data_type is None:
                    continue
            ok, converted = convert(value, data_type)
            if ok:
                kept[name] = converted
            else:
                _dropped(
                    attempt,
                    model,
                    name,
                    f"{value!r} is not a {data_type}, the attribute's type in Intercom",
                )
        admitted = {key: value for key, value in body.items() if key != "custom_attributes"}
        if kept:
            admitted["custom_attributes"] = kept
        return admitted

    async def readmit(
        self, attempt: DeliveryAttempt, model: Model, body: dict[str, Any]
    ) -> dict[str, Any]:
        """`admit` after reading the attributes afresh: Intercom lacks one we believed it had."""
        await self.refresh(attempt, model)
        return await self.admit(attempt, model, body)

    async def refresh(self, attempt: DeliveryAttempt, model: Model) -> None:
        """Read the workspace's attributes again (Intercom refused one we thought it had)."""
        listed = await attempt.call(lambda: self._client.list_data_attributes(model))
        custom = {a.name: a.data_type or "string" for a in listed if a.custom and not a.archived}
        self._custom[model] = custom
        self._unusable[model] = {
            a.name.casefold(): "it is one of Intercom's standard attributes; rename the trait"
            for a in listed
            if not a.custom
        }
        await self._store.replace_attributes(model, custom)

    async def _known(self, attempt: DeliveryAttempt, model: Model) -> dict[str, str]:
        async with self._lock:
            if model not in self._custom:
                await self.refresh(attempt, model)
        return self._custom[model]

    async def _create(
        self, attempt: DeliveryAttempt, model: Model, name: str, value: Any
    ) -> str | None:
        unusable = self._unusable.setdefault(model, {}).get(name.casefold())
        if unusable is None:
            unusable = self._cannot_create(model, value)
        if unusable is not None:
            if value is not None:
                _dropped(attempt, model, name, unusable)
            return None
        data_type = implied_type(value)
        try:
            await attempt.call(lambda: self._client.create_data_attribute(name, model, data_type))
        except ValidationFailed as error:
            reason = f"Intercom would not create it ({error})"
            self._unusable[model][name.casefold()] = reason
            _dropped(attempt, model, name, reason)
            return None
        self._custom[model][name] = data_type
        await self._store.add_attribute(model, name, data_type)
        return data_type

    def _cannot_create(self, model: Model, value: Any) -> str | None:
        if value is None:
            return "null"
        if not self._auto_create:
            return "it does not exist in Intercom and auto_create_attributes is off"
        count = len(self._custom[model])
        if count >= self._budget:
            return (
                f"the workspace has {count} custom attributes, which is the "
                "max_custom_attributes budget"
            )
        return None


def _dropped(attempt: DeliveryAttempt, model: Model, name: str, reason: str) -> None:
    attempt.warnings.append(f"{model} attribute {name!r} dropped: {reason}")
    refused("contact_attribute" if model == "contact" else "company_attribute", name, reason)
