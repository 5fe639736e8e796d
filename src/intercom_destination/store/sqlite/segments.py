"""The inbox on disk: segment files that events are appended to as they arrive.

Each store appends the events it accepts to a segment file of its own, in a directory next to
the database, one group per commit: the group's bytes, then one `fdatasync`. Nothing else is
written for an event until it is sorted into its lane, so an accepted event costs its own
bytes and a share of a flush (where appending it to a SQLite table cost index and page
upkeep: `python -m bench.inbox`). No two stores write the same file, so the processes of a
fleet never wait for each other to append.

A group is a 12-byte head (the lengths of its summary and of its events, and a CRC-32 of
both), a summary (when it was appended, how many events, the oldest's arrival and their
lanes), then the events, each a MessagePack array. A group cut short by a crash, which was
never acknowledged, fails its lengths or its CRC: reading stops there, and since its writer
is gone nothing follows it.

A segment's writer holds an exclusive `flock` on it for as long as it may append; a segment
nobody holds is sealed, and once sorted to its end it may be deleted.
"""

from __future__ import annotations

import fcntl
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import msgspec

from intercom_destination.store.base import NewEvent

#: A writer moves on to a new segment once its segment holds this many bytes: a segment is
#: deleted whole, once sealed and sorted, so this bounds the disk that sorted events hold.
SEGMENT_BYTES = 64 * 1024 * 1024
SUFFIX = ".segment"

_HEAD = struct.Struct("<III")

#: An event as a segment holds it: messageId, userId, anonymousId, type, receivedAt, body.
Arrived = tuple[str, str | None, str | None, str, float, bytes]


class Summary(msgspec.Struct, array_like=True, frozen=True):
    """What a group holds, readable without its events."""

    #: When the group was appended (Unix nanoseconds, never less than the segment's previous
    #: group's): it orders the groups of different segments.
    stamp: int
    count: int
    #: The earliest arrival among its events (Unix seconds).
    oldest: float
    #: Its events' lanes as they arrived (an anonymous event's is its visitor's).
    lanes: list[str]


class Group(msgspec.Struct, frozen=True):
    """A group read from a segment: `end` is the offset just past it."""

    end: int
    summary: Summary
    events: list[Arrived]


_encode = msgspec.msgpack.Encoder().encode
_summary = msgspec.msgpack.Decoder(Summary)
_events = msgspec.msgpack.Decoder(list[Arrived])


def encode_group(stamp: int, events: list[NewEvent]) -> bytes:
    """The bytes of a group of `events` appended at `stamp`."""
    arrived = _encode(
        [(e.message_id, e.user_id, e.anonymous_id, e.type, e.received_at, e.body) for e in events]
    )
    try:
        # Read back as a sort will: a group it could not read would hold up every sort.
        _events.decode(arrived)
    except msgspec.ValidationError as error:
        raise ValueError(f"an event cannot be stored: {error}") from None
    summary = _encode(
        Summary(
            stamp=stamp,
            count=len(events),
            oldest=min(event.received_at for event in events),
            lanes=list({event.lane: None for event in events}),
        )
    )
    checksum = zlib.crc32(arrived, zlib.crc32(summary))
    return b"".join((_HEAD.pack(len(summary), len(arrived), checksum), summary, arrived))


def read_groups(path: Path, offset: int, *, events: bool = True) -> Iterator[Group]:
    """The whole groups of segment `path` from `offset` on, in order; without `events`, only
    their summaries (and the events' bytes are neither read nor checked). A segment deleted
    meanwhile has none."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        file.seek(offset)
        while True:
            head = file.read(_HEAD.size)
            if len(head) < _HEAD.size:
                return
            summary_size, events_size, checksum = _HEAD.unpack(head)
            summary = file.read(summary_size)
            if not summary_size or len(summary) < summary_size:
                return
            end = offset + _HEAD.size + summary_size + events_size
            if events:
                arrived = file.read(events_size)
                if (
                    len(arrived) < events_size
                    or zlib.crc32(arrived, zlib.crc32(summary)) != checksum
                ):
                    return
            else:
                file.seek(end)
            try:
                group = Group(
                    end, _summary.decode(summary), _events.decode(arrived) if events else []
                )
            except msgspec.DecodeError:
                return
            yield group
            offset = end


def scrub(path: Path, through: int, erases: Callable[[Arrived], bool]) -> int:
    """Overwrite with zeros, and flush, every group of segment `path` that ends by offset
    `through` and holds an event `erases` picks; how many groups were.

    The groups before a segment's mark are sorted, and nothing reads them again: a writer
    appending to the segment meanwhile is not disturbed. A scrubbed group keeps its lengths,
    so that later scrubs find the groups after it; its checksum and bytes are zeros.
    """
    spans: list[tuple[int, int, int]] = []
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return 0
    with file:
        start = 0
        while start < through:
            head = file.read(_HEAD.size)
            if len(head) < _HEAD.size:
                break
            summary_size, events_size, checksum = _HEAD.unpack(head)
            end = start + _HEAD.size + summary_size + events_size
            if not summary_size or end > through:
                break
            summary = file.read(summary_size)
            arrived = file.read(events_size)
            if zlib.crc32(arrived, zlib.crc32(summary)) == checksum and any(
                erases(event) for event in _events.decode(arrived)
            ):
                spans.append((start, summary_size, events_size))
            start = end
    if spans:
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return 0  # sorted to its end and deleted meanwhile: nothing of it is left
        try:
            for start, summary_size, events_size in spans:
                os.pwrite(
                    fd,
                    _HEAD.pack(summary_size, events_size, 0) + bytes(summary_size + events_size),
                    start,
                )
            os.fdatasync(fd)
        finally:
            os.close(fd)
    return len(spans)


def segment_paths(directory: Path) -> list[Path]:
    """The segments in `directory`, by name."""
    return sorted(directory.glob(f"*{SUFFIX}"))


def is_sealed(path: Path) -> bool:
    """Whether no writer holds segment `path` (a deleted one is sealed)."""
    try:
        with path.open("rb") as file:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return True
    except BlockingIOError:
        return False
    return True  # (closing the file let go of the lock)


class SegmentWriter:
    """Appends groups to a segment of its own in `directory`, flushed to disk unless `sync` is
    false, and moves on to a new segment past `SEGMENT_BYTES` or after a failed write."""

    def __init__(self, directory: Path, *, sync: bool = True) -> None:
        self._directory = directory
        self._sync = sync
        self._fd: int | None = None
        #: The current segment, and how many bytes it holds.
        self.path: Path | None = None
        self.size = 0
        self._stamp = 0

    def append(self, events: list[NewEvent], now_ns: int) -> tuple[Path, int]:
        """Append `events` as one group stamped `now_ns` (or just after the last group) and
        flush it; the segment and the offset past the group. If it raises, the group may be
        in the segment, which is then sealed (whole or cut short)."""
        if self._fd is None or self.size >= SEGMENT_BYTES:
            self._start()
        assert self._fd is not None
        assert self.path is not None
        self._stamp = max(now_ns, self._stamp + 1)
        data = encode_group(self._stamp, events)
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"wrote {written} of {len(data)} bytes to {self.path}")
            if self._sync:
                os.fdatasync(self._fd)
        except BaseException:
            self.close()
            raise
        self.size += written
        return self.path, self.size

    def close(self) -> None:
        """Seal the current segment."""
        if self._fd is not None:
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _start(self) -> None:
        self.close()
        self._directory.mkdir(parents=True, exist_ok=True)
        # Named by when it began, for people (sorts order groups by their stamps), and locked
        # before it takes a segment's name, lest a sort take it for a sealed segment.
        fd, name = tempfile.mkstemp(
            dir=self._directory, prefix=f"{time.time_ns()}-{os.getpid()}-", suffix=".new"
        )
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = Path(name).with_suffix(SUFFIX)
        os.rename(name, path)
        if self._sync:
            # The new name must survive a crash as the bytes in it do.
            directory = os.open(self._directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        self._fd, self.path, self.size = fd, path, 0
