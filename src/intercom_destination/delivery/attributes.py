"""Custom attributes: only ones the workspace has are written.

Intercom rejects a write naming an attribute it does not have. Known attributes are read
from Intercom once and kept in the store; an unknown one is created with the type its value
implies while `auto_create_attributes` is on and the workspace is under
`max_custom_attributes` (attributes cannot be deleted), and dropped with a warning
otherwise. A value of the wrong type is converted when that loses nothing, else dropped.
"""

from __future__ import annotations

from typing import Any

from intercom_destination.delivery.attempt import Attempt
from intercom_destination.delivery.conversions import convert, implied_type
from intercom_destination.intercom import IntercomClient
from intercom_destination.intercom.errors import ValidationFailed
from intercom_destination.settings import Settings
from intercom_destination.store import Model, Store


class Attributes:
    def __init__(self, client: IntercomClient, store: Store, settings: Settings) -> None:
        self._client = client
        self._store = store
        self._settings = settings
        self._loaded: set[Model] = set()

    async def admit(self, attempt: Attempt, model: Model, body: dict[str, Any]) -> dict[str, Any]:
        """`body` with its custom attributes limited to what the workspace can take."""
        custom = body.get("custom_attributes")
        if not custom:
            return body
        known = await self._known(attempt, model)
        kept: dict[str, Any] = {}
        for name, value in custom.items():
            data_type = known.get(name)
            if data_type is None:
                data_type = await self._create(attempt, model, name, value, len(known))
                if data_type is None:
                    continue
                known[name] = data_type
            ok, converted = convert(value, data_type)
            if ok:
                kept[name] = converted
            else:
                attempt.warnings.append(
                    f"{model} attribute {name!r} dropped: {value!r} is not a {data_type}, "
                    "the attribute's type in Intercom"
                )
        admitted = {key: value for key, value in body.items() if key != "custom_attributes"}
        if kept:
            admitted["custom_attributes"] = kept
        return admitted

    async def refresh(self, attempt: Attempt, model: Model) -> None:
        """Read the workspace's attributes again (Intercom refused one we thought it had)."""
        listed = await attempt.call(lambda: self._client.list_data_attributes(model))
        await self._store.replace_attributes(
            model,
            {a.name: a.data_type or "string" for a in listed if a.custom and not a.archived},
        )
        self._loaded.add(model)

    async def _known(self, attempt: Attempt, model: Model) -> dict[str, str]:
        if model not in self._loaded:
            known = await self._store.attributes(model)
            if known:
                self._loaded.add(model)
                return known
            await self.refresh(attempt, model)
        return await self._store.attributes(model)

    async def _create(
        self, attempt: Attempt, model: Model, name: str, value: Any, count: int
    ) -> str | None:
        warnings = attempt.warnings
        if value is None:
            return None
        if not self._settings.auto_create_attributes:
            warnings.append(
                f"{model} attribute {name!r} dropped: it does not exist in Intercom and "
                "auto_create_attributes is off"
            )
            return None
        if count >= self._settings.max_custom_attributes:
            warnings.append(
                f"{model} attribute {name!r} dropped: the workspace has {count} custom "
                "attributes, which is the max_custom_attributes budget"
            )
            return None
        data_type = implied_type(value)
        try:
            await attempt.call(lambda: self._client.create_data_attribute(name, model, data_type))
        except ValidationFailed as error:
            warnings.append(
                f"{model} attribute {name!r} dropped: Intercom would not create it ({error})"
            )
            return None
        await self._store.add_attribute(model, name, data_type)
        return data_type
