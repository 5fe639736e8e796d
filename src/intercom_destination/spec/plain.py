"""The plain shape nearly every event arrives in, checked by msgspec without building it.

A server library's event is plain: its `type` one of Segment's in lower case, its ids and
names strings, its timestamps strings, its objects objects, and no `sentAt` or `receivedAt`
of its own. Reading one the general way (`decode.Arrival.decode_for_storage`) builds every
object in it and checks each field in Python; `read` checks the plain shape, each type's
required fields with it, in one pass of msgspec's C code, and in a second splits the event's
top level into raw values, which are stored as they came. An event that is not plain, valid
or not, is left to the general way, which names its problem if it has one: `read` accepts only
events the general way accepts (tests/spec/test_plain.py holds the two to the same results),
but for what msgspec does not look at in the values it skips: the caller checks the bytes with
`wire.raw_error` first.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, Raw, UnsetType

from intercom_destination.spec.events import MAX_MESSAGE_ID_LENGTH

#: What the general way reads as present: a string that is not empty.
_Filled = Annotated[str, Meta(min_length=1)]


class _Object(msgspec.Struct, gc=False):
    """Any JSON object, its fields skipped unread."""


class _Plain(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    """The fields of a plain event the general way checks, as msgspec checks them; the
    others are skipped."""

    messageId: Annotated[str, Meta(max_length=MAX_MESSAGE_ID_LENGTH - 1)] | None = None
    userId: str | None = None
    anonymousId: str | None = None
    timestamp: str | UnsetType = UNSET
    originalTimestamp: str | UnsetType = UNSET
    # An event with either is not plain: they change how its timestamp is corrected.
    sentAt: UnsetType = UNSET
    receivedAt: UnsetType = UNSET
    context: _Object | None = None
    integrations: _Object | None = None


class _Identify(_Plain, tag="identify"):
    traits: _Object | None = None


class _Track(_Plain, tag="track"):
    event: _Filled
    properties: _Object | None = None


class _Page(_Plain, tag="page"):
    name: str | None = None
    category: str | None = None
    properties: _Object | None = None


class _Screen(_Page, tag="screen"):
    pass


class _Group(_Plain, tag="group"):
    groupId: _Filled
    traits: _Object | None = None


class _Alias(_Plain, tag="alias"):
    previousId: _Filled
    userId: _Filled


Plain = _Identify | _Track | _Page | _Screen | _Group | _Alias

_plain = msgspec.json.Decoder(Plain)
_top_level = msgspec.json.Decoder(dict[str, Raw])


def read(event: bytes | Raw) -> tuple[Plain, dict[str, Raw]] | None:
    """The event's checked fields and its top level's raw values, if it is plain; else None.

    (That its timestamps are readable and it has a userId or an anonymousId is left to the
    caller, which reads them.)
    """
    try:
        return _plain.decode(event), _top_level.decode(event)
    except msgspec.DecodeError:  # a ValidationError too
        return None


#: Each plain class's event type (its tag), looked up by class.
KINDS: dict[type[Plain], str] = {
    cls: str(cls.__struct_config__.tag)
    for cls in (_Identify, _Track, _Page, _Screen, _Group, _Alias)
}
